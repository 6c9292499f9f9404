"""What a console table is: its columns, the API request behind a page, how a record becomes a row.

A table never holds data of its own: :meth:`Table.page` asks the REST API (through
:class:`~cavra_gateway.console.api.ConsoleApi`) with the filters that API applies, and a failed answer
is returned as the page's error, shown as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters, Paging

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """A column: ``key`` of the row's cells, its heading, and the API sort key when sortable."""

    key: str
    label: str
    sort: str = ""


@dataclass(frozen=True)
class Link:
    """A link shown in a cell (a console URL): opened in a new tab, or downloaded."""

    label: str
    href: str
    new_tab: bool = False
    download: bool = False


@dataclass(frozen=True)
class Cell:
    """One shown value: text, or a time (ISO, rendered UTC/local with its age), with an optional tone
    (``good``, ``attention``, ``bad``) and monospace for ids; or links."""

    text: str = ""
    time: str = ""
    tone: str = ""
    mono: bool = False
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Row:
    record_id: str
    cells: Mapping[str, Cell]
    record: Record
    label: str
    """What the row is called in the detail panel and the export file name."""
    type_label: str = ""
    actions: Sequence[str] = ()
    """Row actions (names of console actions) this row offers, before role checks."""


@dataclass(frozen=True)
class TablePage:
    """One page as the API answered it."""

    rows: list[Row]
    total: int | None
    has_more: bool
    error: ApiAnswer | None = None


Fetch = Callable[[ConsoleApi, ConsoleFilters, Paging], Awaitable[ApiAnswer]]
Items = Callable[[Any], tuple[list[Record], int | None, bool]]
FindOne = Callable[[ConsoleApi, str], Awaitable[tuple[Record | None, ApiAnswer]]]


@dataclass(frozen=True)
class Table:
    """A table of the console."""

    name: str
    title: str
    view: str
    live: tuple[str, ...]
    """Live-feed topics that refresh this table."""
    empty_text: str
    columns: tuple[Column, ...]
    applies: tuple[str, ...]
    """Which filters of the filters row the API applies to this table."""
    fetch: Fetch
    items: Items
    to_row: Callable[[Record], Row]
    find: FindOne | None = None
    live_mode: str = "rows"
    """``rows``: a change re-renders the rows it names; ``log``: the whole table (news is a new row)."""
    description: str = ""
    notes: Callable[[ConsoleFilters], list[str]] = field(default=lambda filters: [])
    """Words on how the filters apply here (e.g. a filter this table cannot apply)."""

    @property
    def sorts(self) -> tuple[str, ...]:
        return tuple(column.sort for column in self.columns if column.sort)

    async def page(self, api: ConsoleApi, filters: ConsoleFilters, paging: Paging) -> TablePage:
        answer = await self.fetch(api, filters, paging)
        if not answer.ok:
            return TablePage([], None, False, answer)
        records, total, has_more = self.items(answer.body)
        return TablePage([self.to_row(record) for record in records], total, has_more)

    def ignored(self, filters: ConsoleFilters) -> list[str]:
        """The filters that are set but that this table's API does not apply."""
        return [name for name in filters.given() if name not in self.applies]


def listed(key: str) -> Items:
    """Items of an answer ``{key: [...], "total"?: n, "limit", "offset"}``; more follow when the total
    says so or the page came back full."""

    def items(body: Any) -> tuple[list[Record], int | None, bool]:
        records = [r for r in (body or {}).get(key) or [] if isinstance(r, Mapping)]
        total = body.get("total") if isinstance(body, Mapping) else None
        total = total if isinstance(total, int) else None
        offset = int(body.get("offset") or 0) if isinstance(body, Mapping) else 0
        limit = int(body.get("limit") or len(records) or 1) if isinstance(body, Mapping) else 1
        has_more = (
            bool(body.get("has_more"))
            if isinstance(body, Mapping) and "has_more" in body
            else (offset + len(records) < total if total is not None else len(records) >= limit)
        )
        return records, total, has_more

    return items


def first_text(record: Record, *keys: str) -> str:
    """The first non-empty string among ``keys`` (``a.b`` reaches into a nested mapping)."""
    for key in keys:
        value: Any = record
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
            return str(value)
    return ""


TONES: Mapping[str, str] = {
    "critical": "bad",
    "block": "bad",
    "delivery_failed": "bad",
    "failed": "bad",
    "breached": "bad",
    "outstanding": "attention",
    "warning": "attention",
    "escalated": "attention",
    "require_approval": "attention",
    "pending": "attention",
    "healthy": "good",
    "allow": "good",
    "delivered": "good",
    "acknowledged": "good",
    "resolved": "good",
    "approved": "good",
}
"""Tone of a status word (spec §7.3: bad, attention, good)."""


def status_cell(status: str) -> Cell:
    return Cell(text=status.replace("_", " ") if status else "—", tone=TONES.get(status, ""))
