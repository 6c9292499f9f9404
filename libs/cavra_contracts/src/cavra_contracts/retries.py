"""Retries of every delivery family: retry plans, worker runs, worker schedules and retry executions.

One machinery (spec §3.12, §3.13, §3.16, §3.22, §4.5, §4.6) serves every family of
:mod:`cavra_contracts.families`; a message names its ``family`` and nothing else differs. The delivery
service stores every job it delivers (``delivery_jobs``), so a retry re-sends exactly what failed, under
a new job id whose chain (``origin_job_id``) keeps the attempt count across retries.

A decision's ``digest`` (:func:`retry_digest`) binds an approval to exactly one retry: the family, the
failed delivery (its origin job), the provider, the hash of what is sent and the attempt it would be.
The pure rules (backoff, window, clamp, gate) live here so the gateway, the CLI and the tests compute
what the service computes. Governed execution (acknowledgements, approval plans and decisions) is in
:mod:`cavra_contracts.approvals`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Literal

from pydantic import AliasChoices, ConfigDict, Field

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract
from cavra_contracts.evidence import RecordedEvent
from cavra_contracts.failures import RequestRefused
from cavra_contracts.families import Family, FamilySpec
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_OFFSET, MAX_TEXT_LENGTH
from cavra_contracts.subjects import MessageSpec

SERVICE = "delivery"

MAX_RETRY_ATTEMPTS: Final = 100
MAX_RETRY_DELAY_MINUTES: Final = 10_080
MAX_BACKOFF_MULTIPLIER: Final = 10.0
MAX_SCHEDULE_INTERVAL_MINUTES: Final = 43_200
MAX_BACKOFF_MINUTES: Final = 525_600
"""The longest backoff delay (a year): base x multiplier^(n-1) is capped there."""
MIN_RETRY_DELIVERIES: Final = 1
MAX_RETRY_DELIVERIES: Final = 25
"""A worker run re-delivers at most this many (spec §3.13: ``max_retry_deliveries`` clamped 1..25)."""
MAX_DECISION_PAGE: Final = 1000
RETRY_JOB_PREFIX: Final = "retry-"
RetryAction = Literal["retry", "wait", "suppress"]
ExecutionStatus = Literal["pending", "delivered", "failed", "skipped"]
RefusalReason = Literal["approval_consumed", "approval_expired", "digest_mismatch", "already_executing"]


def canonical_json(value: Any) -> str:
    """The JSON every hash here is taken over: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def hash_id(prefix: str, material: Any) -> str:
    """Spec's "hash id": ``prefix`` + the first 16 hex of SHA-256 over the canonical JSON."""
    return prefix + sha256_hex(material)[:16]


def retry_digest(family: str, origin_job_id: str, provider: str, payload_hash: str, attempt: int) -> str:
    """SHA-256 hex binding an approval to exactly one retry (the service computes it in SQL alike)."""
    return sha256_hex(
        {
            "family": family,
            "origin_job_id": origin_job_id,
            "provider": provider,
            "payload_hash": payload_hash,
            "attempt": attempt,
        }
    )


def retry_job_id(execution_id: str) -> str:
    """The job that re-delivers an execution: ``retry-<16 hex>`` (job ids are at most 64 chars)."""
    return hash_id(RETRY_JOB_PREFIX, {"execution_id": execution_id})


class RetryPolicyV1(Contract):
    """Spec §3.12 step 1, with the original's aliases (``max_retries``, ``delay_minutes``, ``multiplier``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "retry_policy", "cavra.drillops.delivery.retry-policy.v1", channel=False
    )
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    max_retry_attempts: int = Field(
        default=3,
        ge=1,
        le=MAX_RETRY_ATTEMPTS,
        validation_alias=AliasChoices("max_retry_attempts", "max_retries"),
    )
    allow_immediate_retry: bool = False
    retry_delay_minutes: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETRY_DELAY_MINUTES,
        validation_alias=AliasChoices("retry_delay_minutes", "delay_minutes"),
        description="Default: 0 if immediate retries are allowed, else the family's (15; executive 30).",
    )
    backoff_multiplier: float = Field(
        default=2.0,
        ge=1.0,
        le=MAX_BACKOFF_MULTIPLIER,
        validation_alias=AliasChoices("backoff_multiplier", "multiplier"),
    )

    def base_delay(self, spec: FamilySpec) -> int:
        """The base delay in minutes: given, else the default; never below 1 unless immediate."""
        if self.retry_delay_minutes is None:
            return 0 if self.allow_immediate_retry else spec.default_retry_delay_minutes
        return self.retry_delay_minutes if self.allow_immediate_retry else max(1, self.retry_delay_minutes)

    def effective(self, spec: FamilySpec) -> dict[str, Any]:
        return {
            "max_retry_attempts": self.max_retry_attempts,
            "allow_immediate_retry": self.allow_immediate_retry,
            "retry_delay_minutes": self.base_delay(spec),
            "backoff_multiplier": self.backoff_multiplier,
        }


def backoff_minutes(base: float, multiplier: float, retry_count: int) -> float:
    """Spec §3.12 step 4: base x multiplier^(retry_count - 1), at most :data:`MAX_BACKOFF_MINUTES`."""
    return min(float(base) * multiplier ** max(retry_count - 1, 0), float(MAX_BACKOFF_MINUTES))


def decide(
    *,
    retry_count: int,
    latest_failure_at: datetime,
    now: datetime,
    max_retry_attempts: int,
    base_delay: float,
    multiplier: float,
    spec: FamilySpec,
) -> tuple[RetryAction, str, float, datetime]:
    """One decision of spec §3.12 step 5: (action, reason, delay minutes, next_retry_at)."""
    delay = backoff_minutes(base_delay, multiplier, retry_count)
    next_at = latest_failure_at + timedelta(minutes=delay)
    if retry_count >= max_retry_attempts:
        return "suppress", f"maximum retry attempts {max_retry_attempts} reached", delay, next_at
    if now < next_at:
        return "wait", f"retry delay {int(delay)} minutes has not elapsed", delay, next_at
    return "retry", spec.retry_reason, delay, next_at


def clamp_deliveries(value: int) -> int:
    """Spec §3.13: ``max_retry_deliveries`` clamped to 1..25."""
    return max(MIN_RETRY_DELIVERIES, min(MAX_RETRY_DELIVERIES, value))


def window(now: datetime, interval_minutes: int) -> tuple[datetime, datetime]:
    """A worker's schedule window: under 60 minutes it is aligned within the hour (spec §3.13); from 60
    on it is aligned to the interval from midnight UTC (the original starts it at the current hour)."""
    if interval_minutes < 60:
        start = now.replace(
            minute=(now.minute // interval_minutes) * interval_minutes, second=0, microsecond=0
        )
    else:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        since = int((now - midnight).total_seconds() // 60)
        start = midnight + timedelta(minutes=(since // interval_minutes) * interval_minutes)
    return start, start + timedelta(minutes=interval_minutes)


class WorkerScheduleV1(Contract):
    """A worker's schedule (spec §3.13); ``enabled`` on a run's body keeps the family's timer running."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "worker_schedule", "cavra.drillops.delivery.worker-schedule.v1", channel=False
    )
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    interval_minutes: int = Field(
        default=60,
        ge=1,
        le=MAX_SCHEDULE_INTERVAL_MINUTES,
        validation_alias=AliasChoices("interval_minutes", "schedule_interval_minutes"),
    )
    cadence: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")
    enabled: bool = False
    execute: bool = Field(default=False, description="Scheduled runs are dry runs unless set.")
    max_retry_deliveries: int = Field(default=5, ge=MIN_RETRY_DELIVERIES, le=MAX_RETRY_DELIVERIES)

    def cadence_name(self) -> str:
        return self.cadence or f"every_{self.interval_minutes}_minutes"


# --- commands -------------------------------------------------------------------------------


class GenerateRetryPlanV1(Contract):
    """Build and store a retry plan over the family's failed deliveries."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "generate_retry_plan",
        "cavra.drillops.delivery.generate-retry-plan.v1",
        summary="POST .../retry-plan (every family): retry decisions of spec §3.12.",
    )

    family: Family
    policy: RetryPolicyV1 = Field(default_factory=RetryPolicyV1)
    generated_by: str = Field(max_length=MAX_TEXT_LENGTH)
    actor: ActorV1


class RunRetryWorkerV1(Contract):
    """A worker run: a fresh plan, the selected retries, and (live) their executions."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "run_retry_worker",
        "cavra.drillops.delivery.run-retry-worker.v1",
        summary="POST .../worker-run (every family): dry run unless execute.",
    )

    family: Family
    dry_run: bool = True
    policy: RetryPolicyV1 = Field(default_factory=RetryPolicyV1)
    schedule: WorkerScheduleV1 = Field(default_factory=WorkerScheduleV1)
    max_retry_deliveries: int = Field(default=5, ge=MIN_RETRY_DELIVERIES, le=MAX_RETRY_DELIVERIES)
    scheduled: bool = Field(default=False, description="Started by the family's timer.")
    generated_by: str = Field(max_length=MAX_TEXT_LENGTH)
    actor: ActorV1


class ExecuteRetryV1(Contract):
    """Re-deliver one pending execution through the pipeline (enqueued by a live worker run)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "execute_retry",
        "cavra.drillops.delivery.execute-retry.v1",
        summary="The delivery service's own command: one retry of one provider of one failed job.",
    )

    execution_id: str = Field(max_length=MAX_ID_LENGTH)
    family: Family


class SetWorkerScheduleV1(Contract):
    """Set (or disable) the family's worker schedule."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "set_worker_schedule",
        "cavra.drillops.delivery.set-worker-schedule.v1",
        summary="PUT .../retries/{family}/worker-schedule.",
    )

    family: Family
    schedule: WorkerScheduleV1
    policy: RetryPolicyV1 = Field(default_factory=RetryPolicyV1)
    actor: ActorV1


# --- events ---------------------------------------------------------------------------------


class RetryRequestRejectedV1(RequestRefused):
    """A retry or approval command was refused (404 unknown id, 400 bad state); nothing was stored."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "retry_request_rejected",
        "cavra.drillops.delivery.retry-request-rejected.v1",
        summary="404 unknown retry plan / approval plan / candidate, 409 not decidable.",
    )


class RetryPlanGeneratedV1(RecordedEvent):
    """A retry plan was stored: summary and first decisions in ``record.payload``."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "retry_plan_generated", "cavra.drillops.delivery.retry-plan-generated.v1"
    )

    family: Family
    retry_plan_id: str
    actor: ActorV1


class WorkerRunCompletedV1(RecordedEvent):
    """A worker run was stored (live executions start ``pending``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "worker_run_completed", "cavra.drillops.delivery.worker-run-completed.v1"
    )

    family: Family
    run_id: str
    retry_record: dict[str, Any] = Field(description="The embedded retry plan's metadata record.")
    retry_results: list[dict[str, Any]] = Field(max_length=MAX_RETRY_DELIVERIES)
    actor: ActorV1


class RetryExecutedV1(RecordedEvent):
    """A retry execution completed (delivered or failed) or was skipped."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "retry_executed", "cavra.drillops.delivery.retry-executed.v1"
    )

    family: Family
    execution_id: str
    execution_status: ExecutionStatus


class RetryExecutionRefusedV1(Contract):
    """A live worker run refused a retry: approval consumed, expired or bound to another digest."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "retry_execution_refused", "cavra.drillops.delivery.retry-execution-refused.v1"
    )

    family: Family
    run_id: str
    origin_job_id: str
    provider: str
    reason: RefusalReason
    digest: str
    approval_id: str = ""
    approved_digest: str = ""


class WorkerScheduleSetV1(Contract):
    """A family's worker schedule was set."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "worker_schedule_set", "cavra.drillops.delivery.worker-schedule-set.v1"
    )

    family: Family
    schedule: dict[str, Any]
    actor: ActorV1


# --- queries --------------------------------------------------------------------------------


class RetryPlanQueryV1(Contract):
    """A stored retry plan with a page of its decisions."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "retry_plan", "cavra.drillops.delivery.retry-plan-query.v1"
    )

    retry_plan_id: str = Field(max_length=MAX_ID_LENGTH)
    limit: int = Field(default=100, ge=0, le=MAX_DECISION_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class WorkerRunsQueryV1(Contract):
    """Worker history (spec §3.13) or, with ``dashboard``, the worker dashboard of a family."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "worker_runs", "cavra.drillops.delivery.worker-runs-query.v1"
    )

    family: Family
    dry_run: bool | None = None
    dashboard: bool = False
    limit: int = Field(default=50, ge=0, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class RetryExecutionsQueryV1(Contract):
    """Execution records of a family, optionally of one worker run."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "retry_executions", "cavra.drillops.delivery.retry-executions-query.v1"
    )

    family: Family | None = None
    run_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    limit: int = Field(default=50, ge=0, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class WorkerScheduleQueryV1(Contract):
    """A family's worker schedule (``schedule`` null when none is set)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry", SERVICE, "worker_schedule", "cavra.drillops.delivery.worker-schedule-query.v1"
    )

    family: Family


def requested_dry_run(dry_run: bool | None, execute: bool) -> bool:
    """Spec §1.4 #16: ``dry_run`` defaults to ``not execute``."""
    return (not execute) if dry_run is None else dry_run


__all__ = [
    "MAX_RETRY_DELIVERIES",
    "ExecuteRetryV1",
    "GenerateRetryPlanV1",
    "RetryExecutedV1",
    "RetryExecutionRefusedV1",
    "RetryExecutionsQueryV1",
    "RetryPlanGeneratedV1",
    "RetryPlanQueryV1",
    "RetryPolicyV1",
    "RetryRequestRejectedV1",
    "RunRetryWorkerV1",
    "SetWorkerScheduleV1",
    "WorkerRunCompletedV1",
    "WorkerRunsQueryV1",
    "WorkerScheduleQueryV1",
    "WorkerScheduleSetV1",
    "WorkerScheduleV1",
    "backoff_minutes",
    "canonical_json",
    "clamp_deliveries",
    "decide",
    "hash_id",
    "requested_dry_run",
    "retry_digest",
    "retry_job_id",
    "window",
]
