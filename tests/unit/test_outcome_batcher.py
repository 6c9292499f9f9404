"""The micro-batcher under the outcome writer: when it flushes, what callers get, how it fails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from cavra_runtime.batching import Batcher, BatcherClosed


class Recorder:
    """A flush that remembers its batches and answers each item with ``item * 10``."""

    def __init__(self, *, delay: float = 0.0, fail: BaseException | None = None) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.fail = fail
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail is not None:
                raise self.fail
            return [item * 10 for item in items]
        finally:
            self.in_flight -= 1


async def test_concurrent_submits_share_one_flush_and_each_gets_its_own_result() -> None:
    flush = Recorder()
    async with Batcher(flush, max_items=100, max_delay=0.01) as batcher:
        results = await asyncio.gather(*(batcher.submit(n) for n in range(20)))
    assert results == [n * 10 for n in range(20)]
    assert flush.batches == [list(range(20))]


async def test_a_full_batch_is_flushed_at_once_without_waiting_for_the_delay() -> None:
    flush = Recorder()
    async with Batcher(flush, max_items=4, max_delay=10.0) as batcher:
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(batcher.submit(n) for n in range(8))), timeout=2)
        assert time.monotonic() - started < 1.0
    assert flush.batches == [[0, 1, 2, 3], [4, 5, 6, 7]]


async def test_a_lone_item_waits_at_most_the_delay() -> None:
    flush = Recorder()
    async with Batcher(flush, max_items=256, max_delay=0.05) as batcher:
        started = time.monotonic()
        assert await batcher.submit(7) == 70
        waited = time.monotonic() - started
    assert 0.04 <= waited < 0.5
    assert flush.batches == [[7]]


async def test_items_arriving_during_a_flush_form_the_next_batch_one_flush_at_a_time() -> None:
    flush = Recorder(delay=0.05)
    async with Batcher(flush, max_items=256, max_delay=0.0) as batcher:
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0.01)  # the first flush is running now
        rest = await asyncio.gather(*(batcher.submit(n) for n in range(2, 6)))
        assert await first == 10
    assert rest == [20, 30, 40, 50]
    assert flush.batches == [[1], [2, 3, 4, 5]]
    assert flush.most_in_flight == 1


async def test_a_failing_flush_fails_its_batch_only() -> None:
    calls = 0

    async def flaky(items: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return list(items)

    async with Batcher(flaky, max_items=2, max_delay=0.0) as batcher:
        first = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
        assert all(isinstance(result, ConnectionError) for result in first), "the original error class"
        assert await batcher.submit(3) == 3, "the batcher keeps going"


async def test_a_cancelled_caller_does_not_take_its_item_back() -> None:
    flush = Recorder(delay=0.05)
    async with Batcher(flush, max_items=256, max_delay=0.01) as batcher:
        waiting = asyncio.create_task(batcher.submit(1))
        other = asyncio.create_task(batcher.submit(2))
        await asyncio.sleep(0.02)  # both are in the running flush
        waiting.cancel()
        assert await other == 20
    assert flush.batches == [[1, 2]]
    assert waiting.cancelled()


async def test_close_flushes_what_waits_and_later_submits_are_refused() -> None:
    flush = Recorder()
    batcher: Batcher[int, int] = Batcher(flush, max_items=256, max_delay=10.0)
    batcher.start()
    pending = [asyncio.create_task(batcher.submit(n)) for n in range(3)]
    await asyncio.sleep(0)
    await batcher.close()
    assert [await task for task in pending] == [0, 10, 20]
    with pytest.raises(BatcherClosed):
        await batcher.submit(4)


async def test_a_flush_answering_the_wrong_number_of_results_fails_the_batch() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        return list(items)[:1]

    async with Batcher(short, max_items=2, max_delay=0.0) as batcher:
        results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
