"""Start the executions a live worker run selected, in the run's transaction: one INSERT of every
``pending`` execution (the unique index refuses an attempt that runs already), one UPDATE consuming
their approvals (one-shot: a retry whose approval another run consumed first is taken back), then
one ``ExecuteRetryV1`` per execution through the outbox. Refusals are events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from cavra_contracts.envelope import Envelope
from cavra_contracts.families import FamilySpec
from cavra_contracts.retries import (
    ExecuteRetryV1,
    RefusalReason,
    RetryExecutionRefusedV1,
    hash_id,
    retry_job_id,
)
from cavra_contracts.timestamps import iso
from cavra_delivery.retries import approval_repository as approvals_repo
from cavra_delivery.retries import records
from cavra_delivery.retries import runs_repository as runs_repo
from cavra_delivery.retries.events import emit

log = structlog.get_logger()


def execution_document(
    spec: FamilySpec,
    *,
    run_id: str,
    retry_plan_id: str,
    decision: Mapping[str, Any],
    approval_id: str | None,
    executed_by: str,
    now: datetime,
) -> dict[str, Any]:
    """A ``pending`` execution record (spec §3.16); the execution handler completes it."""
    execution_id = hash_id(
        spec.execution_prefix,
        {
            "origin_job_id": decision["origin_job_id"],
            "provider": decision["provider"],
            "attempt": decision["attempt"],
        },
    )
    return {
        "schema_version": spec.execution_schema,
        "execution_id": execution_id,
        "execution_hash": "",
        "execution_status": "pending",
        "executed_at": iso(now),
        "executed_by": executed_by,
        "family": spec.name,
        "run_id": run_id,
        "retry_plan_id": retry_plan_id,
        "approval_id": approval_id or "",
        "approval_decision_id": decision.get("approval_decision_id", ""),
        "delivery_id": decision["origin_job_id"],
        "origin_job_id": decision["origin_job_id"],
        "latest_delivery_id": decision["latest_delivery_id"],
        "provider": decision["provider"],
        "subject_ids": {
            name: decision[name]
            for name in ("plan_id", "schedule_id", "audit_id", "run_id")
            if decision.get(name)
        },
        "plan_id": decision.get("plan_id", ""),
        "attempt": decision["attempt"],
        "digest": decision["digest"],
        "payload_hash": decision["payload_hash"],
        "retry_job_id": retry_job_id(execution_id),
        "skipped": "",
        "delivery_plan_id": retry_job_id(execution_id),
        "delivery_metadata_id": "",
        "delivery_success": None,
        "public_evidence_refs": [],
        "controls": records.CONTROLS,
    }


async def start(
    conn: asyncpg.Connection,
    spec: FamilySpec,
    documents: list[dict[str, Any]],
    now: datetime,
    cause: Envelope | None,
) -> dict[str, RefusalReason]:
    """Store, consume and command ``documents``; the refused ones by execution id, with the reason."""
    inserted = await runs_repo.insert_executions(conn, documents, now)
    refused: dict[str, RefusalReason] = {
        d["execution_id"]: "already_executing" for d in documents if d["execution_id"] not in inserted
    }
    wanted = {
        d["approval_id"]: d["execution_id"]
        for d in documents
        if d["approval_id"] and d["execution_id"] in inserted
    }
    if wanted:
        consumed = await approvals_repo.consume_many(conn, wanted, now)
        lost = [execution_id for approval_id, execution_id in wanted.items() if approval_id not in consumed]
        if lost:
            await runs_repo.delete_executions(conn, lost)
            refused |= dict.fromkeys(lost, "approval_consumed")
    for document in documents:
        execution_id = document["execution_id"]
        if execution_id in refused:
            event = RetryExecutionRefusedV1(
                family=spec.name,
                run_id=document["run_id"],
                origin_job_id=document["origin_job_id"],
                provider=document["provider"],
                reason=refused[execution_id],
                digest=document["digest"],
                approval_id=document["approval_id"],
            )
            await emit(conn, event, cause)
            continue
        await emit(
            conn, ExecuteRetryV1(execution_id=execution_id, family=spec.name), cause, f"retry/{execution_id}"
        )
    log.info(
        "retry.executions_started",
        family=spec.name,
        started=len(documents) - len(refused),
        refused=len(refused),
    )
    return refused
