"""Retry plans and worker runs (spec §3.12, §3.13) of any family, inside the caller's transaction.

A plan is computed and stored by one SQL statement; a worker run embeds a fresh plan, selects the
retries that pass the family's gate and, live, starts one execution per selected retry in the same
transaction: the execution row (``pending``; one per attempt of a chain and provider), the approval
it consumes (one-shot) and the ``ExecuteRetryV1`` command for the jobs consumer, through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from cavra_contracts.actors import ActorV1
from cavra_contracts.approvals import ApprovalExpiredV1
from cavra_contracts.envelope import Envelope
from cavra_contracts.evidence import MAX_RECORD_LIST_ITEMS
from cavra_contracts.families import FamilySpec
from cavra_contracts.retries import (
    RefusalReason,
    RetryExecutionRefusedV1,
    RetryPolicyV1,
    WorkerScheduleV1,
    hash_id,
    window,
)
from cavra_contracts.timestamps import iso
from cavra_delivery.retries import approval_repository as approvals_repo
from cavra_delivery.retries import executions, records
from cavra_delivery.retries import repository as repo
from cavra_delivery.retries import runs_repository as runs_repo
from cavra_delivery.retries.events import emit

log = structlog.get_logger()


async def generate_plan(
    conn: asyncpg.Connection,
    spec: FamilySpec,
    policy: RetryPolicyV1,
    *,
    retry_plan_id: str,
    generated_by: str,
    now: datetime,
) -> dict[str, Any]:
    """Compute and store a retry plan; its document with the first decisions."""
    plan = await repo.generate_plan(
        conn,
        retry_plan_id=retry_plan_id,
        source=spec.source,
        family=spec.name,
        policy=policy.effective(spec),
        reason=spec.retry_reason,
        generated_by=generated_by,
        now=now,
    )
    decisions = await repo.decisions(conn, retry_plan_id, MAX_RECORD_LIST_ITEMS)
    return records.plan_document(spec, plan, decisions)


@dataclass
class Selection:
    """What a worker run does with each retry decision of its plan."""

    selected: list[dict[str, Any]] = field(default_factory=list)
    approval: dict[str, Any] = field(default_factory=dict)
    """Per selected digest: the approval it consumes (approval-bound live runs)."""
    refused: list[RetryExecutionRefusedV1] = field(default_factory=list)
    expired: list[ApprovalExpiredV1] = field(default_factory=list)


def _rank(row: dict[str, Any], now: datetime) -> int:
    same = row["approved_digest"] == row["digest"]
    usable = row["execute_by"] is not None and row["execute_by"] >= now
    order = {
        ("approved", True, True): 0,
        ("approved", True, False): 1,
        ("consumed", True, False): 2,
        ("consumed", True, True): 2,
        ("expired", True, False): 3,
        ("expired", True, True): 3,
    }
    if (row["approval_state"], same, usable) in order:
        return order[(row["approval_state"], same, usable)]
    return 4 if row["approval_state"] == "approved" else 5


def counting(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Per decision (rows of one decision and each of its approvals, latest decided first), the approval
    that counts: a usable approval of its digest, else the one that explains a refusal (the same digest
    expired, consumed; another digest), in decision order."""
    by_ordinal: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_ordinal.setdefault(row["ordinal"], []).append(row)
    return [min(group, key=lambda row: _rank(row, now)) for _, group in sorted(by_ordinal.items())]


def gate(
    spec: FamilySpec,
    run_id: str,
    candidates: list[dict[str, Any]],
    *,
    dry_run: bool,
    limit: int,
    now: datetime,
) -> Selection:
    """Which retries a run selects (pure). ``candidates``: retry decisions, each with the approval that
    counts for its key (``approval_id``, ``approved_digest``, ``approval_state``, ``execute_by``) when
    the family is approval-bound. A dry run or an ungated family selects the first ``limit``; a live
    approval-bound run selects those whose approval is unconsumed, unexpired and bound to the decision's
    digest, and refuses the others that have one (expired, consumed, another digest)."""
    chosen = Selection()
    for candidate in candidates:
        if len(chosen.selected) >= limit:
            break
        decision = records.decision_view(candidate)
        if dry_run or spec.gate == "none":
            chosen.selected.append(decision)
            continue
        approval_id = candidate.get("approval_id")
        if not approval_id:
            continue
        reason: RefusalReason | None = None
        same = candidate["approved_digest"] == candidate["digest"]
        if candidate["approval_state"] == "consumed":
            reason = "approval_consumed" if same else None
        elif candidate["approval_state"] == "expired":
            reason = "approval_expired" if same else None  # the timer announced the expiry
        elif candidate["approved_digest"] != candidate["digest"]:
            reason = "digest_mismatch"
        elif candidate["execute_by"] is None or candidate["execute_by"] < now:
            reason = "approval_expired"
            chosen.expired.append(
                ApprovalExpiredV1(
                    approval_id=approval_id,
                    family=spec.name,
                    provider=candidate["provider"],
                    origin_job_id=candidate["origin_job_id"],
                    digest=candidate["approved_digest"],
                    stage="execute",
                )
            )
        else:
            decision["approval_id"] = approval_id
            decision["approval_decision_id"] = candidate.get("decision_id") or ""
            chosen.selected.append(decision)
            chosen.approval[candidate["digest"]] = approval_id
            continue
        if reason is not None:
            chosen.refused.append(
                RetryExecutionRefusedV1(
                    family=spec.name,
                    run_id=run_id,
                    origin_job_id=candidate["origin_job_id"],
                    provider=candidate["provider"],
                    reason=reason,
                    digest=candidate["digest"],
                    approval_id=approval_id,
                    approved_digest=candidate["approved_digest"],
                )
            )
    return chosen


def follow_up(
    spec: FamilySpec, decision: dict[str, Any], *, dry_run: bool, selected: set[str]
) -> dict[str, Any]:
    """Spec §3.13 follow-up action of one decision, in the family's words."""
    if spec.gate == "approval":
        state = (
            "dry_run_not_required"
            if dry_run
            else ("approved" if decision["digest"] in selected else "approval_required")
        )
        key = "approval_state"
    else:
        state = "dry_run" if dry_run else "selected_for_delivery_retry"
        key = "execution_state"
    return {
        "action": decision["action"],
        "provider": decision["provider"],
        "delivery_id": decision["delivery_id"],
        "reason": decision["reason"],
        key: state,
    }


@dataclass(frozen=True)
class RunRequest:
    spec: FamilySpec
    run_id: str
    dry_run: bool
    policy: RetryPolicyV1
    schedule: WorkerScheduleV1
    max_retry_deliveries: int
    scheduled: bool
    generated_by: str
    actor: ActorV1


async def run_worker(
    conn: asyncpg.Connection, request: RunRequest, clock: Callable[[], datetime], cause: Envelope | None
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """One worker run inside the caller's transaction: (run document, plan document, retry results)."""
    spec, run_id, dry_run = request.spec, request.run_id, request.dry_run
    now = clock()
    plan = await generate_plan(
        conn,
        spec,
        request.policy,
        retry_plan_id=hash_id(spec.retry_plan_prefix, {"run_id": run_id}),
        generated_by=request.generated_by,
        now=now,
    )
    limit = request.max_retry_deliveries
    if dry_run or spec.gate == "none":
        candidates = await repo.retry_decisions(conn, plan["retry_plan_id"], limit)
    else:
        candidates = counting(
            await repo.approved_retry_decisions(conn, plan["retry_plan_id"], spec.name), now
        )
    chosen = gate(spec, run_id, candidates, dry_run=dry_run, limit=limit, now=now)
    for expired in chosen.expired:
        await approvals_repo.expire(conn, expired.approval_id)
        await emit(conn, expired, cause)
    results = await _start_all(conn, request, plan, chosen, now, cause)
    for refused in chosen.refused:
        await emit(conn, refused, cause)
        log.info("retry.execution_refused", run_id=run_id, reason=refused.reason, provider=refused.provider)
    start, end = window(now, request.schedule.interval_minutes)
    selected = [r["decision"] for r in results if r["skipped"] in ("", "dry_run")]
    digests = {d["digest"] for d in selected}
    follow_ups = [follow_up(spec, d, dry_run=dry_run, selected=digests) for d in plan["retry_decisions"]]
    retryable = plan["retryable_count"]
    summary = {
        "retry_plan_count": 1,
        "retryable_count": retryable,
        "waiting_retry_count": plan["waiting_count"],
        "suppressed_retry_count": plan["suppressed_count"],
        "selected_retry_count": len(selected),
        "refused_retry_count": len(chosen.refused),
        "follow_up_action_count": plan["decision_count"],
    }
    if spec.gate == "approval":
        summary["approval_pending_count"] = 0 if dry_run else max(retryable - len(selected), 0)
    run = {
        "schema_version": spec.worker_run_schema,
        "run_id": run_id,
        "family": spec.name,
        "generated_at": iso(now),
        "generated_by": request.generated_by,
        "dry_run": dry_run,
        "scheduled": request.scheduled,
        "schedule": {
            "interval_minutes": request.schedule.interval_minutes,
            "window_start": iso(start),
            "window_end": iso(end),
            "enabled": request.schedule.enabled,
            "cadence": request.schedule.cadence_name(),
        },
        "summary": summary,
        "retry_plan": {k: v for k, v in plan.items() if k != "retry_decisions"},
        "retry_plan_id": plan["retry_plan_id"],
        "selected_retries": selected,
        "follow_up_actions": follow_ups[:MAX_RECORD_LIST_ITEMS],
        "controls": records.CONTROLS,
    }
    await runs_repo.insert_run(
        conn,
        {
            "run_id": run_id,
            "family": spec.name,
            "generated_at": now,
            "generated_by": request.generated_by,
            "dry_run": dry_run,
            "scheduled": request.scheduled,
            "retry_plan_id": plan["retry_plan_id"],
            "retryable_count": retryable,
            "selected_retry_count": len(selected),
            "approval_pending_count": summary.get("approval_pending_count", 0),
            "schedule_enabled": request.schedule.enabled,
            "document": run,
        },
    )
    if request.schedule.enabled and not request.scheduled:
        await runs_repo.upsert_schedule(
            conn,
            spec.name,
            stored_schedule(request.schedule),
            request.policy.model_dump(),
            end,
            now,
            request.actor.actor,
        )
    return run, plan, results


async def _start_all(
    conn: asyncpg.Connection,
    request: RunRequest,
    plan: dict[str, Any],
    chosen: Selection,
    now: datetime,
    cause: Envelope | None,
) -> list[dict[str, Any]]:
    """The selected retries: ``dry_run`` (nothing written), or pending executions and their commands."""
    if request.dry_run:
        return [_result(request.spec, d, None, "dry_run") for d in chosen.selected]
    documents = [
        executions.execution_document(
            request.spec,
            run_id=request.run_id,
            retry_plan_id=plan["retry_plan_id"],
            decision=decision,
            approval_id=chosen.approval.get(decision["digest"]),
            executed_by=request.actor.actor,
            now=now,
        )
        for decision in chosen.selected
    ]
    refused = await executions.start(conn, request.spec, documents, now, cause) if documents else {}
    return [
        _result(
            request.spec,
            decision,
            None if document["execution_id"] in refused else document,
            refused.get(document["execution_id"], ""),
        )
        for decision, document in zip(chosen.selected, documents, strict=True)
    ]


def _result(
    spec: FamilySpec, decision: dict[str, Any], execution: dict[str, Any] | None, skipped: str
) -> dict[str, Any]:
    """One ``retry_results`` item in the spec's shape (§1.4 #16): the delivery is not known yet (the
    execution completes it; ``GET .../retry-executions?run_id=``)."""
    return {
        "decision": decision,
        "delivery_plan": {"delivery_plan_id": execution["retry_job_id"]} if execution else None,
        "delivery": None,
        "delivery_metadata": None,
        "execution_record": execution,
        "execution_metadata": records.execution_record(spec, execution).document() if execution else None,
        "skipped": skipped,
    }


def stored_schedule(schedule: WorkerScheduleV1) -> dict[str, Any]:
    """A worker schedule as ``worker_schedules`` keeps it: its fields, the cadence by name."""
    return {**schedule.model_dump(), "cadence": schedule.cadence_name()}


def next_due(due_at: datetime, interval_minutes: int, now: datetime) -> datetime:
    """The next due time after ``now`` on the schedule's grid (missed slots are not run twice)."""
    step = timedelta(minutes=interval_minutes)
    slots = max(int((now - due_at) / step) + 1, 1)
    return due_at + slots * step
