"""Micro-batching: items submitted by many tasks are handed to one ``flush`` call per batch.

A :class:`Batcher` collects what concurrent callers submit and calls ``flush(items)`` with up to
``max_items`` of them, as soon as that many are waiting or ``max_delay`` seconds after the first
item of the batch arrived, whichever comes first. One flush runs at a time, so items submitted
while it runs form the next batch (group commit). Each caller awaits its own item's result; a
flush that raises fails the callers of that batch only. A caller that is cancelled while it
waits does not take its item back: the item is flushed with its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(RuntimeError):
    """The batcher is not running (never started, closing, or its flush loop died)."""


class Batcher(Generic[T, R]):
    """``async with Batcher(flush) as batcher: result = await batcher.submit(item)``."""

    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_items: int = 256,
        max_delay: float = 0.005,
        name: str = "batcher",
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        if max_delay < 0:
            raise ValueError("max_delay must not be negative")
        self.max_items = max_items
        self.max_delay = max_delay
        self.name = name
        self.flushes = 0
        """Flushes run so far (tests and metrics)."""
        self._flush = flush
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Batcher[T, R]:
        self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def start(self) -> None:
        """Start the flush loop in the running event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        """Flush what is waiting, then stop; later submits raise :class:`BatcherClosed`."""
        self._closing = True
        self._arrived.set()
        self._full.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail(self._pending, BatcherClosed(f"{self.name} closed"))
        self._pending.clear()

    async def submit(self, item: T) -> R:
        """Queue ``item`` for the next flush and wait for its result (or the flush's error)."""
        if self._closing or self._task is None or self._task.done():
            raise BatcherClosed(f"{self.name} is not running")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._arrived.set()
        if len(self._pending) >= self.max_items:
            self._full.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            if not self._full.is_set() and self.max_delay:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.max_delay):
                        await self._full.wait()
            batch = self._pending[: self.max_items]
            del self._pending[: self.max_items]
            if not self._closing:
                if len(self._pending) < self.max_items:
                    self._full.clear()
                if not self._pending:
                    self._arrived.clear()
            if batch:
                await self._deliver(batch)
            elif self._closing:
                return

    async def _deliver(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.flushes += 1
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: flush returned {len(results)} results for {len(batch)}")
        except Exception as exc:
            self._fail(batch, exc)
            return
        except BaseException:  # cancelled: nobody may wait for this batch forever
            self._fail(batch, BatcherClosed(f"{self.name} stopped during a flush"))
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    @staticmethod
    def _fail(batch: Sequence[tuple[T, asyncio.Future[R]]], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
