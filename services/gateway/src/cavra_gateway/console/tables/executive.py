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


async def fetch(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    return await api.get(RUNS, {"limit": paging.size, "offset": paging.offset})


async def find(api: ConsoleApi, run_id: str) -> tuple[Record | None, ApiAnswer]:
    answer = await api.get(f"{RUNS}/{quote(run_id, safe='')}")
    if not answer.ok or not isinstance(answer.body, Mapping):
        return None, answer
    run = answer.body.get("run")
    metadata = answer.body.get("metadata")
    if not isinstance(run, Mapping):
        return None, answer
    # The listing's shape: the run's metadata with its schedule and summary, not the whole report.
    listed_run = {**(metadata if isinstance(metadata, Mapping) else {}), **{
        key: run[key] for key in ("run_id", "schedule", "summary", "generated_at") if key in run
    }}  # fmt: skip
    return {k: v for k, v in listed_run.items() if k != "run"}, answer


def window_of(record: Record) -> str:
    start = first_text(record, "summary.window_start", "schedule.window_start", "window_start")
    end = first_text(record, "summary.window_end", "schedule.window_end", "window_end")
    return f"{start[:16]} – {end[:16]}".replace("T", " ") if start and end else "—"


def to_row(record: Record) -> Row:
    run_id = first_text(record, "run_id", "session_id")
    status = first_text(record, "summary.status", "status", "alert_level")
    delivered = first_text(record, "summary.delivered_to", "delivered_to")
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
            "delivered": Cell(text=delivered or "—"),
            "generated": Cell(time=first_text(record, "generated_at", "created_at")),
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
        Column("delivered", "Delivered to"),
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
