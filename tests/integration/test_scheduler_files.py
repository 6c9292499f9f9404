"""Start-up file loading: a poisoned entry is reported (file, index, id, fields) and the rest loads.

Before: a proving drill in the history file for a schedule with interval_days 3,000,000 raised
OverflowError out of the loader, so the scheduler never started and /readyz stayed not_ready;
one invalid drill rejected the whole history file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support.harness import FakeClock, gateway_client, running_service

BASE = "/runtime/go-pilot"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def schedule(schedule_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
        "schedule_id": schedule_id,
        "status": "active",
        "interval_days": 30,
        "next_due_at": "2026-11-20T00:00:00Z",
        "owners": ["release-governance"],
        "notification_providers": ["slack"],
        "runbook_ref": "docs/runbook.md",
    } | changes


def drill(drill_id: str, schedule_id: str | None, **changes: Any) -> dict[str, Any]:
    return {
        "drill_id": drill_id,
        "schedule_id": schedule_id,
        "executed_at": "2026-10-31T12:00:00Z",
        "status": "pass",
        "target_mode": "disabled",
        "fallback_verified": True,
        "recovery_minutes": 7,
        "max_recovery_minutes": 15,
        "runbook_ref": "docs/runbook.md",
        "evidence_refs": ["ci://fallback"],
    } | changes


def log_lines(text: str, event: str) -> list[str]:
    return [line for line in ANSI.sub("", text).splitlines() if f" {event} " in f"{line} "]


async def test_a_poisoned_entry_is_reported_and_the_rest_loads_and_the_scheduler_is_ready(
    nats_url: str, database_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    async with running_service("scheduler", nats_url, database_url, clock=clock):
        pass  # migrations only
    conn = await asyncpg.connect(database_url)
    try:  # stored by an older release, before interval_days was bounded
        await conn.execute(
            """INSERT INTO scheduler.schedules (schedule_id, document, source, status, state, evaluated_at)
               VALUES ('legacy', $1::jsonb, 'api', 'ready', '{}'::jsonb, now())""",
            json.dumps(schedule("legacy", interval_days=3_000_000)),
        )
    finally:
        await conn.close()

    schedules = tmp_path / "schedules.json"
    schedules.write_text(
        json.dumps(
            [
                schedule("monthly"),
                schedule("poison", interval_days=3_000_000),
                schedule(
                    "slow-ack",
                    owner_routes={"release-governance": {"acknowledgement_minutes": 99_999_999_999}},
                ),
                "not an object",
                schedule("weekly", interval_days=7),
            ]
        )
    )
    history = tmp_path / "drills.json"
    history.write_text(
        json.dumps(
            {
                "schema_version": "cavra.go-backend-rollback-drill-history.v1",
                "environment": "production-pilot",
                "drills": [
                    drill("d-monthly", "monthly"),
                    drill("d-legacy", "legacy"),  # the OverflowError that stopped the start
                    drill("d-poison", "poison"),  # its schedule was rejected above: unknown
                    drill("d-recovery", "weekly", recovery_minutes=1e12),
                    drill("d-late", None, executed_at="9999-12-31T23:00:00-05:00"),
                    drill("d-weekly", "weekly"),
                ],
            }
        )
    )
    async with (
        running_service(
            "scheduler",
            nats_url,
            database_url,
            clock=clock,
            go_rollback_drill_schedule=str(schedules),
            go_rollback_drill_history=str(history),
        ),
        gateway_client(nats_url, database_url, services=("scheduler",)) as api,
    ):
        ready = await api.get("/readyz")
        assert ready.status_code == 200, ready.text
        listing = (await api.get(f"{BASE}/rollback-drill-schedules")).json()
        assert sorted(item["schedule_id"] for item in listing["items"]) == ["legacy", "monthly", "weekly"]
        drills = (await api.get(f"{BASE}/rollback-drills")).json()
        assert drills["history"]["drill_count"] == 3  # d-monthly, d-legacy, d-weekly
        monthly = (await api.get(f"{BASE}/rollback-drill-schedule", params={"schedule_id": "monthly"})).json()
        assert monthly["schedule"]["next_due_at"] == "2026-11-30T12:00:00+00:00", "advanced by its drill"
        legacy = (await api.get(f"{BASE}/rollback-drill-schedule", params={"schedule_id": "legacy"})).json()
        assert legacy["schedule"]["next_due_at"] == "2026-11-20T00:00:00+00:00", (
            "not advanced past the calendar"
        )

    logs = "".join(capfd.readouterr())
    rejected = log_lines(logs, "schedule_file.entry_rejected")
    assert len(rejected) == 3, rejected
    for index, schedule_id, field in (
        (1, "poison", "interval_days"),
        (2, "slow-ack", "owner_routes.release-governance.acknowledgement_minutes"),
        (3, None, "entry"),
    ):
        line = next(line for line in rejected if f"index={index} " in line)
        assert f"path={schedules}" in line and f"schedule_id={schedule_id}" in line and field in line, line
    drills_rejected = log_lines(logs, "history_file.entry_rejected")
    assert len(drills_rejected) == 3, drills_rejected
    for index, drill_id, field in (
        (2, "d-poison", "schedule_id"),
        (3, "d-recovery", "recovery_minutes"),
        (4, "d-late", "executed_at"),
    ):
        line = next(line for line in drills_rejected if f"index={index} " in line)
        assert f"path={history}" in line and f"drill_id={drill_id}" in line and field in line, line
    loaded = log_lines(logs, "files.loaded")[-1]
    assert "schedules=2" in loaded and "drills=3" in loaded and "rejected=6" in loaded, loaded


async def test_a_file_that_is_unusable_as_a_whole_is_skipped_and_the_scheduler_still_starts(
    nats_url: str, database_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "drills.json"
    history.write_text(json.dumps({"schema_version": "something-else", "drills": [drill("d", None)]}))
    schedules = tmp_path / "schedules.json"
    schedules.write_text(json.dumps([schedule(f"s-{n}") for n in range(1001)]))
    async with (
        running_service(
            "scheduler",
            nats_url,
            database_url,
            clock=FakeClock(),
            go_rollback_drill_schedule=str(schedules),
            go_rollback_drill_history=str(history),
        ),
        gateway_client(nats_url, database_url, services=("scheduler",)) as api,
    ):
        assert (await api.get("/readyz")).status_code == 200
        assert (await api.get(f"{BASE}/rollback-drill-schedules")).json()["total"] == 0
    logs = "".join(capfd.readouterr())
    (history_line,) = log_lines(logs, "history_file.invalid")
    assert f"path={history}" in history_line and "schema_version" in history_line
    (schedule_line,) = log_lines(logs, "schedule_file.invalid")
    assert "1001 schedules" in schedule_line
