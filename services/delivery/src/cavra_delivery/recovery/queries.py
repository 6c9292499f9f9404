"""Recovery queries (``QUERIES``): the recovery SLO report with the escalation plan it implies and
the window statistics (reads only, in a read-only snapshot), and the playbook and plan lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.recovery import (
    RecoveryEscalationPlanQueryV1,
    RecoveryEscalationPlansQueryV1,
    RecoveryPlaybooksQueryV1,
    RecoveryReportQueryV1,
)
from cavra_runtime.service import QueryTable

from . import domain, escalation
from . import repository as repo
from .handlers import RecoveryDeps
from .report import compute


async def recovery_report(query: RecoveryReportQueryV1, deps: RecoveryDeps) -> QueryReplyV1:
    """The report, the escalation plan it implies (not stored) and the window statistics; reads only."""
    now = query.at or deps.clock()
    async with deps.pool.acquire() as conn:
        computed = await compute(
            conn,
            now=now,
            slo_minutes=query.recovery_slo_minutes,
            generated_by=query.generated_by,
            family=query.family,
            row_limit=query.row_limit,
            window_start=query.window_start,
            window_end=query.window_end,
        )
    plan = escalation.plan_document(computed.report, computed.candidates, generated_by=query.generated_by)
    result = {"report": computed.report, "escalation_plan": plan, "statistics": computed.statistics}
    return QueryReplyV1(ok=True, result=result)


def playbook_view(item: dict[str, Any]) -> dict[str, Any]:
    """A stored playbook with each provider's latest closure state."""
    document = dict(item["document"])
    closures = item["closures"]
    document["provider_playbooks"] = [
        {
            **entry,
            **closures.get(
                entry["provider"], {"closure_state": "open", "closure_id": None, "closed_at": None}
            ),
        }
        for entry in document["provider_playbooks"]
    ]
    return {
        "playbook": document,
        "metadata": domain.playbook_record(item["document"], _at(document)).document(),
    }


def _at(document: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(document["generated_at"])


async def recovery_playbooks(query: RecoveryPlaybooksQueryV1, deps: RecoveryDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        items, total = await repo.playbooks_page(conn, query.limit, query.offset, query.playbook_id)
    views = [playbook_view(item) for item in items]
    return QueryReplyV1(
        ok=True, result={"items": views, "total": total, "limit": query.limit, "offset": query.offset}
    )


async def escalation_plans(query: RecoveryEscalationPlansQueryV1, deps: RecoveryDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        plans, total = await repo.plans_page(conn, query.limit, query.offset)
    items = [{"plan": plan, "metadata": escalation.plan_record(plan, _at(plan)).document()} for plan in plans]
    return QueryReplyV1(
        ok=True, result={"items": items, "total": total, "limit": query.limit, "offset": query.offset}
    )


async def escalation_plan(query: RecoveryEscalationPlanQueryV1, deps: RecoveryDeps) -> QueryReplyV1:
    async with deps.pool.acquire() as conn:
        plan = await repo.plan_by_id(conn, query.plan_id)
        if plan is None:
            return QueryReplyV1(ok=False, status_code=404, error="recovery escalation plan not found")
        deliveries = await repo.deliveries_of(conn, query.plan_id)
        acks = await repo.acks_of(conn, query.plan_id)
    result = {
        "plan": plan,
        "metadata": escalation.plan_record(plan, _at(plan)).document(),
        "deliveries": [
            {
                "job_id": d["job_id"],
                "providers": list(d["providers"]),
                "requested_at": d["requested_at"].isoformat(),
                "requested_by": d["requested_by"],
                "status": "pending" if d["success"] is None else ("delivered" if d["success"] else "failed"),
                "record_id": d["record_id"],
            }
            for d in deliveries
        ],
        "acknowledgements": acks,
    }
    return QueryReplyV1(ok=True, result=result)


QUERIES: QueryTable[RecoveryDeps] = {
    RecoveryReportQueryV1: recovery_report,
    RecoveryPlaybooksQueryV1: recovery_playbooks,
    RecoveryEscalationPlansQueryV1: escalation_plans,
    RecoveryEscalationPlanQueryV1: escalation_plan,
}
"""The recovery query handlers, one per contract."""
