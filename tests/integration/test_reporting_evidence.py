"""Recorded events (every ``RecordedEvent``) in the reporting read models, on the real NATS + PostgreSQL:
history items with their metadata_kind and filters, a newer announcement of a record replacing the
older, the dashboard counters of spec §8.6 case 55, open and breached recoveries at the time asked
(FakeClock), pending approvals, any order of the events giving the same tables, and a rebuild giving
the same answers.

The events are built from a ``RecordedEvent`` subclass this test registers in the reporting consumer's
table (``handlers.event_table``), as every recorded event of the registry is.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import asyncpg
import httpx
import pytest

from cavra_contracts.deliveries import MessageDeliveredV1
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.evidence import EvidenceRecordV1, RecordedEvent
from cavra_contracts.families import AD_KIND, EXECUTIVE_REPORT_SOURCE, FAMILY_SPECS
from cavra_contracts.notifications import RouteDeliveryV1
from cavra_contracts.subjects import MessageSpec
from cavra_reporting import evidence_repository, handlers
from cavra_reporting import repository as repo
from cavra_reporting.domain import EventPosition
from cavra_reporting.rebuild import rebuild
from tests.support import reporting_events as ev
from tests.support.harness import (
    FakeClock,
    answering,
    eventually,
    gateway_client,
    running_service,
    service_settings,
)

NP = "/runtime/go-pilot/rollback-drill-notifications"
AUDIT = FAMILY_SPECS["audit"]
RECOVERY_ESCALATION = FAMILY_SPECS["recovery_escalation"]
EXECUTIVE = FAMILY_SPECS["executive_report"]
PLAYBOOK = f"{AD_KIND}-connector-recovery-playbook"
CLOSURE = f"{AD_KIND}-connector-recovery-closure"


class RecordStoredV1(RecordedEvent):
    """A recorded event this test registers (the other engineers' contracts are not on main yet)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "testing", "record_stored", "cavra.drillops.testing.record-stored.v1"
    )


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    changes = {**handlers.CHANGES, **handlers.recorded_events([RecordStoredV1])}
    monkeypatch.setattr(handlers, "CHANGES", changes)
    monkeypatch.setattr(handlers, "EVENTS", handlers.event_table(changes))
    yield


def stored(
    kind: str, session_id: str, minutes: float, *, payload: dict[str, Any] | None = None, **fields: Any
) -> Envelope:
    """The event announcing one stored record, ``minutes`` after T0."""
    record = EvidenceRecordV1(
        metadata_kind=kind,
        session_id=session_id,
        created_at=ev.at(minutes),
        signer=fields.pop("signer", "release-manager"),
        payload_key=kind.removeprefix(f"{AD_KIND}-").replace("-", "_"),
        payload=payload or {"schema_version": f"cavra.go-backend-pilot.{kind}.v1"},
        **fields,
    )
    return make_envelope(RecordStoredV1(record=record), producer="delivery", occurred_at=ev.at(minutes))


def executive_delivered(run_id: str, minutes: float, *, success: bool) -> Envelope:
    job_id = f"exec-{run_id}-{minutes}"
    delivered = MessageDeliveredV1(
        job_id=job_id,
        source=EXECUTIVE_REPORT_SOURCE,
        kind="recovery_executive_report",
        success=success,
        record_id=f"rcd-{job_id}",
        deliveries=[
            RouteDeliveryV1(
                delivery_id=f"{job_id}:webhook",
                route_id="",
                route_key="",
                plan_id="",
                provider="webhook",
                owner="",
                connector="webhook",
                connector_type="webhook",
                target_host="127.0.0.1",
                outcome="delivered" if success else "failed",
                idempotency_key=job_id,
                attempt_count=1,
                status_code=200 if success else 500,
                attempts=[],
                completed_at=None,
            )
        ],
    )
    return make_envelope(delivered, producer="delivery", occurred_at=ev.at(minutes))


def recovery_mix() -> list[Envelope]:
    """A playbook for webhook and splunk at T0 (both open), webhook resolved at T0 + 30 min."""
    return [
        stored(
            PLAYBOOK,
            "gordackrecovery-0001",
            0,
            providers=["splunk", "webhook"],
            alert_level="critical",
            hoisted={"playbook_id": "gordackrecovery-0001", "provider_count": 2, "failure_count": 5},
            payload={
                "generated_at": ev.at(0).isoformat(),
                "provider_playbooks": [
                    {"provider": "splunk", "category": "siem", "failure_count": 2},
                    {"provider": "webhook", "category": "webhook", "failure_count": 3},
                ],
            },
        ),
        stored(
            CLOSURE,
            "gordackrecoveryclosure-0001",
            30,
            providers=["webhook"],
            hoisted={
                "playbook_id": "gordackrecovery-0001",
                "provider": "webhook",
                "closure_state": "resolved",
            },
        ),
    ]


def retry_mix() -> list[Envelope]:
    """Spec §8.6 case 51-55 as records: the audit family's chain (plan, dry and live runs, retry ack,
    approval plan and decision, an execution pending then delivered), a recovery escalation with its
    retries (two executions: delivered, failed), retry health, an executive report, a schedule run and
    two deliveries of it (one failed)."""
    execution = {
        "execution_id": "gordackretryexec-0001",
        "run_id": "gordackworker-0002",
        "provider": "webhook",
    }
    return [
        stored(
            AUDIT.retry_plan_kind,
            "gordackretry-0001",
            40,
            source=AUDIT.source,
            providers=["webhook"],
            alert_level="critical",
            hoisted={
                "retry_plan_id": "gordackretry-0001",
                "retryable_count": 1,
                "audit_id": "gordackaudit-9",
            },
        ),
        stored(
            AUDIT.worker_run_kind,
            "gordackworker-0001",
            41,
            hoisted={"run_id": "gordackworker-0001", "dry_run": True},
            payload={"schedule": {"cadence": "hourly", "interval_minutes": 60}},
        ),
        stored(
            f"{AD_KIND}-retry-ack",
            "gordackretryack-0001",
            42,
            providers=["webhook"],
            acknowledgement_state="accepted",
            hoisted={
                "retry_plan_id": "gordackretry-0001",
                "provider": "webhook",
                "audit_id": "gordackaudit-9",
            },
        ),
        stored(
            f"{AD_KIND}-retry-execution-approval-plan",
            "gordackretryapproval-0001",
            43,
            approval_required_count=1,
            hoisted={"approval_plan_id": "gordackretryapproval-0001", "approved_count": 0},
        ),
        stored(
            f"{AD_KIND}-retry-execution-approval-decision",
            "gordackretryapprovaldecision-0001",
            44,
            signer="approver-2",
            providers=["webhook"],
            hoisted={
                "approval_plan_id": "gordackretryapproval-0001",
                "retry_plan_id": "gordackretry-0001",
                "provider": "webhook",
                "delivery_id": "gordackdelivery-9",
                "approval_state": "approved",
                "external_ref": "CHG-789",
            },
        ),
        stored(
            AUDIT.worker_run_kind,
            "gordackworker-0002",
            45,
            hoisted={"run_id": "gordackworker-0002", "dry_run": False},
            payload={"schedule": {"cadence": "manual_retry"}},
        ),
        stored(
            AUDIT.execution_kind,
            "gordackretryexec-0001",
            45,
            providers=["webhook"],
            hoisted={**execution, "execution_status": "pending"},
        ),
        stored(
            AUDIT.execution_kind,
            "gordackretryexec-0001",
            46,
            providers=["webhook"],
            hoisted={**execution, "execution_status": "delivered", "delivery_success": True},
        ),
        stored(
            f"{AD_KIND}-recovery-escalation-plan",
            "gordackrecoveryesc-0001",
            50,
            providers=["webhook"],
            alert_level="critical",
            hoisted={"plan_id": "gordackrecoveryesc-0001", "escalation_count": 1, "slo_breached_count": 1},
        ),
        stored(
            f"{AD_KIND}-recovery-escalation-ack",
            "gordackrecoveryescack-0001",
            51,
            acknowledgement_state="accepted",
            hoisted={"plan_id": "gordackrecoveryesc-0001", "provider": "webhook"},
        ),
        stored(
            RECOVERY_ESCALATION.retry_plan_kind,
            "gordackrecoveryescretry-0001",
            52,
            hoisted={"retryable_count": 1},
        ),
        stored(
            RECOVERY_ESCALATION.worker_run_kind,
            "gordackrecoveryescworker-0001",
            53,
            hoisted={"dry_run": False},
        ),
        stored(
            RECOVERY_ESCALATION.execution_kind,
            "gordackrecoveryescexec-0001",
            54,
            hoisted={"execution_status": "delivered"},
        ),
        stored(
            RECOVERY_ESCALATION.execution_kind,
            "gordackrecoveryescexec-0002",
            55,
            hoisted={"execution_status": "failed"},
        ),
        stored(
            f"{AD_KIND}-recovery-escalation-retry-health",
            "gordackrecoveryeschealth-0001",
            56,
            alert_level="critical",
            hoisted={"alert_count": 1},
        ),
        stored(
            f"{AD_KIND}-recovery-executive-report",
            "gordackexecreport-0001",
            57,
            hoisted={"escalation_count": 1},
        ),
        stored(f"{AD_KIND}-recovery-executive-report-schedule-run", "gordackexecsched-0001", 58),
        executive_delivered("gordackexecsched-0001", 59, success=False),
        executive_delivered("gordackexecsched-0001", 60, success=True),
    ]


CASE_55 = {
    "acknowledgement_audit_delivery_retry_plan_count": 1,
    "acknowledgement_audit_delivery_retryable_count": 1,
    "acknowledgement_audit_delivery_worker_run_count": 2,
    "acknowledgement_audit_delivery_worker_dry_run_count": 1,
    "acknowledgement_audit_delivery_worker_executed_count": 1,
    "acknowledgement_audit_delivery_retry_ack_count": 1,
    "acknowledgement_audit_delivery_retry_execution_approval_plan_count": 1,
    "acknowledgement_audit_delivery_retry_execution_approval_decision_count": 1,
    "acknowledgement_audit_delivery_retry_execution_approved_count": 1,
    "acknowledgement_audit_delivery_retry_execution_approval_pending_count": 0,
    "acknowledgement_audit_delivery_retry_execution_record_count": 1,
    "acknowledgement_audit_delivery_retry_execution_success_count": 1,
    "acknowledgement_audit_delivery_retry_execution_failed_count": 0,
    "acknowledgement_audit_delivery_connector_recovery_playbook_count": 1,
    "acknowledgement_audit_delivery_connector_recovery_closure_count": 1,
    "acknowledgement_audit_delivery_connector_recovery_closed_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_plan_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_route_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_ack_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_retry_plan_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_retryable_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_retry_worker_run_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_retry_execution_record_count": 2,
    "acknowledgement_audit_delivery_recovery_escalation_retry_execution_success_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_retry_execution_failed_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_retry_health_count": 1,
    "acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_count": 1,
    "acknowledgement_audit_delivery_recovery_executive_report_count": 1,
    "acknowledgement_audit_delivery_recovery_executive_report_schedule_run_count": 1,
    "acknowledgement_audit_delivery_recovery_executive_report_delivery_count": 2,
    "failed_acknowledgement_audit_delivery_recovery_executive_report_delivery_count": 1,
}


async def _page(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get(NP, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _dashboard(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get(f"{NP}/dashboard")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _settle(nats_url: str) -> None:
    async def settled() -> bool:
        return await ev.settled(nats_url)

    await eventually(settled, what="the reporting consumer to settle every event")


async def test_recoveries_open_breach_at_the_time_asked_and_close(nats_url: str, database_url: str) -> None:
    playbook, closure = recovery_mix()
    clock = FakeClock(ev.at(10))
    await ev.publish(nats_url, [playbook])
    async with (
        running_service("reporting", nats_url, database_url, clock=clock, recovery_slo_minutes=120),
        gateway_client(nats_url, database_url, services=("reporting",)) as api,
    ):
        await _settle(nats_url)
        board = await _dashboard(api)
        assert (
            board["acknowledgement_audit_delivery_recovery_open_count"],
            board["recovery_slo_minutes"],
        ) == (2, 120)
        assert board["acknowledgement_audit_delivery_recovery_slo_breached_count"] == 0
        assert board["alert_level"] == "healthy"
        clock.now = ev.at(120) + timedelta(seconds=59)  # age 120 min: not past the SLO (strict)
        assert (await _dashboard(api))["acknowledgement_audit_delivery_recovery_slo_breached_count"] == 0
        clock.now = ev.at(121)
        board = await _dashboard(api)
        assert board["acknowledgement_audit_delivery_recovery_slo_breached_count"] == 2
        assert board["alert_level"] == "critical"
        assert board["breached_recoveries"] == [
            {
                "playbook_id": "gordackrecovery-0001",
                "provider": p,
                "generated_at": ev.at(0).isoformat(),
                "closure_state": "open",
            }
            for p in ("splunk", "webhook")
        ]
        await ev.publish(nats_url, [closure])
        await _settle(nats_url)
        board = await _dashboard(api)
        assert board["acknowledgement_audit_delivery_recovery_open_count"] == 1  # splunk is still open
        assert board["acknowledgement_audit_delivery_recovery_slo_breached_count"] == 1
        assert [row["provider"] for row in board["breached_recoveries"]] == ["splunk"]
        history = await _page(api, metadata_kind=PLAYBOOK)
        [item] = history["items"]
        assert (
            item["playbook_id"] == "gordackrecovery-0001"
            and item["connector_recovery_playbook"]["provider_playbooks"][0]["provider"] == "splunk"
        )
        assert (await _page(api, provider="webhook", metadata_kind=CLOSURE))["total"] == 1


async def test_every_record_kind_in_the_history_and_the_dashboard_and_a_rebuild_answers_the_same(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock(ev.at(70))
    mix = [*recovery_mix(), *retry_mix()]
    await ev.publish(nats_url, mix)
    async with gateway_client(nats_url, database_url, services=("reporting",)) as api:
        async with running_service("reporting", nats_url, database_url, clock=clock):
            await _settle(nats_url)
            board = await _dashboard(api)
            assert {key: board[key] for key in CASE_55} == CASE_55
            assert board["acknowledgement_audit_delivery_recovery_open_count"] == 1
            assert board["alert_level"] == "critical"  # a failed execution, a failed delivery
            everything = await _page(api, limit=200)
            assert everything["total"] == len(mix) - 1, (
                "the execution record's second announcement replaced the first"
            )
            kinds = {item["metadata_kind"] for item in everything["items"]}
            recorded_kinds = {
                envelope.payload["record"]["metadata_kind"]
                for envelope in mix
                if "record" in envelope.payload
            }
            assert kinds == recorded_kinds | {"release-connector-delivery"}
            executions = await _page(api, metadata_kind=AUDIT.execution_kind)
            assert executions["total"] == 1
            assert executions["items"][0]["execution_status"] == "delivered"
            assert (await _page(api, metadata_kind=AUDIT.execution_kind, provider="webhook"))["total"] == 1
            assert (await _page(api, audit_id="gordackaudit-9"))["total"] == 2
            assert [i["session_id"] for i in (await _page(api, cadence="hourly"))["items"]] == [
                "gordackworker-0001"
            ]
            assert (await _page(api, delivery_id="gordackdelivery-9"))["total"] == 1
            assert (await _page(api, acknowledgement_state="accepted"))["total"] == 2
            assert (await _page(api, connector_delivery_source=AUDIT.source))["total"] >= 1
            assert (
                await _page(api, connector_delivery_source=EXECUTIVE_REPORT_SOURCE, delivery_success="false")
            )["total"] == 1
            executive = await _page(api, family="executive_report")
            assert executive["total"] == 2
            assert {i["metadata_kind"] for i in executive["items"]} == {"release-connector-delivery"}
            audit = await _page(api, family="audit")  # every acknowledgement-audit kind (spec §3.9)
            assert audit["total"] == everything["total"] - 2
            assert (await _page(api, family="audit", connector_delivery_source=EXECUTIVE_REPORT_SOURCE))[
                "total"
            ] == 0
            assert (await _page(api, family="audit", connector_delivery_source=AUDIT.source))[
                "total"
            ] == audit["total"]
            unknown = await api.get(NP, params={"family": "fax"})
            assert unknown.status_code == 422 and "family" in unknown.text
            before = [
                (await api.get(f"{NP}/dashboard")).content,
                (await api.get(NP, params={"limit": 200})).content,
            ]
        replayed = await rebuild(service_settings("reporting", nats_url, database_url), timeout=60)
        assert replayed.events == len(mix)
        async with running_service("reporting", nats_url, database_url, clock=clock):
            after = [
                (await answering(api, f"{NP}/dashboard")).content,
                (await api.get(NP, params={"limit": 200})).content,
            ]
    assert after == before


def _changes(envelopes: Sequence[Envelope]) -> list[tuple[Any, EventPosition]]:
    found = []
    for sequence, envelope in enumerate(envelopes, start=1):
        contract_cls = next(c for c in handlers.CHANGES if c.MESSAGE.subject == envelope.type)
        at = EventPosition(sequence, envelope.occurred_at)
        found.append((handlers.CHANGES[contract_cls](contract_cls.model_validate(envelope.payload), at), at))
    return found


TABLES = {
    "history_items": "item_id",
    "item_providers": "item_id, provider",
    "counters": "name",
    "recoveries": "playbook_id, provider",
    "approval_plans": "approval_plan_id",
    "approval_decisions": "decision_id",
    "read_model_state": "id",
}


async def _applied(conn: asyncpg.Connection, changes: list[tuple[Any, EventPosition]]) -> dict[str, Any]:
    await conn.execute(f"TRUNCATE {', '.join(t for t in TABLES if t != 'read_model_state')}")
    await conn.execute("UPDATE read_model_state SET latest_event_at = NULL")
    for change, at in changes:
        async with conn.transaction():
            await repo.apply(conn, change, at)
    return {
        table: [tuple(row) for row in await conn.fetch(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in TABLES.items()
    }


async def test_any_order_and_any_repetition_of_recorded_events_gives_the_same_tables(
    database_url: str,
) -> None:
    mix = [*recovery_mix(), *retry_mix()]
    # a reopened closure after the resolution, and the same record announced twice at one time
    mix += [
        stored(
            CLOSURE,
            "gordackrecoveryclosure-0002",
            65,
            hoisted={
                "playbook_id": "gordackrecovery-0001",
                "provider": "webhook",
                "closure_state": "reopened",
            },
        ),
        stored(AUDIT.retry_plan_kind, "gordackretry-0002", 66, hoisted={"retryable_count": 2}),
        stored(AUDIT.retry_plan_kind, "gordackretry-0002", 66, hoisted={"retryable_count": 5}),
    ]
    changes = _changes(mix)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "reporting"})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=str, schema="pg_catalog")
    try:
        in_order = await _applied(conn, changes)
        counted = dict(row[:2] for row in in_order["counters"])
        assert counted["recoveries:open"] == 2, "webhook reopened, splunk never closed"
        assert counted["evidence:acknowledgement_audit_delivery_retryable_count"] == 1 + 5, (
            "the later sequence won"
        )
        assert counted[f"kind:{AUDIT.execution_kind}"] == 1
        assert counted["evidence:acknowledgement_audit_delivery_retry_execution_success_count"] == 1
        assert "evidence:acknowledgement_audit_delivery_retry_execution_failed_count" not in counted
        shuffler = random.Random(11)
        for _ in range(6):
            shuffled = changes + shuffler.sample(changes, k=6)  # some events twice
            shuffler.shuffle(shuffled)
            assert await _applied(conn, shuffled) == in_order
        assert await _applied(conn, list(reversed(changes))) == in_order
    finally:
        await conn.close()


async def test_approvals_pending_are_the_newest_plans_required_retries_not_yet_decided(
    database_url: str,
) -> None:
    approval_plan = f"{AD_KIND}-retry-execution-approval-plan"
    decision_kind = f"{AD_KIND}-retry-execution-approval-decision"

    def decision(n: int, plan_id: str, provider: str, state: str, minutes: float) -> Envelope:
        return stored(
            decision_kind,
            f"gordackretryapprovaldecision-{n}",
            minutes,
            hoisted={"approval_plan_id": plan_id, "provider": provider, "approval_state": state},
        )

    first = [
        stored(approval_plan, "gordackretryapproval-a", 0, approval_required_count=3),
        decision(1, "gordackretryapproval-a", "webhook", "approved", 1),
        decision(2, "gordackretryapproval-a", "webhook", "denied", 2),  # the same retry decided again
        decision(3, "gordackretryapproval-a", "splunk", "deferred", 3),  # not decided
    ]
    newer = [
        stored(approval_plan, "gordackretryapproval-b", 10, approval_required_count=1),
        decision(4, "gordackretryapproval-a", "jira", "approved", 11),  # of the older plan
    ]
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "reporting"})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=str, schema="pg_catalog")
    try:
        await _applied(conn, _changes(first))
        before = await evidence_repository.evidence_state(conn, ev.at(20), 240)
        await _applied(conn, _changes([*first, *newer]))
        after = await evidence_repository.evidence_state(conn, ev.at(20), 240)
    finally:
        await conn.close()
    assert before.approvals_pending == 3 - 1, "webhook decided (twice), splunk deferred: 2 of 3 wait"
    assert after.approvals_pending == 1, "the newest plan counts, and no decision of it was made"
