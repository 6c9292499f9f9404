"""Which routes an acknowledgement command covers: every target resolved, or the scope matched, all
inside the command's transaction with the routes locked; otherwise the rejection to answer with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cavra_acknowledgement import domain
from cavra_acknowledgement import repository as repo
from cavra_contracts.acknowledgements import MAX_SCOPE_ROUTES, AckTargetV1, RecordAcknowledgementsV1
from cavra_contracts.scheduler import FieldProblem

Covered = list[tuple[asyncpg.Record, AckTargetV1 | None]]


@dataclass
class Refusal(Exception):
    """The command names something that is not there (404) or no longer what the caller saw (409)."""

    status_code: int
    field: str
    message: str

    def problems(self) -> list[FieldProblem]:
        return [FieldProblem(field=self.field, message=self.message)]


async def resolve(conn: asyncpg.Connection, command: RecordAcknowledgementsV1, now: datetime) -> Covered:
    """The routes the command covers, locked; raises :class:`Refusal` when it cannot be applied whole."""
    if command.scope is not None:
        return await _scope(conn, command, now)
    if not command.targets:
        raise Refusal(422, "routes", "routes are required")
    covered: Covered = []
    for index, target in enumerate(command.targets):
        prefix = domain.field_prefix(command, index)
        covered += [(route, target) for route in await _target(conn, target, prefix)]
    return covered


async def _target(conn: asyncpg.Connection, target: AckTargetV1, prefix: str) -> list[asyncpg.Record]:
    if target.route_id:
        route = await repo.route_by_id(conn, target.route_id)
        if route is None:
            raise Refusal(404, f"{prefix}route_id", f"no notification route {target.route_id}")
        return [route]
    if not target.schedule_id:
        raise Refusal(422, f"{prefix}schedule_id", "schedule_id is required")
    if not target.provider:
        raise Refusal(422, f"{prefix}provider", "provider is required")
    routes = await repo.target_routes(conn, target.schedule_id, target.plan_id, target.provider, target.owner)
    if routes:
        return routes
    raise await _why_nothing(conn, target, prefix)


async def _why_nothing(conn: asyncpg.Connection, target: AckTargetV1, prefix: str) -> Refusal:
    """Name the field that matched nothing: the plan, the schedule, the provider or the owner."""
    if target.plan_id:
        if not await repo.plan_of_schedule(conn, target.plan_id, target.schedule_id):
            return Refusal(
                404, f"{prefix}plan_id", f"no plan {target.plan_id} of schedule {target.schedule_id}"
            )
        plan_id = target.plan_id
    else:
        current = await repo.current_plan_id(conn, target.schedule_id)
        if current is None:
            return Refusal(
                404, f"{prefix}schedule_id", f"no notification plan for schedule {target.schedule_id}"
            )
        plan_id = current
    if not await repo.plan_has_provider(conn, plan_id, target.provider):
        return Refusal(
            404, f"{prefix}provider", f"plan {plan_id} delivers no route to provider {target.provider}"
        )
    return Refusal(
        404, f"{prefix}owner", f"plan {plan_id} has no {target.provider} route for owner {target.owner}"
    )


async def _scope(conn: asyncpg.Connection, command: RecordAcknowledgementsV1, now: datetime) -> Covered:
    assert command.scope is not None
    routes = await repo.scope_routes(conn, command.scope, now, MAX_SCOPE_ROUTES + 1)
    if len(routes) > MAX_SCOPE_ROUTES:
        raise Refusal(409, "scope", f"the scope matches more than {MAX_SCOPE_ROUTES} routes; narrow it")
    if command.expected_count is not None and len(routes) != command.expected_count:
        raise Refusal(
            409,
            "expected_count",
            f"the scope matches {len(routes)} routes now, not {command.expected_count}; "
            "look again before acting",
        )
    if not routes:
        raise Refusal(404, "scope", "no route of a current plan matches the scope")
    return [(route, None) for route in routes]


def describe(covered: Covered) -> dict[str, Any]:
    """Ids for the log line: how many routes, of which plans."""
    return {
        "routes": len(covered),
        "plans": sorted({str(route["plan_id"]) for route, _ in covered})[:5],
    }
