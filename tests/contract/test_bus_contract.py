"""The in-memory bus and the NATS bus keep the same promises (one suite, run on both).

Handler tests use :class:`cavra_runtime.testing.InMemoryBus`; this suite is what entitles them to:
typed delivery, de-duplication by message id, redelivery of transient failures, rejection (event +
dead letter) of permanent ones and of undecodable payloads, request/reply, and subscriptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import nats
import pytest

from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.failures import MessageRejectedV1, rejection_subject
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.subjects import COMMAND_STREAM, DEAD_LETTER_STREAM, EVENT_STREAM, MessageSpec
from cavra_runtime.bus import Bus, ConsumerSpec
from cavra_runtime.dispatch import Handler, Message
from cavra_runtime.failures import PermanentError
from cavra_runtime.testing import InMemoryBus
from tests.support.harness import eventually, stored_events
from tests.support.isolation import reset_streams
from tests.support.servers import Servers

SERVICE = "contract"


class PingV1(Contract):
    MESSAGE: ClassVar[MessageSpec] = MessageSpec("cmd", SERVICE, "ping", "test.contract.ping.v1")

    value: int
    fail: str = ""


class PongV1(Contract):
    MESSAGE: ClassVar[MessageSpec] = MessageSpec("evt", SERVICE, "pong", "test.contract.pong.v1")

    value: int


@dataclass
class Adapter:
    bus: Any
    events: Callable[[str], Awaitable[list[Envelope]]]
    dead_letter_count: Callable[[], Awaitable[int]]


async def _nats_dead_letters(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(DEAD_LETTER_STREAM)).state.messages)
    finally:
        await nc.close()


@pytest.fixture(params=["in-memory", "nats"])
async def adapter(request: pytest.FixtureRequest, servers: Servers) -> AsyncIterator[Adapter]:
    if request.param == "in-memory":
        fake = InMemoryBus(SERVICE)

        async def fake_events(subject: str) -> list[Envelope]:
            return [m.envelope() for m in fake.messages(EVENT_STREAM, subject)]

        async def fake_dead() -> int:
            return len(fake.messages(DEAD_LETTER_STREAM))

        yield Adapter(fake, fake_events, fake_dead)
        return
    nats_url = servers.nats_url
    await reset_streams(nats_url)
    bus = await Bus.connect(nats_url, name="contract-test", service=SERVICE)
    await bus.ensure_streams()

    async def nats_events(subject: str) -> list[Envelope]:
        return await stored_events(nats_url, subject)

    async def nats_dead() -> int:
        return await _nats_dead_letters(nats_url)

    try:
        yield Adapter(bus, nats_events, nats_dead)
    finally:
        await bus.close()


SPEC = ConsumerSpec(
    durable="contract-pings",
    stream=COMMAND_STREAM,
    max_deliver=4,
    nak_delays=(0.05, 0.1),
    ack_wait_seconds=2.0,
)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Message[PingV1]] = []
        self.attempts: dict[int, int] = {}

    async def handle(self, message: Message[PingV1]) -> None:
        ping = message.contract
        self.attempts[ping.value] = self.attempts.get(ping.value, 0) + 1
        if ping.fail == "transient_once" and self.attempts[ping.value] == 1:
            raise ConnectionError("lost the database for a moment")
        if ping.fail == "permanent":
            raise PermanentError("never applicable")
        self.seen.append(message)

    @property
    def handlers(self) -> dict[type[Contract], Handler]:
        return {PingV1: self.handle}


async def consuming(adapter: Adapter, recorder: Recorder) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(adapter.bus.run_consumer(SPEC, recorder.handlers, stop))


async def stopped(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, timeout=10)


async def test_a_command_reaches_its_typed_handler_once(adapter: Adapter) -> None:
    recorder = Recorder()
    stop, task = await consuming(adapter, recorder)
    ping = make_envelope(PingV1(value=1), producer="test")
    assert not (await adapter.bus.publish(ping)).duplicate
    assert (await adapter.bus.publish(ping)).duplicate, "the same message id is stored once"

    async def handled() -> bool:
        return len(recorder.seen) == 1

    await eventually(handled, what="the ping")
    await asyncio.sleep(0.2)
    await stopped(stop, task)
    [message] = recorder.seen
    assert isinstance(message.contract, PingV1) and message.contract.value == 1
    assert message.message_id == ping.message_id and message.stream_sequence > 0


async def test_a_transient_failure_is_redelivered_and_then_applied(adapter: Adapter) -> None:
    recorder = Recorder()
    stop, task = await consuming(adapter, recorder)
    await adapter.bus.publish(make_envelope(PingV1(value=2, fail="transient_once"), producer="test"))

    async def applied() -> bool:
        return len(recorder.seen) == 1

    await eventually(applied, what="the redelivered ping")
    await stopped(stop, task)
    assert recorder.attempts[2] == 2 and recorder.seen[0].delivery_attempt == 2


async def test_permanent_and_undecodable_messages_are_rejected_and_the_consumer_moves_on(
    adapter: Adapter,
) -> None:
    recorder = Recorder()
    stop, task = await consuming(adapter, recorder)
    permanent = make_envelope(PingV1(value=3, fail="permanent"), producer="test")
    undecodable = make_envelope(PingV1(value=4), producer="test").model_copy(update={"payload": {"x": 1}})
    healthy = make_envelope(PingV1(value=5), producer="test")
    for envelope in (permanent, undecodable, healthy):
        await adapter.bus.publish(envelope)

    async def settled() -> bool:
        rejected = await adapter.events(rejection_subject(SERVICE))
        return len(recorder.seen) == 1 and len(rejected) == 2

    await eventually(settled, what="two rejections and the healthy ping")
    await stopped(stop, task)
    rejected = {
        e.causation_id: MessageRejectedV1.model_validate(e.payload)
        for e in await adapter.events(rejection_subject(SERVICE))
    }
    assert rejected[permanent.message_id].reason == "permanent"
    assert rejected[undecodable.message_id].reason == "undecodable"
    assert recorder.attempts == {3: 1, 5: 1}, "the undecodable one never reached the handler"
    assert await adapter.dead_letter_count() == 2


async def test_queries_are_answered_and_an_unserved_subject_times_out(adapter: Adapter) -> None:
    async def answer(envelope: Envelope) -> QueryReplyV1:
        return QueryReplyV1(ok=True, result={"echo": envelope.payload["value"]})

    await adapter.bus.serve(PingV1.MESSAGE.subject.replace(".cmd.", ".qry."), answer, queue="contract")
    query = make_envelope(PingV1(value=6), producer="test").model_copy(
        update={"type": PingV1.MESSAGE.subject.replace(".cmd.", ".qry.")}
    )
    reply = await adapter.bus.request(query, timeout=2)
    assert reply.ok and reply.result == {"echo": 6}
    nobody = query.model_copy(update={"type": "cavra.qry.contract.nobody.v1"})
    with pytest.raises(TimeoutError):
        await adapter.bus.request(nobody, timeout=0.5)


async def test_a_subscription_sees_every_published_event(adapter: Adapter) -> None:
    seen: list[Envelope] = []

    async def observe(envelope: Envelope) -> None:
        seen.append(envelope)

    await adapter.bus.listen("cavra.evt.contract.>", observe)
    pong = make_envelope(PongV1(value=7), producer="test")
    await adapter.bus.publish(pong)

    async def observed() -> bool:
        return [e.message_id for e in seen] == [pong.message_id]

    await eventually(observed, what="the pong")
