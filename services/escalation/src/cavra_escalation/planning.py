"""Escalation plans: build one over the current routes, store it with its routes, read it back paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from cavra_contracts.actors import ActorV1
from cavra_contracts.escalations import (
    ESCALATION_PLAN_KIND,
    ESCALATION_PLAN_SCHEMA,
    EscalationPlanGeneratedV1,
)
from cavra_escalation import domain
from cavra_escalation import repository as repo
from cavra_escalation.domain.plan import PRODUCT

SUMMARY_FIELDS = (
    "plan_id",
    "generated_at",
    "generated_by",
    "alert_level",
    "acknowledgement_minutes",
    "route_count",
    "outstanding_count",
    "breached_count",
)


@dataclass(frozen=True)
class Generated:
    """A generated plan's announcement, and whether its content was new (else stored already)."""

    event: EscalationPlanGeneratedV1
    new: bool


async def generate(
    conn: asyncpg.Connection,
    policy: dict[str, Any],
    *,
    generated_by: str,
    actor: ActorV1,
    now: datetime,
) -> Generated:
    """Build the plan over every schedule's current routes and store it, in the caller's transaction
    (which must be REPEATABLE READ: the SLO keys and the routes judged are read from one snapshot).

    The routes never leave the database: the SLO of each distinct owner x provider x stored SLO is
    looked up here (§3.4.5 over ``policy``), and the database judges, stores, counts and digests
    every route with it in one statement. The same content again (same id) is stored once: the
    stored plan is announced.
    """
    slo = domain.SloLookup(policy)
    minutes = {key: slo.minutes(*key) for key in await repo.slo_keys(conn)}
    plan_key, judged = await repo.write_plan_rows(conn, now, minutes)
    summary = domain.plan_summary(
        route_count=judged.route_count,
        outstanding=judged.outstanding,
        breached=judged.breached,
        digest=judged.digest,
        policy=policy,
        generated_by=generated_by,
        now=now,
    )
    new = await repo.store_plan(conn, plan_key, summary, actor.model_dump(mode="json"))
    if not new:
        stored = await repo.get_plan(conn, summary["plan_id"])
        summary = _summary(stored) if stored is not None else summary
    event = EscalationPlanGeneratedV1(
        **{name: summary[name] for name in SUMMARY_FIELDS},
        actor=actor,
    )
    return Generated(event=event, new=new)


def _summary(row: asyncpg.Record) -> dict[str, Any]:
    summary = {name: row[name] for name in SUMMARY_FIELDS}
    summary["generated_at"] = row["generated_at"].isoformat()
    return summary


def metadata(summary: dict[str, Any]) -> dict[str, Any]:
    """The ``go-backend-rollback-drill-notification-escalation-plan`` record of a plan."""
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": PRODUCT,
        "session_id": summary["plan_id"],
        "created_at": summary["generated_at"],
        "signer": summary["generated_by"],
        "decision_count": summary["route_count"],
        "blocked_count": summary["breached_count"],
        "approval_required_count": summary["outstanding_count"],
        "metadata_kind": ESCALATION_PLAN_KIND,
        "plan_id": summary["plan_id"],
        "alert_level": summary["alert_level"],
        "route_count": summary["route_count"],
        "outstanding_count": summary["outstanding_count"],
        "breached_count": summary["breached_count"],
    }


async def stored_plan(
    conn: asyncpg.Connection, plan_id: str, *, limit: int, offset: int
) -> dict[str, Any] | None:
    """``{plan (routes[offset:offset+limit]), metadata, limit, offset}``, or None when unknown."""
    row = await repo.get_plan(conn, plan_id)
    if row is None:
        return None
    routes = await repo.plan_routes(conn, row["plan_key"], limit, offset)
    summary = _summary(row)
    document = {"schema_version": ESCALATION_PLAN_SCHEMA, "product": PRODUCT}
    document |= summary | {"routes": routes}
    return {"plan": document, "metadata": metadata(summary), "limit": limit, "offset": offset}
