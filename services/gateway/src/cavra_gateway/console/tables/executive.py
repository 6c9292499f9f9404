"""Executive reports (spec §7.1, §7.5): the stored schedule runs of the executive recovery report,
newest first, from ``GET AD/recovery-executive-report/schedule-runs`` (a row found again by
``GET .../schedule-runs/{run_id}``), each with links to its report as an HTML page and as a PDF.

The links go to the console's document routes (:mod:`cavra_gateway.console.documents`), which fetch
the API's document as the signed-in actor: the API itself needs a bearer token a browser tab lacks.
The runs API does not sort, so no column is sortable.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters, Paging
from cavra_gateway.console.tables.base import (
    Cell,
    Column,
    Link,
    Record,
    Row,
    Table,
    first_text,
    listed,
    status_cell,
)
from cavra_gateway.console.tables.paths import EXECUTIVE

RUNS = f"{EXECUTIVE}/schedule-runs"
DOCUMENTS = "/console/documents/executive-runs"
RUN_PAYLOAD = "recovery_executive_report_schedule_run"
"""Where a run's metadata record embeds the whole run (its report included)."""


async def fetch(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    return await api.get(RUNS, {"limit": paging.size, "offset": paging.offset})


async def find(api: ConsoleApi, run_id: str) -> tuple[Record | None, ApiAnswer]:
    answer = await api.get(f"{RUNS}/{quote(run_id, safe='')}")
    body = answer.body if answer.ok and isinstance(answer.body, Mapping) else {}
    run, metadata = body.get("run"), body.get("metadata")
    if not isinstance(run, Mapping) or not isinstance(metadata, Mapping):
        return None, answer
    # The listing's shape: the run's metadata with its schedule and summary, without the report.
    listed_run = {key: value for key, value in metadata.items() if key != RUN_PAYLOAD}
    return listed_run | {"schedule": run.get("schedule"), "summary": run.get("summary")}, answer


def window_of(record: Record) -> str:
    start = first_text(record, "window_start", "schedule.window_start")
    end = first_text(record, "window_end", "schedule.window_end")
    return f"{start[:16]} – {end[:16]}".replace("T", " ") if start and end else "—"


def to_row(record: Record) -> Row:
    run_id = first_text(record, "run_id", "session_id")
    status = first_text(record, "alert_level")
    documents = f"{DOCUMENTS}/{quote(run_id, safe='')}"
    return Row(
        record_id=run_id,
        label=run_id,
        type_label="Executive report schedule run",
        record=record,
        cells={
            "run": Cell(text=run_id, mono=True),
            "window": Cell(text=window_of(record)),
            "status": status_cell(status),
            "escalations": Cell(text=first_text(record, "summary.escalation_count") or "0"),
            "cadence": Cell(text=first_text(record, "cadence", "schedule.cadence")),
            "generated": Cell(time=first_text(record, "created_at")),
            "documents": Cell(
                links=(
                    Link("HTML", f"{documents}.html", new_tab=True),
                    Link("PDF", f"{documents}.pdf", download=True),
                )
            ),
        },
        actions=("deliver_executive_run",),
    )


TABLE = Table(
    name="executive_runs",
    title="Executive reports",
    view="executive",
    live=("executive",),
    empty_text="No executive report schedule runs are currently indexed.",
    columns=(
        Column("run", "Run"),
        Column("window", "Window"),
        Column("status", "Status"),
        Column("escalations", "Escalations"),
        Column("cadence", "Cadence"),
        Column("generated", "Generated"),
        Column("documents", "Report"),
    ),
    applies=(),
    fetch=fetch,
    items=listed("items"),
    to_row=to_row,
    find=find,
    description="Stored schedule runs of the executive recovery report, newest first; each opens as an "
    "HTML page or downloads as a PDF.",
)
