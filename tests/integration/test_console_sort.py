"""Server-side sorting of the console's big lists, end to end: gateway -> NATS -> reporting / router /
acknowledgement service -> PostgreSQL.

Rows are stored straight into each service's tables (many equal values and equal times, so the
tiebreakers matter); every sort is checked in both directions against an order computed here, and
paging through small pages yields every row exactly once in that order.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from cavra_contracts.sorting import HistorySort, RouteHistorySort, RouteStatesSort, allowed
from tests.support.harness import gateway_client, running_service

NP = "/runtime/go-pilot/rollback-drill-notifications"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WORDS = ("alpha", "bravo", "charlie")
ROWS = 14
PAGE = 3


@asynccontextmanager
async def serving(nats_url: str, database_url: str, service: str) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_service(service, nats_url, database_url),
        gateway_client(nats_url, database_url) as client,
    ):
        yield client


async def execute(database_url: str, schema: str, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        await conn.executemany(sql, rows)
    finally:
        await conn.close()


async def every_page(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """All items of the list, fetched PAGE at a time with offset."""
    found: list[dict[str, Any]] = []
    for offset in range(0, ROWS + PAGE, PAGE):
        response = await client.get(path, params={**params, "limit": PAGE, "offset": offset})
        assert response.status_code == 200, response.text
        found += response.json()["items"]
    return found


def ordered(
    rows: list[dict[str, Any]], sort: str, keys: dict[str, Callable[[dict[str, Any]], Any]]
) -> list[Any]:
    """The rows in ``sort`` order: ``-x`` is the exact reverse of ``x``."""
    chosen = sorted(rows, key=keys[sort.removeprefix("-")])
    return chosen[::-1] if sort.startswith("-") else chosen


def descending(value: datetime) -> float:
    return -value.timestamp()


# --- notification history (reporting) -------------------------------------------------------------


def history_rows() -> list[dict[str, Any]]:
    return [
        {
            "item_id": f"item-{n:02d}",
            "metadata_kind": WORDS[n % 3],
            "created_at": T0 + timedelta(minutes=n // 4),  # four items share each time
            "seq": 100 + n // 2,  # two share each sequence: the ordinal decides
            "ordinal": n % 2,
            "schedule_id": WORDS[(n // 3) % 3],
            "acknowledgement_state": ("", "acknowledged", "outstanding")[n % 3 if n % 5 else 0],
        }
        for n in range(ROWS)
    ]


def history_position(row: dict[str, Any]) -> tuple[Any, ...]:
    return (descending(row["created_at"]), -row["seq"], -row["ordinal"])


HISTORY_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "created": lambda r: (r["created_at"], r["seq"], r["ordinal"]),
    "kind": lambda r: (r["metadata_kind"], *history_position(r)),
    "schedule": lambda r: (r["schedule_id"], *history_position(r)),
    "state": lambda r: (r["acknowledgement_state"], *history_position(r)),
}


async def seed_history(database_url: str) -> list[dict[str, Any]]:
    rows = history_rows()
    await execute(
        database_url,
        "reporting",
        """INSERT INTO history_items (item_id, metadata_kind, created_at, seq, ordinal, schedule_id,
                                      acknowledgement_state, document)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)""",
        [
            (
                r["item_id"],
                r["metadata_kind"],
                r["created_at"],
                r["seq"],
                r["ordinal"],
                r["schedule_id"],
                r["acknowledgement_state"],
                json.dumps({"session_id": r["item_id"]}),
            )
            for r in rows
        ],
    )
    await execute(
        database_url,
        "reporting",
        "INSERT INTO item_providers (item_id, provider, created_at, seq, ordinal) "
        "VALUES ($1, $2, $3, $4, $5)",
        [(r["item_id"], "slack", r["created_at"], r["seq"], r["ordinal"]) for r in rows if r["seq"] % 2],
    )
    return rows


@pytest.mark.parametrize("sort", allowed(HistorySort))
async def test_history_sorts_both_ways_and_pages_every_item_once(
    nats_url: str, database_url: str, sort: str
) -> None:
    async with serving(nats_url, database_url, "reporting") as client:
        rows = await seed_history(database_url)
        expected = [r["item_id"] for r in ordered(rows, sort, HISTORY_KEYS)]
        got = [item["session_id"] for item in await every_page(client, NP, {"sort": sort})]
        assert got == expected
        # The provider filter reads item_providers: the same order over the items it matches.
        with_slack = [r["item_id"] for r in ordered(rows, sort, HISTORY_KEYS) if r["seq"] % 2]
        got = [
            item["session_id"] for item in await every_page(client, NP, {"sort": sort, "provider": "slack"})
        ]
        assert got == with_slack


async def test_history_default_is_unchanged_and_a_cursor_pages_the_default_only(
    nats_url: str, database_url: str
) -> None:
    async with serving(nats_url, database_url, "reporting") as client:
        rows = await seed_history(database_url)
        default = await every_page(client, NP, {})
        assert default == await every_page(client, NP, {"sort": "-created"})
        assert [i["session_id"] for i in default] == [
            r["item_id"] for r in ordered(rows, "-created", HISTORY_KEYS)
        ]
        first = (await client.get(NP, params={"limit": PAGE, "sort": "kind"})).json()
        assert first["next"] is None  # another order has no cursor to follow
        cursor = (await client.get(NP, params={"limit": PAGE})).json()["next"]
        assert cursor
        refused = await client.get(NP, params={"cursor": cursor, "sort": "kind"})
        assert refused.status_code == 422, refused.text
        assert [p["field"] for p in refused.json()["errors"]] == ["query.cursor"]
        followed = await client.get(NP, params={"cursor": cursor, "sort": "-created", "limit": PAGE})
        assert [i["session_id"] for i in followed.json()["items"]] == [i["session_id"] for i in default[3:6]]


# --- route history (router) ----------------------------------------------------------------------


def route_history_rows() -> list[dict[str, Any]]:
    return [
        {
            "route_id": f"route-{(n * 5) % ROWS:02d}",  # id order differs from insertion order
            "created_at": T0 + timedelta(minutes=n // 3),
            "owner": WORDS[n % 3],
            "provider": ("slack", "teams")[n % 2],
            "action": ("deliver", "suppress")[(n // 2) % 2],
            "category": ("deliver", "maintenance_window", "owner_calendar")[(n // 4) % 3],
        }
        for n in range(ROWS)
    ]


def route_position(row: dict[str, Any]) -> tuple[Any, ...]:
    return (descending(row["created_at"]), row["route_id"])


ROUTE_HISTORY_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "generated": lambda r: (r["created_at"], tuple(-ord(c) for c in r["route_id"])),
    **{
        column: (lambda c: lambda r: (r[c], *route_position(r)))(column)
        for column in ("owner", "provider", "action", "category")
    },
}


async def seed_route_history(database_url: str) -> list[dict[str, Any]]:
    rows = route_history_rows()
    await execute(
        database_url,
        "router",
        """INSERT INTO route_decisions (plan_id, route_key, route_id, schedule_id, alert_level, owner,
               escalation_owner, provider, action, category, reason, acknowledgement_minutes, owner_available,
               owner_availability_reason, next_due_at, created_at)
           VALUES ('gordn-sort', $1, $1, 's1', 'warning', $2, '', $3, $4, $5, 'r', 60, true, '', '', $6)""",
        [
            (r["route_id"], r["owner"], r["provider"], r["action"], r["category"], r["created_at"])
            for r in rows
        ],
    )
    return rows


@pytest.mark.parametrize("sort", ["", *allowed(RouteHistorySort)])
async def test_route_history_sorts_both_ways_and_pages_every_route_once(
    nats_url: str, database_url: str, sort: str
) -> None:
    async with serving(nats_url, database_url, "router") as client:
        rows = await seed_route_history(database_url)
        expected = [r["route_id"] for r in ordered(rows, sort or "-generated", ROUTE_HISTORY_KEYS)]
        got = [item["route_id"] for item in await every_page(client, f"{NP}/routes", {"sort": sort})]
        assert got == expected
        teams = [
            r["route_id"]
            for r in ordered(rows, sort or "-generated", ROUTE_HISTORY_KEYS)
            if r["provider"] == "teams"
        ]
        params = {"sort": sort, "provider": "teams"}
        assert [item["route_id"] for item in await every_page(client, f"{NP}/routes", params)] == teams


# --- route states (acknowledgement) --------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)


def route_state_rows() -> list[dict[str, Any]]:
    rows = []
    for n in range(ROWS):
        state = ("outstanding", "acknowledged", "escalated", "resolved")[n % 4]
        rows.append(
            {
                "route_id": f"gordroute-{(n * 5) % ROWS:02d}",
                "schedule_id": ("s1", "s2")[n % 2],
                "provider": ("slack", "teams")[(n // 2) % 2],
                "owner": WORDS[n % 3],
                "route_created_at": NOW - timedelta(hours=n // 3),  # 0..4 hours old
                "acknowledgement_minutes": 90,
                "state": state,
                "acknowledged_at": None if state == "outstanding" else NOW - timedelta(minutes=n // 2),
            }
        )
    return rows


def breached(row: dict[str, Any]) -> bool:
    due = row["route_created_at"] + timedelta(minutes=row["acknowledgement_minutes"])
    return row["state"] not in ("acknowledged", "resolved") and due <= NOW


ROUTE_STATE_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "schedule": lambda r: (r["schedule_id"], r["provider"], r["owner"], r["route_id"]),
    "age": lambda r: (descending(r["route_created_at"]), r["route_id"]),
    "acknowledged": lambda r: (r["acknowledged_at"] is None, r["acknowledged_at"] or NOW, r["route_id"]),
    "owner": lambda r: (r["owner"], r["route_id"]),
    "provider": lambda r: (r["provider"], r["route_id"]),
    "state": lambda r: (r["state"], r["route_id"]),
    "breached": lambda r: (breached(r), r["route_id"]),
}


async def seed_route_states(database_url: str) -> list[dict[str, Any]]:
    rows = route_state_rows()
    plans = [("s1", "gordn-sort-1"), ("s2", "gordn-sort-2"), ("s1", "gordn-sort-old")]
    await execute(
        database_url,
        "acknowledgement",
        "INSERT INTO plans (plan_id, schedule_id, generated_at, alert_level, stream_sequence) "
        "VALUES ($2, $1, $3, 'warning', 1)",
        [(schedule, plan, NOW) for schedule, plan in plans],
    )
    await execute(
        database_url,
        "acknowledgement",
        "INSERT INTO latest_plans (schedule_id, plan_id, generated_at, stream_sequence) "
        "VALUES ($1, $2, $3, 1)",
        [(schedule, plan, NOW) for schedule, plan in plans[:2]],
    )
    current = {"s1": "gordn-sort-1", "s2": "gordn-sort-2"}
    routes = [
        (
            r["route_id"],
            current[r["schedule_id"]],
            r["schedule_id"],
            r["provider"],
            r["owner"],
            r["acknowledgement_minutes"],
            r["route_created_at"],
            r["state"],
            r["acknowledged_at"],
        )
        for r in rows
    ]
    # A route of an older plan is never listed, whatever the order.
    routes.append(("gordroute-old", "gordn-sort-old", "s1", "slack", "alpha", 90, NOW, "outstanding", None))
    await execute(
        database_url,
        "acknowledgement",
        """INSERT INTO routes (route_id, plan_id, schedule_id, provider, owner, escalation_owner,
               acknowledgement_minutes, route_created_at, state, acknowledged_at)
           VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9)""",
        routes,
    )
    return rows


@pytest.mark.parametrize("sort", ["", *allowed(RouteStatesSort)])
async def test_route_states_sort_both_ways_and_page_every_route_once(
    nats_url: str, database_url: str, sort: str
) -> None:
    async with serving(nats_url, database_url, "acknowledgement") as client:
        rows = await seed_route_states(database_url)
        path = f"{NP}/acknowledgements/routes"
        expected = [r["route_id"] for r in ordered(rows, sort or "schedule", ROUTE_STATE_KEYS)]
        got = await every_page(client, path, {"sort": sort})
        assert [item["route_id"] for item in got] == expected
        outstanding = [
            r["route_id"]
            for r in ordered(rows, sort or "schedule", ROUTE_STATE_KEYS)
            if r["owner"] == "bravo"
        ]
        got = await every_page(client, path, {"sort": sort, "owner": "bravo"})
        assert [item["route_id"] for item in got] == outstanding


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "path", "allowed_values"),
    [
        ("reporting", NP, allowed(HistorySort)),
        ("router", f"{NP}/routes", allowed(RouteHistorySort)),
        ("acknowledgement", f"{NP}/acknowledgements/routes", allowed(RouteStatesSort)),
    ],
)
async def test_an_unknown_sort_is_refused_naming_sort_and_its_values(
    nats_url: str, database_url: str, service: str, path: str, allowed_values: list[str]
) -> None:
    async with serving(nats_url, database_url, service) as client:
        for bad in ("item_id", "--created", "owner;drop table routes", "+owner"):
            response = await client.get(path, params={"sort": bad})
            assert response.status_code == 422, response.text
            errors = response.json()["errors"]
            assert [e["field"] for e in errors] == ["query.sort"]
            assert all(f"'{value}'" in errors[0]["message"] for value in allowed_values)


# --- paging without a count ----------------------------------------------------------------------


async def test_with_total_false_answers_has_more_without_a_total(nats_url: str, database_url: str) -> None:
    async with (
        running_service("router", nats_url, database_url),
        running_service("acknowledgement", nats_url, database_url),
        running_service("reporting", nats_url, database_url),
        gateway_client(nats_url, database_url) as client,
    ):
        await seed_route_history(database_url)
        await seed_route_states(database_url)
        await seed_history(database_url)
        for path in (f"{NP}/routes", f"{NP}/acknowledgements/routes"):
            counted = (await client.get(path, params={"limit": PAGE})).json()
            assert counted["total"] == ROWS and counted["has_more"] is True
            for offset, more in ((0, True), (ROWS - PAGE - 1, True), (ROWS - PAGE, False), (ROWS, False)):
                params = {"limit": PAGE, "offset": offset, "with_total": "false", "sort": "-provider"}
                body = (await client.get(path, params=params)).json()
                assert "total" not in body and body["has_more"] is more, (path, offset, body)
        # limit=0 is the bulk action's "this will touch N routes": always counted.
        touched = await client.get(
            f"{NP}/acknowledgements/routes", params={"limit": 0, "with_total": "false"}
        )
        assert touched.json()["total"] == ROWS
        last = (await client.get(NP, params={"limit": PAGE, "offset": ROWS - PAGE, "sort": "kind"})).json()
        assert last["has_more"] is False and len(last["items"]) == PAGE
        assert (await client.get(NP, params={"limit": PAGE, "sort": "kind"})).json()["has_more"] is True
