"""The console's partial views (htmx swaps them in): one card group, one table page, one row, one
row's detail panel; and the exports of a table under its current filters (CSV, JSON) and of one row
(JSON). Every one is rendered from a fresh API answer; an API failure renders as that failure."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response, StreamingResponse

from cavra_gateway.console import cards
from cavra_gateway.console.current import SignedIn
from cavra_gateway.console.filters import ConsoleFilters, Paging
from cavra_gateway.console.pages import page_context, table_page
from cavra_gateway.console.render import SECURITY_HEADERS, page, pretty_json
from cavra_gateway.console.tables.base import Row, Table
from cavra_gateway.console.tables.registry import TABLES

router = APIRouter(prefix="/console", include_in_schema=False)

RECORD_ID: Final = Path(max_length=256, pattern=r"^[^\x00-\x1f\x7f/]+$")
MAX_EXPORT_ROWS: Final = 10_000
"""Rows one export walks (pages of ``EXPORT_PAGE``); the file says when it stopped there."""
EXPORT_PAGE: Final = 100
UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9_.-]")
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
"""A CSV cell starting so is read as a formula by spreadsheets: it is exported with a leading ``'``."""


def _table(name: str) -> Table:
    table = TABLES.get(name)
    if table is None:
        raise HTTPException(404, f"table: no table named {name!r}; tables: {', '.join(TABLES)}")
    return table


def file_name(label: str, suffix: str) -> str:
    """Spec §7.1: the label with every character outside ``[A-Za-z0-9_.-]`` written ``-``."""
    return f"{UNSAFE_NAME.sub('-', label)[:120] or 'record'}.{suffix}"


def _download(name: str) -> dict[str, str]:
    return {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/fragments/cards/{group}")
async def card_group(request: Request, viewer: SignedIn, group: str = Path(max_length=32)) -> Response:
    found = cards.GROUPS.get(group)
    if found is None:
        raise HTTPException(404, f"group: no card group named {group!r}")
    filters = ConsoleFilters.from_query(request.query_params)
    (rendered,) = await cards.render_groups(viewer.api, filters, [found])
    context = page_context(request, viewer, filters, request.query_params.get("view", ""))
    return page("console/cards.html", **context, rendered=rendered)


@router.get("/fragments/tables/{name}")
async def table_fragment(request: Request, viewer: SignedIn, name: str = Path(max_length=32)) -> Response:
    table = _table(name)
    filters = ConsoleFilters.from_query(request.query_params)
    paging, result = await table_page(table, viewer, filters, request.query_params)
    context = page_context(request, viewer, filters, table.view)
    return page("console/table.html", **context, table=table, paging=paging, result=result)


async def _one(table: Table, viewer: SignedIn, record_id: str) -> Row:
    if table.find is None:
        raise HTTPException(404, f"table: {table.name} has no single-row view")
    record, answer = await table.find(viewer.api, record_id)
    if not answer.ok:
        raise HTTPException(answer.status, answer.message)
    if record is None:
        raise HTTPException(404, f"record_id: no {table.title} row {record_id!r} (it may have been pruned)")
    return table.to_row(record)


@router.get("/fragments/tables/{name}/rows/{record_id}")
async def row_fragment(
    request: Request, viewer: SignedIn, name: str = Path(max_length=32), record_id: str = RECORD_ID
) -> Response:
    table = _table(name)
    row = await _one(table, viewer, record_id)
    filters = ConsoleFilters.from_query(request.query_params)
    context = page_context(request, viewer, filters, table.view)
    return page("console/row.html", **context, table=table, row=row, index=request.query_params.get("n", "0"))


@router.get("/fragments/tables/{name}/rows/{record_id}/detail")
async def detail_fragment(
    request: Request, viewer: SignedIn, name: str = Path(max_length=32), record_id: str = RECORD_ID
) -> Response:
    table = _table(name)
    row = await _one(table, viewer, record_id)
    context = page_context(request, viewer, ConsoleFilters(), table.view)
    return page("console/detail.html", **context, table=table, row=row)


@router.get("/export/{name}/rows/{record_id}.json")
async def export_row(
    viewer: SignedIn, name: str = Path(max_length=32), record_id: str = RECORD_ID
) -> Response:
    table = _table(name)
    row = await _one(table, viewer, record_id)
    return Response(
        pretty_json(row.record),
        media_type="application/json",
        headers=_download(file_name(row.label, "json")),
    )


async def _all_rows(table: Table, viewer: SignedIn, filters: ConsoleFilters, sort: str) -> AsyncIterator[Row]:
    for number in range(1, MAX_EXPORT_ROWS // EXPORT_PAGE + 1):
        result = await table.page(viewer.api, filters, Paging(page=number, sort=sort, size=EXPORT_PAGE))
        if result.error is not None:
            raise HTTPException(result.error.status, result.error.message)
        for row in result.rows:
            yield row
        if not result.has_more or not result.rows:
            return


@router.get("/export/{name}.{suffix}")
async def export_table(
    request: Request,
    viewer: SignedIn,
    name: str = Path(max_length=32),
    suffix: str = Path(pattern="^(csv|json)$"),
) -> Response:
    """The table under the current filters and sort, every page up to ``MAX_EXPORT_ROWS`` rows."""
    table = _table(name)
    filters = ConsoleFilters.from_query(request.query_params)
    sort = Paging.from_query(table.name, request.query_params, table.sorts).sort
    rows = [row async for row in _all_rows(table, viewer, filters, sort)]
    label = "-".join([table.name, *filters.given().values()])
    if suffix == "json":
        body: dict[str, Any] = {
            "table": table.name,
            "filters": filters.given(),
            "sort": sort,
            "row_count": len(rows),
            "truncated_at": MAX_EXPORT_ROWS if len(rows) >= MAX_EXPORT_ROWS else None,
            "rows": [row.record for row in rows],
        }
        return Response(
            pretty_json(body), media_type="application/json", headers=_download(file_name(label, "json"))
        )
    return StreamingResponse(
        _csv(table, rows), media_type="text/csv; charset=utf-8", headers=_download(file_name(label, "csv"))
    )


async def _csv(table: Table, rows: list[Row]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["record_id", *(column.label for column in table.columns)])
    for row in rows:
        cells = [row.cells.get(column.key) for column in table.columns]
        values = [row.record_id, *((cell.time or cell.text) if cell else "" for cell in cells)]
        writer.writerow([_inert(value) for value in values])
        if buffer.tell() > 65_536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _inert(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_START) else value
