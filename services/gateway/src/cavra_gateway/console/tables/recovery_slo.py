"""Retry Recovery SLO (spec §7.1): one row per provider of the recovery SLO report, from
``GET AD/retry-recovery-report`` — computed by the delivery service on each read and never stored
(the original wrote a report on every refresh).

The report is one answer (its provider summary is bounded by the providers that failed), so the table
is not paged and no column sorts; a row is found again by its provider in a fresh report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters, Paging
from cavra_gateway.console.tables.base import Cell, Column, Record, Row, Table, first_text
from cavra_gateway.console.tables.paths import AD

REPORT: Final = f"{AD}/retry-recovery-report"
PARAMS: Final[dict[str, str | int | bool]] = {"recovery_slo_minutes": 240, "generated_by": "console"}


async def fetch(api: ConsoleApi, _: ConsoleFilters, __: Paging) -> ApiAnswer:
    return await api.get(REPORT, PARAMS)


def _summary(body: Any) -> list[Record]:
    report = body.get("report") if isinstance(body, Mapping) else None
    rows = report.get("provider_summary") if isinstance(report, Mapping) else None
    return [row for row in rows or [] if isinstance(row, Mapping)]


def items(body: Any) -> tuple[list[Record], int | None, bool]:
    rows = _summary(body)
    return rows, len(rows), False


async def find(api: ConsoleApi, provider: str) -> tuple[Record | None, ApiAnswer]:
    answer = await fetch(api, ConsoleFilters(), Paging())
    found = [row for row in _summary(answer.body) if row.get("provider") == provider] if answer.ok else []
    return (found[0] if found else None), answer


def _number(record: Record, *keys: str) -> int:
    return sum(value for key in keys if isinstance(value := record.get(key), int))


def to_row(record: Record) -> Row:
    provider = first_text(record, "provider")
    open_count = _number(record, "open_recovery_count")
    breached = _number(record, "slo_breached_count")
    failed = _number(record, "execution_failed_count", "execution_skipped_count")
    return Row(
        record_id=provider,
        label=f"retry-recovery-{provider}",
        type_label="Recovery SLO row",
        record=record,
        cells={
            "provider": Cell(text=provider),
            "executions": Cell(text=str(_number(record, "execution_count"))),
            "failed": Cell(text=str(failed), tone="bad" if failed else ""),
            "open": Cell(text=str(open_count), tone="attention" if open_count else ""),
            "breached": Cell(text=str(breached), tone="bad" if breached else ""),
            "closure": Cell(time=first_text(record, "latest_closure_at")),
        },
        actions=(),
    )


def _notes(filters: ConsoleFilters) -> list[str]:
    return ["The recovery report covers every provider (SLO 240 minutes)."] if filters.given() else []


TABLE = Table(
    name="recovery_slo",
    title="Retry Recovery SLO",
    view="retries",
    live=("retry", "recovery"),
    empty_text="No retry recovery SLO rows are currently indexed.",
    columns=(
        Column("provider", "Provider"),
        Column("executions", "Executions"),
        Column("failed", "Failed"),
        Column("open", "Open recovery"),
        Column("breached", "SLO breached"),
        Column("closure", "Latest closure"),
    ),
    applies=(),
    fetch=fetch,
    items=items,
    to_row=to_row,
    find=find,
    notes=_notes,
    description="Retry executions and connector recovery per provider against a 240-minute recovery "
    "SLO; computed on each read, never stored, not paged.",
)
