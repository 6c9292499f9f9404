"""Benchmark the executive report over a recovery report of 100,000 execution records and 10,000
playbook rows: composition (JSON), the HTML document and the PDF (WeasyPrint), in this process.

The recovery report itself is the delivery service's (``RecoveryReportQueryV1``); this measures what
the reporting service and the gateway add on top of its answer. BENCH_REPEATS (5) runs each; prints
the median. Run: ``.venv/bin/python bench/bench_executive.py``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cavra_gateway.documents import charts, render
from cavra_reporting.executive import report
from cavra_reporting.executive.report import RecoveryAnswer

EXECUTIONS = 100_000
PLAYBOOKS = 10_000
PROVIDERS = 200
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))


def recovery_result(rng: random.Random) -> dict[str, Any]:
    rows = []
    for index in range(PLAYBOOKS):
        status = rng.choice(["closed", "closed", "closed", "open", "breached"])
        rows.append(
            {
                "playbook_id": f"gordackrecovery-{index:016x}",
                "provider": f"provider_{index % PROVIDERS}",
                "slo_status": status,
                "closure_minutes": rng.randint(5, 900) if status == "closed" else None,
            }
        )
    failed = EXECUTIONS // 20
    start = date(2025, 12, 1)
    return {
        "report": {
            "report_id": "gordackretryreport-0000000000000001",
            "execution_count": EXECUTIONS,
            "execution_failed_count": failed,
            "execution_status_counts": {
                "delivered": EXECUTIONS - failed,
                "failed": failed - 100,
                "skipped": 100,
            },
            "recovery_rows": rows,
            "recovery_closed_count": sum(r["slo_status"] == "closed" for r in rows),
            "recovery_open_count": sum(r["slo_status"] != "closed" for r in rows),
            "recovery_slo_breached_count": sum(r["slo_status"] == "breached" for r in rows),
            "provider_summary": [
                {
                    "provider": f"provider_{p}",
                    "execution_count": EXECUTIONS // PROVIDERS,
                    "recovery_playbook_count": PLAYBOOKS // PROVIDERS,
                    "open_recovery_count": 20,
                    "slo_breached_count": 10,
                }
                for p in range(PROVIDERS)
            ],
            "closure_trends": [
                {"date": (start + timedelta(days=d)).isoformat(), "closure_count": rng.randint(0, 40)}
                for d in range(365)
            ],
        },
        "escalation_plan": {
            "plan_id": "gordackrecoveryesc-1",
            "alert_level": "critical",
            "escalation_count": 4000,
            "critical_escalation_count": 2000,
        },
        "statistics": {"closure_count": 120, "closure_minutes_median": 60.0, "closure_minutes_p90": 400.0},
    }


def timed(work: Any) -> tuple[float, Any]:
    results = []
    value = None
    for _ in range(REPEATS):
        began = time.perf_counter()
        value = work()
        results.append(time.perf_counter() - began)
    return statistics.median(results), value


def main() -> None:
    answer = RecoveryAnswer.of(recovery_result(random.Random(7)))
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def compose() -> dict[str, Any]:
        composed = report.executive_report(
            answer, {"closure_count": 100}, generated_at=now, generated_by="bench", recovery_slo_minutes=240
        )
        json.dumps(composed)
        return composed

    compose_s, composed = timed(compose)
    html_s, page = timed(lambda: render.html(composed))
    pdf_s, pdf = timed(lambda: render._pdf_now(page))
    print(f"recovery report: {EXECUTIONS:,} executions, {PLAYBOOKS:,} playbook rows, {PROVIDERS} providers")
    print(f"report JSON (compose + dumps): {compose_s * 1000:.1f} ms ({len(json.dumps(composed)):,} bytes)")
    print(f"HTML with {charts.MAX_ROWS}-row SVG charts: {html_s * 1000:.1f} ms ({len(page):,} bytes)")
    print(f"PDF (WeasyPrint): {pdf_s * 1000:.1f} ms ({len(pdf):,} bytes)")


if __name__ == "__main__":
    main()
