"""The acknowledgement service's real bootstrap and handlers on the in-memory bus, real PostgreSQL.

Plans arrive as NotificationPlannedV1 events, commands as RecordAcknowledgementsV1; the answers
are read from the fake's event stream and the route states query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from cavra_acknowledgement import recording
from cavra_contracts.acknowledgements import (
    MAX_SCOPE_ROUTES,
    AcknowledgementRejectedV1,
    AcknowledgementsRecordedV1,
    AckTargetV1,
    RouteScopeV1,
    RouteStatesQueryV1,
    acknowledgement_id,
)
from cavra_contracts.base import Contract
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_contracts.subjects import EVENT_STREAM
from cavra_runtime.db import create_pool
from cavra_runtime.dispatch import Message
from cavra_runtime.testing import FakeClock, InMemoryBus
from tests.support.acks import ack, plan_event
from tests.support.harness import eventually, running_service

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
OUTCOMES = (AcknowledgementsRecordedV1.MESSAGE.subject, AcknowledgementRejectedV1.MESSAGE.subject)


class Harness:
    def __init__(self, bus: InMemoryBus, clock: FakeClock, database_url: str) -> None:
        self.bus = bus
        self.clock = clock
        self.database_url = database_url

    async def plan(self, planned: NotificationPlannedV1) -> NotificationPlannedV1:
        await self.bus.publish(make_envelope(planned, producer="router"))
        plan_id = planned.plan.plan_id

        async def tracked() -> bool:
            return await self.scalar("SELECT count(*) FROM plans WHERE plan_id = $1", plan_id) == 1

        await eventually(tracked, what=f"plan {plan_id} tracked")
        return planned

    async def tell(self, command: Contract, message_id: str | None = None) -> Envelope:
        envelope = make_envelope(command, producer="gateway", message_id=message_id)
        await self.bus.publish(envelope)
        found: list[Envelope] = []

        async def answered() -> bool:
            found[:] = [
                m.envelope()
                for m in self.bus.messages(EVENT_STREAM)
                if m.subject in OUTCOMES and m.envelope().causation_id == envelope.message_id
            ]
            return bool(found)

        await eventually(answered, what="the command's outcome")
        return found[0]

    async def recorded(self, command: Contract) -> AcknowledgementsRecordedV1:
        outcome = await self.tell(command)
        assert outcome.type == AcknowledgementsRecordedV1.MESSAGE.subject, outcome.payload
        return AcknowledgementsRecordedV1.model_validate(outcome.payload)

    async def rejected(self, command: Contract) -> AcknowledgementRejectedV1:
        outcome = await self.tell(command)
        assert outcome.type == AcknowledgementRejectedV1.MESSAGE.subject, outcome.payload
        return AcknowledgementRejectedV1.model_validate(outcome.payload)

    async def states(self, **scope: Any) -> dict[str, Any]:
        query = RouteStatesQueryV1(scope=RouteScopeV1(**scope), limit=500)
        reply = await self.bus.request(make_envelope(query, producer="test"))
        assert reply.ok and reply.result is not None
        return reply.result

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "acknowledgement"})
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


@asynccontextmanager
async def service(database_url: str) -> AsyncIterator[Harness]:
    bus = InMemoryBus("acknowledgement")
    clock = FakeClock(NOW)
    async with running_service("acknowledgement", "nats://unused", database_url, clock=clock, bus=bus):
        yield Harness(bus, clock, database_url)


def slack_route(planned: NotificationPlannedV1, owner: str) -> str:
    return next(d.route_id for d in planned.plan.deliverable() if d.owner == owner and d.provider == "slack")


async def test_an_ack_covers_every_owner_of_the_provider_in_the_current_plan(database_url: str) -> None:
    async with service(database_url) as h:
        planned = await h.plan(
            plan_event("s1", "gordn-0000000000000001", NOW, owners=("a", "b"), providers=("slack", "teams"))
        )
        recorded = await h.recorded(ack(AckTargetV1(schedule_id="s1", provider="slack")))
        assert recorded.acknowledgement_count == 2
        assert {a.owner for a in recorded.acknowledgements} == {"a", "b"}
        first = recorded.acknowledgements[0]
        assert first.acknowledged_by == "ops-alice" and first.previous_state == "outstanding"
        assert first.plan_id == planned.plan.plan_id and first.acknowledgement_id.startswith("gordack-")
        assert recorded.bulk_id == f"gordbulkack-2-{first.acknowledgement_id}"
        states = await h.states(schedule_id="s1")
        assert states["total"] == 4
        by_provider = {(r["provider"], r["owner"]): r["state"] for r in states["items"]}
        assert by_provider[("slack", "a")] == "acknowledged"
        assert by_provider[("teams", "a")] == "outstanding"
        owner_only = await h.recorded(ack(AckTargetV1(schedule_id="s1", provider="teams", owner="b")))
        assert [a.owner for a in owner_only.acknowledgements] == ["b"]


async def test_an_ack_of_an_old_plan_never_clears_the_newer_plan(database_url: str) -> None:
    async with service(database_url) as h:
        old = await h.plan(plan_event("s1", "gordn-00000000000000a1", NOW))
        h.clock.advance(minutes=10)
        new = await h.plan(plan_event("s1", "gordn-00000000000000a2", NOW.replace(minute=10)))
        # an older plan arriving late does not become current
        await h.plan(plan_event("s1", "gordn-00000000000000a0", NOW.replace(hour=11)))
        by_plan = await h.recorded(
            ack(AckTargetV1(schedule_id="s1", provider="slack", plan_id=old.plan.plan_id))
        )
        assert by_plan.acknowledgements[0].route_id == slack_route(old, "team-a")
        by_route = await h.recorded(ack(AckTargetV1(route_id=slack_route(old, "team-a")), state="resolved"))
        assert by_route.acknowledgements[0].previous_state == "acknowledged"
        [current] = (await h.states(schedule_id="s1"))["items"]
        assert current["plan_id"] == new.plan.plan_id and current["state"] == "outstanding"
        latest = await h.recorded(ack(AckTargetV1(schedule_id="s1", provider="slack")))
        assert latest.acknowledgements[0].plan_id == new.plan.plan_id
        # the same generated_at: the later one in the stream is current
        tie = await h.plan(plan_event("s1", "gordn-00000000000000a3", NOW.replace(minute=10)))
        [current] = (await h.states(schedule_id="s1"))["items"]
        assert current["plan_id"] == tie.plan.plan_id and current["state"] == "outstanding"


async def test_escalated_and_dismissed_stay_outstanding_and_breach_by_the_clock(database_url: str) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-0000000000000001", NOW, owners=("a", "b", "c")))
        await h.recorded(ack(AckTargetV1(schedule_id="s1", provider="slack", owner="a"), state="escalated"))
        await h.recorded(ack(AckTargetV1(schedule_id="s1", provider="slack", owner="b"), state="resolved"))
        minutes = (await h.states())["items"][0]["acknowledgement_minutes"]
        assert (await h.states(breached=True))["total"] == 0
        h.clock.advance(minutes=minutes)  # age == SLO: breached (inclusive)
        breached = await h.states(breached=True)
        assert sorted(r["owner"] for r in breached["items"]) == ["a", "c"]
        assert all(r["breached"] and not r["acknowledged"] for r in breached["items"])
        escalated = await h.recorded(
            ack(mode="scope", scope=RouteScopeV1(breached=True), expected_count=2, state="escalated")
        )
        assert sorted(a.previous_state for a in escalated.acknowledgements) == ["escalated", "outstanding"]


async def test_a_command_is_all_or_nothing_and_names_the_field(database_url: str) -> None:
    async with service(database_url) as h:
        planned = await h.plan(plan_event("s1", "gordn-0000000000000001", NOW))
        good = AckTargetV1(schedule_id="s1", provider="slack")
        cases = [
            (AckTargetV1(schedule_id="s1", provider="teams"), "routes[1].provider"),
            (AckTargetV1(schedule_id="nope", provider="slack"), "routes[1].schedule_id"),
            (AckTargetV1(schedule_id="s1", provider="slack", plan_id="gordn-x"), "routes[1].plan_id"),
            (AckTargetV1(schedule_id="s1", provider="slack", owner="nobody"), "routes[1].owner"),
            (AckTargetV1(route_id="gordroute-missing"), "routes[1].route_id"),
        ]
        for bad, field in cases:
            rejected = await h.rejected(ack(good, bad, mode="bulk"))
            assert rejected.status_code == 404
            assert [p.field for p in rejected.problems] == [field]
        single = await h.rejected(ack(AckTargetV1(schedule_id="s1", provider="jira")))
        assert single.problems[0].field == "provider"
        assert await h.scalar("SELECT count(*) FROM acknowledgements") == 0
        assert await h.scalar("SELECT count(*) FROM routes WHERE state <> 'outstanding'") == 0
        assert planned.plan.plan_id


async def test_scope_refusals_and_one_time_links(database_url: str) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-0000000000000001", NOW, owners=("a", "b")))
        changed = await h.rejected(ack(mode="scope", scope=RouteScopeV1(schedule_id="s1"), expected_count=3))
        assert (changed.status_code, changed.problems[0].field) == (409, "expected_count")
        empty = await h.rejected(ack(mode="scope", scope=RouteScopeV1(owner="nobody")))
        assert (empty.status_code, empty.problems[0].field) == (404, "scope")
        target = AckTargetV1(schedule_id="s1", provider="slack", owner="a")
        await h.recorded(ack(target, mode="ack_link", link_id="link-1"))
        again = await h.rejected(ack(target, mode="ack_link", link_id="link-1"))
        assert (again.status_code, again.problems[0].field) == (409, "link_id")
        assert await h.scalar("SELECT count(*) FROM acknowledgements") == 1


async def test_a_redelivered_command_stores_nothing_twice(database_url: str) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-0000000000000001", NOW))
        command = ack(AckTargetV1(schedule_id="s1", provider="slack"))
        envelope = make_envelope(command, producer="gateway")
        pool = await create_pool(database_url, schema="acknowledgement", application="test")
        try:
            writer = recording.CommandWriter(pool, h.clock)
            # a redelivery after a lost ack: the same message again, in the same batch and in a later one
            first = await writer.flush(
                [Message(command, envelope), Message(command, envelope, delivery_attempt=2)]
            )
            later = await writer.flush([Message(command, envelope, delivery_attempt=3)])
        finally:
            await pool.close()
        assert [a.recorded is not None for a in first] == [True, False]
        assert all(isinstance(a, recording.Applied) and a.duplicate for a in [first[1], *later])
        assert await h.scalar("SELECT count(*) FROM acknowledgements") == 1
        assert await h.scalar("SELECT count(*) FROM outbox") == 1, "one event, not a second"
        stored = await h.scalar("SELECT acknowledgement_id FROM acknowledgements")
        assert stored == acknowledgement_id(envelope.message_id, (await h.states())["items"][0]["route_id"])


async def test_a_scope_wider_than_the_limit_is_refused_whole(database_url: str) -> None:
    async with service(database_url) as h:
        owners = tuple(f"o{n}" for n in range(MAX_SCOPE_ROUTES // 2 + 1))
        for index in range(2):  # two current plans: one route more than a scope may touch
            await h.plan(plan_event(f"s{index}", f"gordn-00000000000001a{index}", NOW, owners=owners))
        assert (await h.states())["total"] == MAX_SCOPE_ROUTES + 2
        wide = await h.rejected(ack(mode="scope", scope=RouteScopeV1(provider="slack")))
        assert (wide.status_code, wide.problems[0].field) == (409, "scope")
        narrow = await h.recorded(ack(mode="scope", scope=RouteScopeV1(schedule_id="s0")))
        assert narrow.acknowledgement_count == len(owners)
        assert await h.scalar("SELECT count(*) FROM acknowledgements") == len(owners)



async def test_a_batch_applies_each_schedules_commands_in_order(database_url: str) -> None:
    async with service(database_url) as h:
        for n in range(4):
            await h.plan(plan_event(f"s{n}", f"gordn-000000000000002{n}", NOW))
        commands = [
            ack(AckTargetV1(schedule_id=f"s{n % 4}", provider="slack"), state=state)
            for state in ("escalated", "resolved")
            for n in range(4)
        ]
        pool = await create_pool(database_url, schema="acknowledgement", application="test")
        try:
            writer = recording.CommandWriter(pool, h.clock)
            applied = await writer.flush([Message(c, make_envelope(c, producer="gateway")) for c in commands])
        finally:
            await pool.close()
        recorded = [a.recorded for a in applied if isinstance(a, recording.Applied)]
        assert len(recorded) == 8 and all(r is not None for r in recorded)
        for command, result in zip(commands, recorded, strict=True):
            assert result is not None
            assert result.acknowledgements[0].schedule_id == command.targets[0].schedule_id
            assert result.acknowledgement_state == command.acknowledgement_state
        assert [r.acknowledgements[0].previous_state for r in recorded[4:] if r] == ["escalated"] * 4
        assert await h.scalar("SELECT count(*) FROM outbox") == 8
        assert {item["state"] for item in (await h.states())["items"]} == {"resolved"}
