"""Benchmark the recorded-event read models: open and breached recoveries over BENCH_PLAYBOOKS (10,000)
playbooks x BENCH_PLAYBOOK_PROVIDERS (5) providers, and the dashboard that counts them.

Seeds through the service's own event-applying code (``domain.evidence_recorded`` then
``repository.apply``, one transaction per event, as the consumer does, without NATS in between):
every playbook (one a minute, so about a third of the rows are within a 240-minute SLO of the last),
a closure of one provider in three (resolved, mitigated, deferred), and BENCH_EXECUTIONS (20,000)
execution records each announced twice (pending, then delivered or failed: the replacement path).

Then times the dashboard query handler (PostgreSQL and the reply model, BENCH_REQUESTS calls) at
three moments (nothing breached, two thirds breached, everything breached), and prints the plan of
the within-SLO count (breached = the open counter minus it). Loopback only; bounded.
Run: ``.venv/bin/python bench/bench_reporting_evidence.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
from harness import percentile

from cavra_contracts.evidence import EvidenceRecordV1, RecordedEvent
from cavra_contracts.families import AD_KIND, FAMILY_SPECS
from cavra_contracts.reporting import NotificationDashboardQueryV1
from cavra_contracts.subjects import MessageSpec
from cavra_reporting import MIGRATIONS, SERVICE, domain, handlers
from cavra_reporting import repository as repo
from cavra_reporting.domain import EventPosition
from cavra_reporting.evidence_repository import breach_cutoff
from cavra_runtime.db import create_pool
from cavra_runtime.migrate import migrate
from tests.support import reporting_events as ev
from tests.support.servers import session_servers

PLAYBOOKS = int(os.environ.get("BENCH_PLAYBOOKS", "10000"))
PROVIDERS_PER_PLAYBOOK = int(os.environ.get("BENCH_PLAYBOOK_PROVIDERS", "5"))
EXECUTIONS = int(os.environ.get("BENCH_EXECUTIONS", "20000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
APPLIERS = 2
SLO = 240
PROVIDERS = ("splunk", "webhook", "slack", "jira", "servicenow", "teams", "datadog", "sentinel")
CLOSURE_STATES = ("resolved", "mitigated", "deferred")
AUDIT = FAMILY_SPECS["audit"]


class BenchRecordedV1(RecordedEvent):
    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", "bench", "recorded", "cavra.drillops.bench.recorded.v1"
    )


def record(kind: str, session_id: str, minutes: float, **fields: Any) -> BenchRecordedV1:
    return BenchRecordedV1(
        record=EvidenceRecordV1(
            metadata_kind=kind,
            session_id=session_id,
            created_at=ev.at(minutes),
            signer="bench",
            payload_key="payload",
            payload=fields.pop("payload", {}),
            **fields,
        )
    )


def events_of(worker: int) -> list[BenchRecordedV1]:
    """This applier's share of the playbooks, closures and executions."""
    found: list[BenchRecordedV1] = []
    for n in range(worker, PLAYBOOKS, APPLIERS):
        playbook_id = f"gordackrecovery-{n:016x}"
        providers = [PROVIDERS[(n + i) % len(PROVIDERS)] for i in range(PROVIDERS_PER_PLAYBOOK)]
        found.append(
            record(
                f"{AD_KIND}-connector-recovery-playbook",
                playbook_id,
                n,
                providers=providers,
                alert_level="critical",
                hoisted={"playbook_id": playbook_id, "provider_count": len(providers)},
                payload={"provider_playbooks": [{"provider": p, "failure_count": 2} for p in providers]},
            )
        )
        if n % 3 == 0:
            found.append(
                record(
                    f"{AD_KIND}-connector-recovery-closure",
                    f"gordackrecoveryclosure-{n:016x}",
                    n + 30,
                    providers=[providers[0]],
                    hoisted={
                        "playbook_id": playbook_id,
                        "provider": providers[0],
                        "closure_state": CLOSURE_STATES[n % len(CLOSURE_STATES)],
                    },
                )
            )
    for n in range(worker, EXECUTIONS, APPLIERS):
        execution_id = f"gordackretryexec-{n:016x}"
        for minutes, status in ((n / 2, "pending"), (n / 2 + 1, "failed" if n % 10 == 0 else "delivered")):
            found.append(
                record(AUDIT.execution_kind, execution_id, minutes, hoisted={"execution_status": status})
            )
    return found


async def apply_all(database_url: str, worker: int, sequence_base: int) -> int:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": SERVICE})
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=str, schema="pg_catalog")
    applied = 0
    try:
        for n, event in enumerate(events_of(worker)):
            at = EventPosition(sequence_base + n * APPLIERS + worker, ev.at(n))
            change = domain.evidence_recorded(event, at)
            async with conn.transaction():
                await repo.apply(conn, change, at)
            applied += 1
    finally:
        await conn.close()
    return applied


def report(label: str, latencies: list[float], extra: str = "") -> None:
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    print(f"  {label:<34} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms{extra}")


async def measure(database_url: str) -> None:
    pool = await create_pool(database_url, schema=SERVICE, application="bench-reporting-evidence", max_size=2)
    last = ev.at(PLAYBOOKS)
    moments = {
        "nothing breached": ev.at(0),
        "two thirds breached": ev.at(PLAYBOOKS // 3 * 2 + SLO),
        "everything breached": last + timedelta(minutes=SLO + 1),
    }
    try:
        for label, now in moments.items():
            deps = handlers.Deps(pool=pool, clock=lambda now=now: now, recovery_slo_minutes=SLO)
            latencies = []
            body: dict[str, Any] = {}
            for attempt in range(10 + REQUESTS):
                started = time.perf_counter()
                reply = await handlers.dashboard(NotificationDashboardQueryV1(), deps)
                if attempt >= 10:
                    latencies.append((time.perf_counter() - started) * 1000)
                assert reply.ok and reply.result is not None
                body = reply.result
            extra = (
                f"  (open {body['acknowledgement_audit_delivery_recovery_open_count']:,}, breached "
                f"{body['acknowledgement_audit_delivery_recovery_slo_breached_count']:,}, executions "
                f"{body['acknowledgement_audit_delivery_retry_execution_record_count']:,})"
            )
            report(f"dashboard, {label}", latencies, extra)
        async with pool.acquire() as conn:
            plan = await conn.fetch(
                "EXPLAIN (ANALYZE, BUFFERS) "
                "SELECT count(*) FROM recoveries WHERE is_open AND generated_at > $1",
                breach_cutoff(last, SLO),
            )
        print("the within-SLO count, now = the newest playbook:")
        for row in plan:
            print(f"    {row[0]}")
    finally:
        await pool.close()


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="cavra-bench-reporting-evidence-"))
    try:
        with session_servers(root) as servers:
            conn = await asyncpg.connect(servers.database_url)
            try:
                await migrate(conn, SERVICE, MIGRATIONS)
            finally:
                await conn.close()
            print(
                f"seeding {PLAYBOOKS:,} playbooks x {PROVIDERS_PER_PLAYBOOK} providers, closures of one in "
                f"three, {EXECUTIONS:,} execution records announced twice ..."
            )
            started = time.perf_counter()
            counts = await asyncio.gather(
                *(apply_all(servers.database_url, worker, 1) for worker in range(APPLIERS))
            )
            seconds = time.perf_counter() - started
            conn = await asyncpg.connect(servers.database_url)
            try:
                rows = await conn.fetchval("SELECT count(*) FROM reporting.recoveries")
                items = await conn.fetchval("SELECT count(*) FROM reporting.history_items")
                await conn.execute("VACUUM ANALYZE")
            finally:
                await conn.close()
            print(
                f"seeded {sum(counts):,} events in {seconds:.0f}s ({sum(counts) / seconds:.0f} events/s, "
                f"{APPLIERS} appliers): {rows:,} recovery rows, {items:,} history items"
            )
            await measure(servers.database_url)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
