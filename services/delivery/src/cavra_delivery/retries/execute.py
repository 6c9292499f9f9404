"""Execute one retry (``ExecuteRetryV1``): rebuild the failed job for its provider under the retry's job
id, deliver it through the same pipeline, then complete the execution record (spec §3.16) once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from cavra_contracts.deliveries import DeliverMessageV1
from cavra_contracts.families import family_spec
from cavra_contracts.notifications import NotificationPlannedV1
from cavra_contracts.retries import ExecuteRetryV1, RetryExecutedV1, sha256_hex
from cavra_contracts.timestamps import iso
from cavra_delivery import jobs
from cavra_delivery import repository as delivery_repo
from cavra_delivery.jobs import Job, Retry
from cavra_delivery.pipeline import Pipeline
from cavra_delivery.retries import records
from cavra_delivery.retries import runs_repository as runs_repo
from cavra_delivery.retries.events import emit
from cavra_runtime.dispatch import Message

log = structlog.get_logger()


def rebuild(row: asyncpg.Record, retry: Retry) -> Job | None:
    """The stored job as a retry: only ``retry``'s provider, under its job id (None: unknown type)."""
    message_type = row["message_type"]
    if message_type == DeliverMessageV1.MESSAGE.schema_version:
        return jobs.message_job(DeliverMessageV1.model_validate(row["message"]), retry=retry)
    if message_type == NotificationPlannedV1.MESSAGE.schema_version:
        return jobs.plan_job(NotificationPlannedV1.model_validate(row["message"]), retry=retry)
    return None


async def execute_retry(
    message: Message[ExecuteRetryV1], pool: asyncpg.Pool, pipeline: Pipeline, clock: Callable[[], datetime]
) -> None:
    command = message.contract
    async with pool.acquire() as conn:
        execution = await runs_repo.execution(conn, command.execution_id)
        stored = (
            await delivery_repo.job(conn, execution["document"]["latest_delivery_id"]) if execution else None
        )
    if execution is None or execution["execution_status"] != "pending":
        return  # unknown, or completed by an earlier pass
    document = dict(execution["document"])
    retry = Retry(
        execution["retry_job_id"],
        execution["provider"],
        execution["origin_job_id"],
        execution["attempt"],
    )
    job = rebuild(stored, retry) if stored is not None else None
    skipped = ""
    record: dict[str, Any] | None = None
    if job is None:
        skipped = "job_not_found"
    elif not job.targets:
        skipped = "no_targets_for_provider"
    else:
        await pipeline.deliver(job, message.envelope, message.heartbeat)
        async with pool.acquire() as conn:
            record = await delivery_repo.record_for_job(conn, job.job_id)
        if record is None:
            raise RuntimeError(f"retry job {job.job_id} left no delivery record")  # transient: retried
    now = clock()
    success = bool(record and record["delivery_success"])
    status = "skipped" if skipped else ("delivered" if success else "failed")
    record_id = record["record_id"] if record else None
    document.update(
        execution_status=status,
        skipped=skipped,
        completed_at=iso(now),
        delivery_success=None if skipped else success,
        delivery_metadata_id=record_id or "",
        selected_providers=[execution["provider"]] if record else [],
    )
    document["execution_hash"] = sha256_hex(
        {
            name: document.get(name)
            for name in (
                "run_id",
                "retry_plan_id",
                "provider",
                "delivery_id",
                "approval_decision_id",
                "delivery_plan_id",
                "delivery_metadata_id",
                "execution_status",
                "executed_at",
                "digest",
                "payload_hash",
            )
        }
    )
    spec = family_spec(command.family)
    document["public_evidence_refs"] = records.evidence_refs(spec, document)
    async with pool.acquire() as conn, conn.transaction():
        done = await runs_repo.complete_execution(
            conn,
            command.execution_id,
            {
                "execution_status": status,
                "skipped": skipped,
                "completed_at": now,
                "delivery_success": document["delivery_success"],
                "delivery_record_id": record_id,
                "execution_hash": document["execution_hash"],
                "document": document,
            },
        )
        if not done:
            return
        event = RetryExecutedV1(
            record=records.execution_record(spec, document),
            family=spec.name,
            execution_id=command.execution_id,
            execution_status=status,
        )
        await emit(conn, event, message.envelope, f"retry/{command.execution_id}")
    log.info(
        "retry.executed",
        execution_id=command.execution_id,
        family=spec.name,
        provider=execution["provider"],
        status=status,
        retry_job_id=execution["retry_job_id"],
    )
