"""The ports a service's bootstrap depends on: a message bus and a PostgreSQL pool.

:class:`cavra_runtime.bus.Bus` (NATS) and :class:`cavra_runtime.testing.InMemoryBus` both satisfy
:class:`MessageBus`; a bootstrap receives an :class:`Infrastructure` and never builds its own
connections, so a test can hand it the in-memory bus and a clock of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

import asyncpg

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.subjects import StreamSpec
from cavra_runtime.bus import ConsumerSpec, Published, QueryHandler
from cavra_runtime.dispatch import Handler


class MessageBus(Protocol):
    """What services use of the bus: publish, request/reply, subscriptions, durable consumers."""

    @property
    def connected(self) -> bool: ...

    @property
    def max_payload(self) -> int: ...

    async def ensure_streams(self, streams: Sequence[StreamSpec] = ...) -> None: ...

    async def publish(self, envelope: Envelope) -> Published: ...

    async def publish_stored(
        self, items: Sequence[tuple[str, bytes, dict[str, str]]], *, timeout: float = ...
    ) -> list[BaseException | None]: ...

    async def request(self, envelope: Envelope, *, timeout: float = ...) -> QueryReplyV1: ...

    async def serve(
        self, subject: str, handler: QueryHandler, *, queue: str, concurrency: int = ...
    ) -> None: ...

    async def listen(self, subject: str, callback: Callable[[Envelope], Awaitable[None]]) -> None: ...

    async def run_consumer(
        self, spec: ConsumerSpec, handlers: Mapping[type[Contract], Handler], stop: asyncio.Event
    ) -> None: ...

    async def close(self) -> None: ...


class Infrastructure(Protocol):
    """The live dependencies a bootstrap wires handlers to."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def bus(self) -> MessageBus: ...
