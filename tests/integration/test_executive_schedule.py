"""Scheduled executive reports really run (issue 8 item 6): a daily schedule in Europe/Berlin at 08:00
local fires once at 08:00 local on the day before and the day after the March DST change (07:00, then
06:00 UTC), each run reporting its local day (24 h, then 23 h) and delivered once to the fake webhook
through the real delivery service, with two reporting replicas sharing the cadence.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from cavra_contracts.executive import SCHEDULE_RUN_KIND
from tests.integration.test_executive_api import REPORT, recovery_source, stored_counts, webhook_only
from tests.integration.test_notification_delivery import SIGNING_SECRET
from tests.support.fake_providers import FakeProviders
from tests.support.harness import FakeClock, answering, eventually, gateway_client, running_service
from tests.unit.test_executive_report import recovery_answer

QUIET_SECONDS = 0.5
"""Ten timer ticks: long enough for a run that should not happen to show."""
FAST = {"executive_report_tick_seconds": 0.05, "executive_report_providers": "webhook"}


async def test_a_daily_berlin_schedule_fires_once_at_0800_local_across_the_dst_change(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = webhook_only(fake, tmp_path / "connectors.json")
        async with (
            recovery_source(nats_url, recovery_answer(breached=1)) as source,
            running_service("delivery", nats_url, database_url, connector_config=str(config)),
            running_service("reporting", nats_url, database_url, clock=clock, **FAST),
            running_service("reporting", nats_url, database_url, clock=clock, **FAST),
            gateway_client(nats_url, database_url) as api,
        ):
            await answering(api, f"{REPORT}/schedule-runs")
            defined = await api.post(
                f"{REPORT}/schedule-run",
                json={
                    "schedule": {
                        "interval_minutes": 1440,
                        "time_zone": "Europe/Berlin",
                        "at_local_time": "08:00",
                    },
                },
            )
            assert defined.status_code == 200, defined.text
            assert defined.json()["next_run_at"] == "2026-03-28T07:00:00+00:00"
            assert await stored_counts(database_url) == (1, 1)

            async def scheduled_runs() -> list[dict[str, object]]:
                page = (await api.get(f"{REPORT}/schedule-runs")).json()
                return [item for item in page["items"] if item["trigger"] == "schedule"]

            async def runs_and_webhooks(runs: int) -> bool:
                return len(await scheduled_runs()) == runs and len(fake.requests_for("webhook")) == runs

            asked = len(source.queries)  # the defining run's: this window and the previous one
            clock.now = datetime(2026, 3, 28, 6, 59, tzinfo=UTC)  # 07:59 CET: not yet
            await asyncio.sleep(QUIET_SECONDS)
            assert await scheduled_runs() == []
            assert len(source.queries) == asked

            clock.now = datetime(2026, 3, 28, 7, 0, tzinfo=UTC)  # 08:00 CET
            await eventually(lambda: runs_and_webhooks(1), what="the run of 28 March delivered once")
            first = (await scheduled_runs())[0]
            assert (first["window_start"], first["window_end"]) == (
                "2026-03-26T23:00:00+00:00",  # 27 March, 00:00 CET
                "2026-03-27T23:00:00+00:00",
            )

            asked = len(source.queries)
            clock.now = datetime(2026, 3, 29, 5, 59, tzinfo=UTC)  # 07:59 CEST: not yet
            await asyncio.sleep(QUIET_SECONDS)
            assert len(await scheduled_runs()) == 1
            assert len(source.queries) == asked  # nobody composed a run early

            clock.now = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
            await eventually(lambda: runs_and_webhooks(2), what="the run of 29 March delivered once")
            second = (await scheduled_runs())[0]  # newest first
            assert (second["window_start"], second["window_end"]) == (
                "2026-03-27T23:00:00+00:00",  # 28 March, 00:00 CET ...
                "2026-03-28T23:00:00+00:00",  # 29 March, 00:00 CET (DST starts at 02:00)
            )
            assert second["metadata_kind"] == SCHEDULE_RUN_KIND

            clock.now = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 30 March 08:00 CEST: the 23-hour day
            await eventually(lambda: runs_and_webhooks(3), what="the run of 30 March delivered once")
            third = (await scheduled_runs())[0]
            assert (third["window_start"], third["window_end"]) == (
                "2026-03-28T23:00:00+00:00",
                "2026-03-29T22:00:00+00:00",  # 23 hours
            )
            page = (await api.get(f"{REPORT}/schedule-runs")).json()
            assert page["schedule"]["due_at"] == "2026-03-31T06:00:00+00:00"
            assert page["schedule"]["run_count"] == 3

            bodies = [request.body for request in fake.requests_for("webhook")]
            assert sorted(body["data"]["run_id"] for body in bodies) == sorted(
                str(run["run_id"]) for run in await scheduled_runs()
            )
            assert len(fake.delivered_webhook_ids) == 3  # each delivered exactly once
