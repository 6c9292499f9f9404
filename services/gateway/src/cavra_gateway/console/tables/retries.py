"""Retry plans and approvals (spec §7.1, §7.5): the decisions of the latest retry plan, the approval
requests, the execution records and the worker runs of the acknowledgement-audit delivery family,
each from its own list of the REST API (the delivery service's retry records).

The latest plan is the newest retry-plan record of the notification history (``GET NP`` by metadata
kind, newest first); its decisions are paged by ``GET AD/retry-plans/{id}``. None of these APIs sorts,
so no column is sortable; the console's State filter names no approval state (pending, approved,
consumed, expired), so no filter applies to approvals. Approval requests change (pending → approved →
consumed); a row is found again by its approval id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cavra_contracts.families import FAMILY_SPECS
from cavra_gateway.console.api import ApiAnswer, ConsoleApi
from cavra_gateway.console.filters import ConsoleFilters, Paging
from cavra_gateway.console.tables.base import (
    Cell,
    Column,
    Record,
    Row,
    Table,
    first_text,
    listed,
    status_cell,
)
from cavra_gateway.console.tables.paths import AD, NP

FAMILY: Final = "audit"
RETRY_PLAN_KIND: Final = FAMILY_SPECS[FAMILY].retry_plan_kind


# --- decisions of the latest retry plan -------------------------------------------------------------


async def latest_plan_id(api: ConsoleApi) -> tuple[str, ApiAnswer]:
    answer = await api.get(NP, {"metadata_kind": RETRY_PLAN_KIND, "limit": 1})
    items = answer.body.get("items") if answer.ok and isinstance(answer.body, Mapping) else None
    record = items[0] if items else {}
    return first_text(record, "retry_plan_id", "session_id"), answer


async def fetch_decisions(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    plan_id, answer = await latest_plan_id(api)
    if not answer.ok or not plan_id:
        return answer if not answer.ok else ApiAnswer(200, {"plan": {"retry_decisions": []}})
    return await api.get(f"{AD}/retry-plans/{plan_id}", {"limit": paging.size, "offset": paging.offset})


def decision_items(body: Any) -> tuple[list[Record], int | None, bool]:
    plan = body.get("plan") if isinstance(body, Mapping) else None
    if not isinstance(plan, Mapping):
        return [], 0, False
    plan_id = first_text(plan, "retry_plan_id")
    decisions: list[Record] = [
        {**decision, "retry_plan_id": plan_id}
        for decision in plan.get("retry_decisions") or []
        if isinstance(decision, Mapping)
    ]
    total = plan.get("decision_count")
    total = total if isinstance(total, int) else None
    offset = int(body.get("offset") or 0)
    return decisions, total, total is not None and offset + len(decisions) < total


def decision_row(decision: Record) -> Row:
    action = first_text(decision, "action")
    identifier = ":".join(first_text(decision, k) for k in ("retry_plan_id", "delivery_id", "provider"))
    return Row(
        record_id=identifier,
        label=f"{first_text(decision, 'retry_plan_id')}-{first_text(decision, 'provider')}",
        type_label="Retry decision",
        record=decision,
        cells={
            "delivery": Cell(text=first_text(decision, "delivery_id"), mono=True),
            "provider": Cell(text=first_text(decision, "provider")),
            "action": status_cell(action),
            "reason": Cell(text=first_text(decision, "reason")),
            "attempt": Cell(text=first_text(decision, "attempt")),
            "next": Cell(time=first_text(decision, "next_retry_at")),
        },
        actions=("ack_retry",) if action == "retry" else (),
    )


DECISIONS = Table(
    name="retry_decisions",
    title="Retry plan decisions",
    view="retries",
    live=("retry",),
    empty_text="No retry plan has been generated yet.",
    columns=(
        Column("delivery", "Delivery"),
        Column("provider", "Provider"),
        Column("action", "Decision"),
        Column("reason", "Reason"),
        Column("attempt", "Attempt"),
        Column("next", "Next retry"),
    ),
    applies=(),
    fetch=fetch_decisions,
    items=decision_items,
    to_row=decision_row,
    live_mode="log",
    description="The decisions of the latest acknowledgement-audit retry plan: what would be retried, "
    "when, and why not.",
)


# --- approval requests ------------------------------------------------------------------------------


async def fetch_approvals(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    params: dict[str, str | int | bool] = {"family": FAMILY, "limit": paging.size, "offset": paging.offset}
    return await api.get(f"{AD}/retry-execution-approvals", params)


async def find_approval(api: ConsoleApi, approval_id: str) -> tuple[Record | None, ApiAnswer]:
    answer = await api.get(f"{AD}/retry-execution-approvals", {"approval_id": approval_id, "limit": 1})
    items = answer.body.get("items") if answer.ok and isinstance(answer.body, Mapping) else None
    return (items[0] if items else None), answer


def approval_row(approval: Record) -> Row:
    state = first_text(approval, "state")
    identifier = first_text(approval, "approval_id")
    return Row(
        record_id=identifier,
        label=identifier,
        type_label="Retry approval request",
        record=approval,
        cells={
            "approval": Cell(text=identifier, mono=True),
            "state": status_cell(state),
            "family": Cell(text=first_text(approval, "family")),
            "provider": Cell(text=first_text(approval, "provider")),
            "delivery": Cell(text=first_text(approval, "delivery_id", "origin_job_id"), mono=True),
            "requested_by": Cell(text=first_text(approval, "requested_by")),
            "decided_by": Cell(text=first_text(approval, "decided_by")),
            "expiry": Cell(time=first_text(approval, "execute_by", "decide_by")),
        },
        actions=("approve_retry",) if state == "pending" else (),
    )


APPROVALS = Table(
    name="retry_approvals",
    title="Retry approvals",
    view="retries",
    live=("approval",),
    empty_text="No retry execution approvals are currently indexed.",
    columns=(
        Column("approval", "Approval"),
        Column("state", "State"),
        Column("family", "Family"),
        Column("provider", "Provider"),
        Column("delivery", "Delivery"),
        Column("requested_by", "Requested by"),
        Column("decided_by", "Decided by"),
        Column("expiry", "Expires"),
    ),
    applies=(),
    fetch=fetch_approvals,
    items=listed("items"),
    to_row=approval_row,
    find=find_approval,
    description="Approval requests of governed retries, newest first: pending until an approver other "
    "than the requester decides, then consumed by one execution or expired.",
)


# --- execution records and worker runs --------------------------------------------------------------


async def fetch_executions(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    params: dict[str, str | int | bool] = {"family": FAMILY, "limit": paging.size, "offset": paging.offset}
    return await api.get(f"{AD}/retry-executions", params)


def execution_row(execution: Record) -> Row:
    identifier = first_text(execution, "execution_id")
    return Row(
        record_id=identifier,
        label=identifier,
        type_label="Retry execution record",
        record=execution,
        cells={
            "execution": Cell(text=identifier, mono=True),
            "status": status_cell(first_text(execution, "execution_status")),
            "family": Cell(text=first_text(execution, "family")),
            "provider": Cell(text=first_text(execution, "provider")),
            "attempt": Cell(text=first_text(execution, "attempt")),
            "hash": Cell(text=first_text(execution, "payload_hash")[:16], mono=True),
            "executed": Cell(time=first_text(execution, "executed_at", "generated_at")),
        },
    )


EXECUTIONS = Table(
    name="retry_executions",
    title="Retry executions",
    view="retries",
    live=("retry",),
    empty_text="No retry executions are currently indexed.",
    columns=(
        Column("execution", "Execution"),
        Column("status", "Status"),
        Column("family", "Family"),
        Column("provider", "Provider"),
        Column("attempt", "Attempt"),
        Column("hash", "Payload hash"),
        Column("executed", "Executed"),
    ),
    applies=(),
    fetch=fetch_executions,
    items=listed("items"),
    to_row=execution_row,
    live_mode="log",
    description="Every approved retry the worker executed (delivered, failed or skipped), newest first.",
)


async def fetch_runs(api: ConsoleApi, _: ConsoleFilters, paging: Paging) -> ApiAnswer:
    params: dict[str, str | int | bool] = {"family": FAMILY, "limit": paging.size, "offset": paging.offset}
    return await api.get(f"{AD}/worker-runs", params)


def run_row(run: Record) -> Row:
    identifier = first_text(run, "run_id")
    summary = run.get("summary") if isinstance(run.get("summary"), Mapping) else {}
    assert isinstance(summary, Mapping)
    return Row(
        record_id=identifier,
        label=identifier,
        type_label="Worker run",
        record=run,
        cells={
            "run": Cell(text=identifier, mono=True),
            "mode": Cell(text="dry run" if run.get("dry_run") is True else "execute"),
            "selected": Cell(text=first_text(summary, "selected_retry_count") or "0"),
            "retryable": Cell(text=first_text(summary, "retryable_count") or "0"),
            "generated": Cell(time=first_text(run, "generated_at")),
        },
    )


WORKER_RUNS = Table(
    name="worker_runs",
    title="Retry worker runs",
    view="retries",
    live=("retry",),
    empty_text="No retry worker runs are currently indexed.",
    columns=(
        Column("run", "Run"),
        Column("mode", "Mode"),
        Column("selected", "Selected"),
        Column("retryable", "Retryable"),
        Column("generated", "Generated"),
    ),
    applies=(),
    fetch=fetch_runs,
    items=listed("items"),
    to_row=run_row,
    live_mode="log",
    description="Runs of the acknowledgement-audit retry worker (dry runs and executions), newest first.",
)
