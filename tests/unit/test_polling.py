"""cavra_runtime.polling.poll: a failed step is retried next tick, a full batch runs again at once."""

from __future__ import annotations

import asyncio

from cavra_runtime.polling import poll


async def test_a_failing_step_is_retried_and_a_full_batch_runs_again_without_waiting() -> None:
    stop = asyncio.Event()
    results: list[int | Exception] = [RuntimeError("database away"), 5, 5, 1]
    calls = 0

    async def step() -> int:
        nonlocal calls
        calls += 1
        result = results.pop(0) if results else 0
        if not results:
            stop.set()
        if isinstance(result, Exception):
            raise result
        return result

    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(poll(step, stop, tick_seconds=0.2, failed_event="test.failed", batch=5), 5)
    assert calls == 4
    # One tick after the failure, none after the two full batches, none after the stop.
    assert 0.2 <= loop.time() - started < 0.6
