"""Audit packages in the acknowledgement service: real bootstrap and PostgreSQL, the in-memory bus.

Plans arrive as NotificationPlannedV1 and acknowledgements as RecordAcknowledgementsV1 (the
service's own consumers); audit commands are answered with events read from the fake's streams; the
delivery service's connector list is a fake answer to ConnectorsQueryV1.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from cavra_acknowledgement.audit import chain, dsse, keys
from cavra_cli.main import app
from cavra_contracts.acknowledgements import AcknowledgementsRecordedV1, AckTargetV1
from cavra_contracts.audit import (
    AuditChainQueryV1,
    AuditDeliveryPlannedV1,
    AuditFiltersV1,
    AuditKeysQueryV1,
    AuditPackageGeneratedV1,
    AuditPackageQueryV1,
    AuditRequestRejectedV1,
    AuditScheduleCancelledV1,
    AuditScheduleCreatedV1,
    AuditSchedulesQueryV1,
    CancelAuditScheduleV1,
    DeliverAuditPackageV1,
    GenerateAuditPackageV1,
    chain_export,
)
from cavra_contracts.base import Contract
from cavra_contracts.deliveries import AUDIT_SOURCE, DeliverMessageV1
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.notifications import ConnectorsQueryV1, NotificationPlannedV1
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.subjects import COMMAND_STREAM, EVENT_STREAM
from cavra_runtime.ports import MessageBus
from cavra_runtime.testing import FakeClock, InMemoryBus
from tests.support.acks import OPERATOR, ack, plan_event
from tests.support.harness import eventually, running_service

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
KEY_TEXT = keys.private_pem(KEY).decode()
OUTCOMES = {
    c.MESSAGE.subject
    for c in (
        AuditPackageGeneratedV1,
        AuditDeliveryPlannedV1,
        AuditRequestRejectedV1,
        AuditScheduleCancelledV1,
    )
}


class PlanTracking:
    """Publish a plan as the router does and wait for the acknowledgement service to track it; read its
    tables. For a harness with a ``bus`` and the ``database_url``."""

    bus: MessageBus
    database_url: str

    async def plan(self, planned: NotificationPlannedV1) -> NotificationPlannedV1:
        await self.bus.publish(make_envelope(planned, producer="router"))

        async def tracked() -> bool:
            return (
                await self.scalar(
                    "SELECT count(*) FROM latest_plans WHERE plan_id = $1", planned.plan.plan_id
                )
                == 1
            )

        await eventually(tracked, what="plan tracked")
        return planned

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "acknowledgement"})
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


class Harness(PlanTracking):
    def __init__(self, bus: InMemoryBus, clock: FakeClock, database_url: str) -> None:
        self.bus, self.clock, self.database_url = bus, clock, database_url
        self.routable: list[str] | None = ["splunk", "jira", "webhook"]

    async def connectors(self, _: Envelope) -> QueryReplyV1:
        configured = self.routable is not None
        return QueryReplyV1(
            ok=True, result={"configured": configured, "routable_providers": self.routable or []}
        )

    async def tell(self, command: Contract, *, wanted: str | None = None) -> Envelope:
        envelope = make_envelope(command, producer="gateway")
        await self.bus.publish(envelope)
        found: list[Envelope] = []

        async def answered() -> bool:
            found[:] = [
                m.envelope()
                for m in self.bus.messages(EVENT_STREAM)
                if m.subject in (OUTCOMES if wanted is None else {wanted})
                and m.envelope().causation_id == envelope.message_id
            ]
            return bool(found)

        await eventually(answered, what="the command's outcome")
        return found[0]

    async def acked(self, target: AckTargetV1) -> None:
        await self.tell(ack(target), wanted=AcknowledgementsRecordedV1.MESSAGE.subject)

    async def generated(self, **filters: str) -> AuditPackageGeneratedV1:
        outcome = await self.tell(GenerateAuditPackageV1(filters=AuditFiltersV1(**filters), actor=OPERATOR))
        assert outcome.type == AuditPackageGeneratedV1.MESSAGE.subject, outcome.payload
        return AuditPackageGeneratedV1.model_validate(outcome.payload)

    async def rejected(self, command: Contract) -> AuditRequestRejectedV1:
        outcome = await self.tell(command)
        assert outcome.type == AuditRequestRejectedV1.MESSAGE.subject, outcome.payload
        return AuditRequestRejectedV1.model_validate(outcome.payload)

    async def ask(self, query: Contract) -> dict[str, Any]:
        reply = await self.bus.request(make_envelope(query, producer="test"))
        assert reply.ok and reply.result is not None, reply.error
        return reply.result

    async def package(self, audit_id: str) -> dict[str, Any]:
        stored = await self.ask(AuditPackageQueryV1(audit_id=audit_id))
        document: dict[str, Any] = json.loads(base64.b64decode(stored["envelope"]["payload"]))
        return document

    def jobs(self) -> list[DeliverMessageV1]:
        return [
            DeliverMessageV1.model_validate(m.envelope().payload)
            for m in self.bus.messages(COMMAND_STREAM, DeliverMessageV1.MESSAGE.subject)
        ]


@asynccontextmanager
async def service(database_url: str, **settings: Any) -> AsyncIterator[Harness]:
    bus = InMemoryBus("acknowledgement")
    clock = FakeClock(NOW)
    harness = Harness(bus, clock, database_url)
    await bus.serve(ConnectorsQueryV1.MESSAGE.subject, harness.connectors, queue="delivery")
    settings = {"audit_signing_key": KEY_TEXT, "audit_tick_seconds": 0.05, **settings}
    async with running_service(
        "acknowledgement", "nats://unused", database_url, clock=clock, bus=bus, **settings
    ):
        yield harness


async def test_a_package_covers_the_current_plan_with_each_routes_latest_ack(database_url: str) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-00000000000000a1", NOW, owners=("release-governance", "ops")))
        clock_later = NOW.replace(hour=13)
        newer = await h.plan(
            plan_event("s1", "gordn-00000000000000a2", clock_later, owners=("release-governance", "ops"))
        )
        await h.acked(
            AckTargetV1(
                schedule_id="s1", provider="slack", owner="release-governance", external_ref="CHG-123"
            )
        )
        generated = await h.generated(owner="release-governance")
        assert generated.counts.route_count == 1, "the current plan only, not every historical plan"
        assert generated.counts.acknowledged_count == 1 and generated.alert_level == "healthy"
        assert generated.plan_ids == [newer.plan.plan_id]
        assert (generated.sequence, generated.previous_hash) == (1, "")
        assert generated.key_id == dsse.key_id(KEY.public_key())
        document = await h.package(generated.audit_id)
        route = document["routes"][0]
        assert (route["acknowledged_by"], route["external_ref"]) == ("ops-alice", "CHG-123")
        assert document["generated_by"] == "ops-alice"
        everything = await h.generated()
        assert (everything.counts.route_count, everything.counts.outstanding_count) == (2, 1)
        assert everything.alert_level == "critical"
        assert everything.previous_hash == generated.payload_sha256 and everything.sequence == 2
        keys_answer = await h.ask(AuditKeysQueryV1())
        assert [k["key_id"] for k in keys_answer["keys"]] == [generated.key_id]
        assert KEY_TEXT.splitlines()[1] not in json.dumps(
            [m.envelope().payload for m in h.bus.messages(EVENT_STREAM)]
        )


async def test_an_unknown_schedule_is_refused_and_nothing_is_stored(database_url: str) -> None:
    async with service(database_url) as h:
        rejected = await h.rejected(
            GenerateAuditPackageV1(filters=AuditFiltersV1(schedule_id="nope"), actor=OPERATOR)
        )
        assert rejected.status_code == 404 and rejected.problems[0].field == "schedule_id"
        assert await h.scalar("SELECT count(*) FROM audit_packages") == 0
        assert await h.scalar("SELECT sequence FROM audit_chain_head") == 0


async def test_concurrent_packages_form_one_unbroken_chain(database_url: str) -> None:
    async with service(database_url) as h:
        await h.plan(
            plan_event("s1", "gordn-00000000000000b1", NOW, owners=("a", "b"), providers=("slack", "teams"))
        )
        made = await asyncio.gather(*(h.generated() for _ in range(8)))
        assert sorted(g.sequence for g in made) == list(range(1, 9))
        page = await h.ask(AuditChainQueryV1())
        envelopes = [item["envelope"] for item in page["packages"]]
        trusted = {dsse.key_id(KEY.public_key()): chain.TrustedKey(KEY.public_key())}
        report = chain.verify_chain(envelopes, trusted, page["statement"])
        assert report.ok, report.problems
        assert page["complete"] and page["last_sequence"] == 8


async def test_an_exported_chain_verifies_offline_and_a_removed_package_does_not(
    database_url: str, tmp_path: Path
) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-00000000000000c1", NOW))
        for _ in range(3):
            await h.generated()
        page = await h.ask(AuditChainQueryV1())
        published = await h.ask(AuditKeysQueryV1())
    export = chain_export(
        [item["envelope"] for item in page["packages"]],
        page["statement"],
        published["keys"],
        exported_at=NOW.isoformat(),
    )
    (tmp_path / "keys.json").write_text(json.dumps(published))
    (tmp_path / "chain.json").write_text(json.dumps(export))
    runner = CliRunner()
    ok = runner.invoke(
        app, ["audit", "verify", str(tmp_path / "chain.json"), "--key", str(tmp_path / "keys.json")]
    )
    assert ok.exit_code == 0, ok.output
    del export["packages"][1]
    (tmp_path / "cut.json").write_text(json.dumps(export))
    cut = runner.invoke(
        app, ["audit", "verify", str(tmp_path / "cut.json"), "--key", str(tmp_path / "keys.json")]
    )
    assert cut.exit_code == 1 and "sequence 3 follows 1" in cut.output


async def test_a_delivery_enqueues_one_job_for_the_selected_providers_without_notes(
    database_url: str,
) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-00000000000000d1", NOW, providers=("splunk",)))
        await h.acked(AckTargetV1(schedule_id="s1", provider="splunk", notes="called the customer"))
        command = DeliverAuditPackageV1(delivery_provider="jira,splunk", actor=OPERATOR)
        outcome = await h.tell(command, wanted=AuditDeliveryPlannedV1.MESSAGE.subject)
        planned = AuditDeliveryPlannedV1.model_validate(outcome.payload)
        assert planned.selected_providers == ["splunk", "jira"] and planned.cadence == "on_demand"
        [job] = h.jobs()
        assert job.job_id == planned.delivery_id and job.source == AUDIT_SOURCE
        assert [t.provider for t in job.targets] == ["splunk", "jira"]
        assert "called the customer" not in job.model_dump_json()
        assert job.content.data["signed_package"]["sequence"] == planned.sequence
        assert await h.scalar("SELECT count(*) FROM audit_schedules") == 0


async def test_an_unconfigured_delivery_provider_is_refused_and_nothing_is_stored(database_url: str) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-00000000000000e1", NOW))
        rejected = await h.rejected(DeliverAuditPackageV1(delivery_provider="pagerduty", actor=OPERATOR))
        assert rejected.status_code == 400 and rejected.problems[0].field == "delivery_provider"
        h.routable = None
        unconfigured = await h.rejected(DeliverAuditPackageV1(actor=OPERATOR))
        assert unconfigured.status_code == 400 and unconfigured.problems[0].field == "CAVRA_CONNECTOR_CONFIG"
        assert await h.scalar("SELECT count(*) FROM audit_packages") == 0
        assert h.jobs() == []


async def test_a_cadence_schedules_real_deliveries_until_cancelled(database_url: str) -> None:
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-00000000000000f1", NOW, providers=("webhook",)))
        command = DeliverAuditPackageV1(
            delivery_provider="webhook",
            cadence="hourly",
            schedule_ref="release-governance-hourly",
            actor=OPERATOR,
        )
        outcome = await h.tell(command, wanted=AuditDeliveryPlannedV1.MESSAGE.subject)
        planned = AuditDeliveryPlannedV1.model_validate(outcome.payload)
        assert planned.schedule_ref_id.startswith("gordackauditschedule-")
        assert planned.next_delivery_at == NOW.replace(hour=13).isoformat()
        created = [m for m in h.bus.messages(EVENT_STREAM, AuditScheduleCreatedV1.MESSAGE.subject)]
        assert len(created) == 1
        listed = await h.ask(AuditSchedulesQueryV1())
        assert [s["schedule_ref_id"] for s in listed["items"]] == [planned.schedule_ref_id]
        assert len(h.jobs()) == 1
        h.clock.advance(minutes=59)
        await asyncio.sleep(0.3)
        assert len(h.jobs()) == 1, "not due yet"
        h.clock.advance(minutes=1)

        async def delivered_again() -> bool:
            return len(h.jobs()) == 2

        await eventually(delivered_again, what="the scheduled delivery")
        second = h.jobs()[1]
        assert second.source == AUDIT_SOURCE and second.content.data["delivery_plan"]["cadence"] == "hourly"
        assert second.content.data["signed_package"]["sequence"] == 2
        listed = await h.ask(AuditSchedulesQueryV1())
        item = listed["items"][0]
        assert item["delivery_count"] == 1 and item["next_delivery_at"] == NOW.replace(hour=14).isoformat()
        cancelled = await h.tell(
            CancelAuditScheduleV1(schedule_ref_id=planned.schedule_ref_id, actor=OPERATOR)
        )
        assert cancelled.type == AuditScheduleCancelledV1.MESSAGE.subject
        again = await h.rejected(
            CancelAuditScheduleV1(schedule_ref_id=planned.schedule_ref_id, actor=OPERATOR)
        )
        assert again.status_code == 409
        missing = await h.rejected(
            CancelAuditScheduleV1(schedule_ref_id="gordackauditschedule-0000000000000000", actor=OPERATOR)
        )
        assert missing.status_code == 404
        h.clock.advance(hours=5)
        await asyncio.sleep(0.3)
        assert len(h.jobs()) == 2, "a cancelled schedule delivers nothing more"
        assert (await h.ask(AuditSchedulesQueryV1()))["items"] == []


async def test_a_new_signing_key_ends_the_old_ones_validity_and_both_verify_the_chain(
    database_url: str, tmp_path: Path
) -> None:
    other = Ed25519PrivateKey.generate()
    async with service(database_url) as h:
        await h.plan(plan_event("s1", "gordn-0000000000000091", NOW))
        first = await h.generated()
    async with service(database_url, audit_signing_key=keys.private_pem(other).decode()) as h:
        h.clock.advance(hours=1)
        second = await h.generated()
        published = await h.ask(AuditKeysQueryV1())
        page = await h.ask(AuditChainQueryV1())
    assert second.key_id == dsse.key_id(other.public_key()) != first.key_id
    assert second.previous_hash == first.payload_sha256
    by_id = {k["key_id"]: k for k in published["keys"]}
    assert by_id[first.key_id]["valid_until"] == (NOW.replace(hour=13)).isoformat()
    assert by_id[second.key_id]["valid_until"] is None
    trusted = keys.keys_from_records(published)
    report = chain.verify_chain([item["envelope"] for item in page["packages"]], trusted, page["statement"])
    assert report.ok, report.problems
