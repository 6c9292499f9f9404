"""The schedule and drill-history surface end to end: gateway -> JetStream -> scheduler -> PostgreSQL."""

from __future__ import annotations

from typing import Any

from cavra_contracts.scheduler import ScheduleEvaluatedV1, ScheduleUpsertedV1
from cavra_contracts.schedules import RollbackDrillScheduleReportV1
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events

BASE = "/runtime/go-pilot"


def schedule(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "environment": "production-pilot",
        "status": "active",
        "interval_days": 30,
        "next_due_at": "2026-12-20T12:00:00Z",
        "owners": ["release-governance"],
        "notification_providers": ["slack", "teams"],
        "runbook_ref": "docs/runbook.md",
    }
    body.update(changes)
    return body


def drill(drill_id: str, executed_at: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "drill_id": drill_id,
        "executed_at": executed_at,
        "status": "pass",
        "source_mode": "promoted",
        "target_mode": "disabled",
        "fallback_verified": True,
        "recovery_minutes": 7,
        "max_recovery_minutes": 15,
        "runbook_ref": "docs/runbook.md",
        "evidence_refs": ["go-rollback-drill://ci/python-fallback-restored"],
    }
    body.update(changes)
    return body


async def test_put_get_and_list_schedules(nats_url: str, database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        gateway_client(nats_url, database_url) as api,
    ):
        created = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=schedule())
        assert created.status_code == 201, created.text
        assert created.json()["schedule"]["status"] == "ready"
        assert created.json()["schedule"]["days_until_due"] == 49.0

        due_soon = await api.put(
            f"{BASE}/rollback-drill-schedules/weekly", json=schedule(next_due_at="2026-11-05T12:00:00Z")
        )
        assert due_soon.status_code == 201
        assert due_soon.json()["schedule"]["status"] == "due_soon"

        replaced = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=schedule(status="paused"))
        assert replaced.status_code == 200
        assert replaced.json()["schedule"]["version"] == 2
        assert replaced.json()["schedule"]["status"] == "needs_attention"

        report = await api.get(f"{BASE}/rollback-drill-schedule")
        assert report.status_code == 200
        parsed = RollbackDrillScheduleReportV1.model_validate(report.json())
        assert parsed.schedule.schedule_id == "monthly"  # the first one created
        assert parsed.status == "needs_attention"

        one = await api.get(f"{BASE}/rollback-drill-schedule", params={"schedule_id": "weekly"})
        assert one.json()["status"] == "due_soon"
        assert one.json()["schedule"]["days_until_due"] == 4.0

        missing = await api.get(f"{BASE}/rollback-drill-schedule", params={"schedule_id": "nope"})
        assert missing.status_code == 404
        assert "nope" in missing.json()["detail"]

        listing = (await api.get(f"{BASE}/rollback-drill-schedules")).json()
        assert listing["total"] == 2
        assert [item["schedule_id"] for item in listing["items"]] == ["monthly", "weekly"]
        assert [item["status"] for item in listing["items"]] == ["needs_attention", "due_soon"]

    upserts = await stored_events(nats_url, ScheduleUpsertedV1.MESSAGE.subject)
    assert [(e.payload["schedule_id"], e.payload["created"]) for e in upserts] == [
        ("monthly", True),
        ("weekly", True),
        ("monthly", False),
    ]
    assert all(e.causation_id for e in upserts), "every event names the command that caused it"


async def test_malformed_schedule_is_rejected_and_nothing_is_half_replaced(
    nats_url: str, database_url: str
) -> None:
    async with (
        running_service("scheduler", nats_url, database_url, clock=FakeClock()),
        gateway_client(nats_url, database_url) as api,
    ):
        assert (await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=schedule())).status_code == 201
        bad = schedule(
            schema_version="cavra.go-backend-rollback-drill-schedule.v2",
            interval_days=0,
            owners=[],
            notification_providers=[],
            maintenance_windows={"window_id": "x"},
            next_due_at="not a time",
        )
        del bad["runbook_ref"]
        response = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=bad)
        assert response.status_code == 422
        fields = {error["field"] for error in response.json()["errors"]}
        assert fields == {
            "schema_version",
            "interval_days",
            "owners",
            "notification_providers",
            "maintenance_windows",
            "next_due_at",
            "runbook_ref",
        }
        for name in fields:
            assert name in response.json()["detail"]

        window = {"window_id": "freeze", "start_at": "yesterday", "end_at": "2026-11-02T00:00:00Z"}
        nested = await api.put(
            f"{BASE}/rollback-drill-schedules/monthly", json=schedule(maintenance_windows=[window])
        )
        assert nested.status_code == 422
        assert nested.json()["errors"][0]["field"] == "maintenance_windows.0.start_at"

        mismatch = await api.put(
            f"{BASE}/rollback-drill-schedules/monthly", json=schedule(schedule_id="other")
        )
        assert mismatch.status_code == 422 and mismatch.json()["errors"][0]["field"] == "schedule_id"

        not_an_object = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=[1, 2])
        assert not_an_object.status_code == 422

        report = (await api.get(f"{BASE}/rollback-drill-schedule", params={"schedule_id": "monthly"})).json()
        assert report["schedule"]["interval_days"] == 30.0
        assert report["schedule"]["runbook_ref"] == "docs/runbook.md"
        assert report["status"] == "ready"


async def test_recording_a_passing_drill_moves_the_schedule_forward(nats_url: str, database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock),
        gateway_client(nats_url, database_url) as api,
    ):
        await api.put(
            f"{BASE}/rollback-drill-schedules/monthly", json=schedule(next_due_at="2026-10-30T12:00:00Z")
        )
        stale = (await api.get(f"{BASE}/rollback-drill-schedule")).json()
        assert stale["status"] == "needs_attention" and stale["schedule"]["stale"] is True

        unverified = drill("d-unverified", "2026-11-01T09:00:00Z", fallback_verified=False)
        unverified_response = await api.post(f"{BASE}/rollback-drills", json=unverified)
        assert unverified_response.json()["advanced_schedule_id"] is None, "no verified fallback, no proof"
        failed = await api.post(
            f"{BASE}/rollback-drills", json=drill("d-failed", "2026-11-01T10:00:00Z", status="fail")
        )
        assert failed.status_code == 201
        assert failed.json()["advanced_schedule_id"] is None, "a failed drill proves nothing"
        assert failed.json()["drill"]["schedule_id"] == "monthly", "defaults to the only/first schedule"

        passed = await api.post(f"{BASE}/rollback-drills", json=drill("d-pass", "2026-11-01T11:00:00Z"))
        assert passed.status_code == 201
        assert passed.json()["advanced_schedule_id"] == "monthly"
        assert passed.json()["next_due_at"] == "2026-12-01T11:00:00+00:00"

        ready = (await api.get(f"{BASE}/rollback-drill-schedule")).json()
        assert ready["status"] == "ready"
        assert ready["schedule"]["next_due_at"] == "2026-12-01T11:00:00+00:00"

        history = (await api.get(f"{BASE}/rollback-drills")).json()
        assert history["schema_version"] == "cavra.go-backend-pilot.rollback-drill-history.v1"
        assert history["history"]["drill_count"] == 3
        assert history["history"]["latest_drill_id"] == "d-pass"
        assert history["status"] == "ready"

        unknown = await api.post(
            f"{BASE}/rollback-drills", json=drill("d-x", "2026-11-01T12:00:00Z", schedule_id="nope")
        )
        assert unknown.status_code == 404
        assert unknown.json()["errors"][0]["field"] == "schedule_id"
        invalid = await api.post(f"{BASE}/rollback-drills", json={"drill_id": "d-y", "executed_at": "soon"})
        assert invalid.status_code == 422
        assert {e["field"] for e in invalid.json()["errors"]} == {"executed_at", "status"}
        history = (await api.get(f"{BASE}/rollback-drills")).json()
        assert history["history"]["drill_count"] == 3, "rejected drills are not stored"

    changes = await stored_events(nats_url, ScheduleEvaluatedV1.MESSAGE.subject)
    assert [(e.payload["previous_status"], e.payload["status"]) for e in changes] == [
        (None, "needs_attention"),
        ("needs_attention", "ready"),
    ]


async def test_command_is_kept_while_the_scheduler_is_down(nats_url: str, database_url: str) -> None:
    async with gateway_client(
        nats_url, database_url, command_wait_seconds=0.3, services=("scheduler",)
    ) as api:
        accepted = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=schedule())
        assert accepted.status_code == 202
        assert accepted.json()["poll"].endswith("schedule_id=monthly")
        down = await api.get(f"{BASE}/rollback-drill-schedule")
        assert down.status_code == 503
        not_ready = await api.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["services"]["scheduler"]["status"] == "not answering"

        async with running_service("scheduler", nats_url, database_url, clock=FakeClock()):

            async def applied() -> bool:
                response = await api.get(f"{BASE}/rollback-drill-schedule", params={"schedule_id": "monthly"})
                return response.status_code == 200

            await eventually(applied, what="the queued command to be applied")
            ready = await api.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["services"]["scheduler"]["checks"]["database"] == "ok"
            assert (await api.get("/healthz")).json() == {"status": "ok"}


async def test_idempotency_key_applies_a_repeated_request_once(nats_url: str, database_url: str) -> None:
    async with (
        running_service("scheduler", nats_url, database_url, clock=FakeClock()),
        gateway_client(nats_url, database_url, command_wait_seconds=2) as api,
    ):
        headers = {"Idempotency-Key": "put-monthly-1"}
        first = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=schedule(), headers=headers)
        again = await api.put(f"{BASE}/rollback-drill-schedules/monthly", json=schedule(), headers=headers)
        assert first.status_code == 201
        assert again.status_code == 201, "the repeat gets the first answer; it is not applied a second time"
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        listing = (await api.get(f"{BASE}/rollback-drill-schedules")).json()
        assert listing["items"][0]["version"] == 1
