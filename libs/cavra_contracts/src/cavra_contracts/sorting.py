"""The sort orders the big list queries accept (history, route history, route states): one home for
the allowlists the gateway validates, the services order by, and the docs list.

A sort is ``<column>`` or ``-<column>``; ``-<column>`` is the exact reverse of ``<column>`` (ties
included), so one index serves both directions. The empty sort is each list's order of before (its
default), named here too. Every order ends in a unique key, so offset pages never repeat or skip a row.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

HistorySort = Literal["", "created", "-created", "kind", "-kind", "schedule", "-schedule", "state", "-state"]
"""Notification history: created time, metadata kind, schedule, acknowledgement state. Default
``-created`` (newest first); within equal values newest first for ``<column>``."""
HISTORY_DEFAULT_SORT: Final = "-created"

RouteHistorySort = Literal[
    "",
    "generated",
    "-generated",
    "owner",
    "-owner",
    "provider",
    "-provider",
    "action",
    "-action",
    "category",
    "-category",
]
"""Routing history: the plan's generated time, owner, provider, action, suppression category. Default
``-generated`` (newest first, then route id); within equal values newest first for ``<column>``."""
ROUTE_HISTORY_DEFAULT_SORT: Final = "-generated"

RouteStatesSort = Literal[
    "",
    "schedule",
    "-schedule",
    "age",
    "-age",
    "acknowledged",
    "-acknowledged",
    "owner",
    "-owner",
    "provider",
    "-provider",
    "state",
    "-state",
    "breached",
    "-breached",
]
"""Route states: schedule (the default: schedule, provider, owner, route id), age (``age`` = youngest
route first), acknowledged time (``acknowledged``: oldest acknowledgement first, never-acknowledged
routes last), owner, provider, state, breached (``-breached`` = breached first). Route id breaks ties."""
ROUTE_STATES_DEFAULT_SORT: Final = "schedule"


WITH_TOTAL_HELP: Final = (
    "false: no count(*) over the matching rows (at 1,000,000 rows it costs 100+ ms); the answer then "
    "has no `total`, and `has_more` says whether a next page exists."
)


def allowed(sort_type: object) -> list[str]:
    """The non-empty values of a sort type, in their documented order."""
    return [value for value in get_args(sort_type) if value]


def split(sort: str, default: str) -> tuple[str, bool]:
    """``(column, descending)`` of a sort (the default when empty)."""
    chosen = sort or default
    return chosen.removeprefix("-"), chosen.startswith("-")
