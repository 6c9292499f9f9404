"""The executive report as a document: escaped HTML with server-side SVG charts, and a PDF whose text
says what the report says."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pypdf

from cavra_gateway.documents import charts, render
from cavra_reporting.executive import report
from cavra_reporting.executive.report import RecoveryAnswer
from tests.unit.test_executive_report import recovery_answer

HOSTILE = '<script>alert("x")</script>'


def composed(**counts: Any) -> dict[str, Any]:
    answer = recovery_answer(**counts)
    answer["report"]["provider_summary"] = [
        {
            "provider": HOSTILE,
            "recovery_playbook_count": 5,
            "open_recovery_count": 3,
            "slo_breached_count": 1,
        },
        {
            "provider": "webhook",
            "recovery_playbook_count": 2,
            "open_recovery_count": 0,
            "slo_breached_count": 0,
        },
    ]
    return report.executive_report(
        RecoveryAnswer.of(answer),
        {"closure_count": 1},
        generated_at=datetime(2026, 3, 29, 6, tzinfo=UTC),
        generated_by="ops",
        recovery_slo_minutes=240,
    )


def test_the_html_escapes_every_value_and_draws_three_charts_without_javascript() -> None:
    page = render.html(composed(failed=1, breached=1, closure_minutes=(20, 40)))
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert "<script" not in page
    assert page.count("<svg") == 3
    assert "Retry execution failed or was skipped" in page
    assert "Closure time median" in page and "30.0 min" in page


def test_slo_state_bars_split_closed_open_and_breached() -> None:
    chart = charts.slo_state(
        [
            {
                "provider": "jira",
                "recovery_playbook_count": 5,
                "open_recovery_count": 3,
                "slo_breached_count": 1,
            }
        ]
    )
    assert "<title>closed: 2</title>" in chart
    assert "<title>open: 2</title>" in chart
    assert "<title>breached: 1</title>" in chart
    empty = charts.execution_outcomes({})
    assert "no data" in empty


def test_the_closure_trend_is_oldest_first_and_bounded() -> None:
    days = [{"date": f"2026-01-{d:02d}", "closure_count": d} for d in range(31, 0, -1)]
    chart = str(charts.closure_trend(days + [{"date": "2025-12-31", "closure_count": 9}]))
    assert chart.index("2026-01-01") < chart.index("2026-01-31")
    assert "2025-12-31" not in chart  # the newest MAX_ROWS days


async def test_the_pdf_says_what_the_report_says() -> None:
    document = composed(breached=2, opened=1)
    pdf = await render.pdf(render.html(document))
    assert pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "CAVRA recovery executive report" in text
    assert document["executive_report_id"] in text
    assert "Connector recovery SLO breached" in text
    assert report.FIRST_ACTION_ESCALATE in text.replace("\n", " ")
