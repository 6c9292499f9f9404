"""The scheduler under failure and scale-out: SIGKILL mid-stream, two replicas, restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import asyncpg

from cavra_contracts.envelope import make_envelope
from cavra_contracts.scheduler import (
    CommandRejectedV1,
    DrillRunRecordedV1,
    RecordDrillRunV1,
    ScheduleEvaluatedV1,
    ScheduleUpsertedV1,
    UpsertScheduleV1,
)
from cavra_contracts.schedules import DrillRunV1, RollbackDrillScheduleV1
from cavra_runtime.bus import Bus
from tests.support.harness import FakeClock, eventually, running_service, stored_events

SCHEDULE = {
    "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
    "schedule_id": "monthly",
    "interval_days": 30,
    "next_due_at": "2026-11-21T12:00:00Z",
    "owners": ["release-governance"],
    "notification_providers": ["slack"],
    "runbook_ref": "docs/runbook.md",
}


def start_scheduler(nats_url: str, database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAVRA_")}
    env |= {
        "CAVRA_NATS_URL": nats_url,
        "CAVRA_DATABASE_URL": database_url,
        "CAVRA_SCHEDULER_TICK_SECONDS": "0.2",
        "CAVRA_ACK_WAIT_SECONDS": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cavra_scheduler"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def count_drills(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM scheduler.drill_runs"))
    finally:
        await conn.close()


async def test_sigkill_mid_stream_loses_nothing_once_restarted(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    total = 300
    bus = await Bus.connect(nats_url, name="test-publisher")
    await bus.ensure_streams()
    process = start_scheduler(nats_url, database_url, tmp_path / "scheduler.log")
    try:
        schedule = RollbackDrillScheduleV1.model_validate(SCHEDULE)
        await bus.publish(make_envelope(UpsertScheduleV1(schedule=schedule), producer="test"))
        for index in range(total):
            drill = DrillRunV1(
                drill_id=f"drill-{index:04d}",
                executed_at="2026-11-01T00:00:00Z",  # type: ignore[arg-type]
                status="pass",
                schedule_id="monthly",
            )
            await bus.publish(make_envelope(RecordDrillRunV1(drill=drill), producer="test"))

        async def some_applied() -> bool:
            return await count_drills(database_url) >= 30

        await eventually(some_applied, timeout=30, what="the scheduler to be mid-stream")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = await count_drills(database_url)
        assert killed_at < total, "killed mid-stream (raise total if the machine got faster)"

        process = start_scheduler(nats_url, database_url, tmp_path / "scheduler.log")

        async def all_applied() -> bool:
            return await count_drills(database_url) == total

        try:
            await eventually(all_applied, timeout=60, what="every drill after the restart")
        except AssertionError:
            info = await bus.js.consumer_info("CAVRA_COMMANDS", "scheduler-commands")
            conn = await asyncpg.connect(database_url)
            have = {r["drill_id"] for r in await conn.fetch("SELECT drill_id FROM scheduler.drill_runs")}
            inbox = await conn.fetchval("SELECT count(*) FROM scheduler.inbox")
            await conn.close()
            lost = sorted(f"drill-{i:04d}" for i in range(total) if f"drill-{i:04d}" not in have)
            raise AssertionError(
                f"{len(have)} of {total} drills applied; lost {lost}; inbox {inbox}; {info}"
            ) from None

        async def all_published() -> bool:
            return len(await stored_events(nats_url, DrillRunRecordedV1.MESSAGE.subject)) >= total

        await eventually(all_published, timeout=30, what="every event relayed")
        await asyncio.sleep(0.5)
        events = await stored_events(nats_url, DrillRunRecordedV1.MESSAGE.subject)
        per_drill = Counter(e.payload["drill"]["drill_id"] for e in events)
        assert len(per_drill) == total and set(per_drill.values()) == {1}, "each drill recorded exactly once"
        assert await stored_events(nats_url, CommandRejectedV1.MESSAGE.subject) == [], "applied in order"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        await bus.close()
    assert process.returncode == 0, "SIGTERM stops the service cleanly"


async def test_two_replicas_share_the_timer_and_fire_each_change_once(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()  # 2026-11-01T12:00Z; schedule due 2026-11-21T12:00Z, due-soon horizon 14 days
    async with (
        running_service("scheduler", nats_url, database_url, clock=clock) as first,
        running_service("scheduler", nats_url, database_url, clock=clock),
    ):
        schedule = RollbackDrillScheduleV1.model_validate(SCHEDULE)
        await first.bus.publish(make_envelope(UpsertScheduleV1(schedule=schedule), producer="test"))

        async def changes() -> list[tuple[str | None, str]]:
            events = await stored_events(nats_url, ScheduleEvaluatedV1.MESSAGE.subject)
            return [(e.payload["previous_status"], e.payload["status"]) for e in events]

        async def reached(expected: list[tuple[str | None, str]]) -> bool:
            return await changes() == expected

        await eventually(lambda: reached([(None, "ready")]), what="first evaluation")
        clock.advance(days=5, hours=23)  # 14 days 1 hour before due: not yet due soon
        await asyncio.sleep(0.5)
        assert await changes() == [(None, "ready")], "no event without a change"
        clock.advance(hours=2)  # 13 days 23 hours before due
        await eventually(lambda: reached([(None, "ready"), ("ready", "due_soon")]), what="due soon")
        clock.advance(days=15)  # one day overdue
        await eventually(
            lambda: reached([(None, "ready"), ("ready", "due_soon"), ("due_soon", "needs_attention")]),
            what="stale",
        )
        await asyncio.sleep(0.5)
        events = await stored_events(nats_url, ScheduleEvaluatedV1.MESSAGE.subject)
        assert [e.payload["trigger"] for e in events] == ["schedule_upserted", "timer", "timer"]
        assert events[-1].payload["report"]["schedule"]["stale"] is True
        assert events[-1].payload["alert_level"] == "critical"


async def test_files_are_loaded_once_across_restarts(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    schedules = tmp_path / "schedules.json"
    schedules.write_text(
        json.dumps(
            [
                SCHEDULE,
                {**SCHEDULE, "schedule_id": "weekly", "interval_days": 7},
                {**SCHEDULE, "schedule_id": "broken", "interval_days": -1},
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
                    {"drill_id": "d1", "executed_at": "2026-10-30T00:00:00Z", "status": "pass"},
                    {
                        "drill_id": "d2",
                        "executed_at": "2026-10-31T00:00:00Z",
                        "status": "pass",
                        "schedule_id": "monthly",
                    },
                    {
                        "drill_id": "d3",
                        "executed_at": "2026-10-31T00:00:00Z",
                        "status": "pass",
                        "schedule_id": "ghost",
                    },
                ],
            }
        )
    )
    files = {"go_rollback_drill_schedule": str(schedules), "go_rollback_drill_history": str(history)}
    for _ in range(2):
        async with running_service("scheduler", nats_url, database_url, clock=FakeClock(), **files):
            pass
    async with running_service("scheduler", nats_url, database_url, clock=FakeClock(), **files):
        await asyncio.sleep(0.3)
    upserts = await stored_events(nats_url, ScheduleUpsertedV1.MESSAGE.subject)
    assert sorted(e.payload["schedule_id"] for e in upserts) == ["monthly", "weekly"], "broken one is skipped"
    assert {e.payload["source"] for e in upserts} == {f"file:{schedules}"}
    recorded = await stored_events(nats_url, DrillRunRecordedV1.MESSAGE.subject)
    assert [e.payload["drill"]["drill_id"] for e in recorded] == ["d1", "d2"], "ghost's drill is skipped"
