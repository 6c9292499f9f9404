"""Evaluate stored schedules and drill runs with the pure domain rules (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cavra_contracts.scheduler import ScheduleListV1, ScheduleStateV1
from cavra_contracts.schedules import HISTORY_FILE_SCHEMA
from cavra_scheduler import domain
from cavra_scheduler.repository import ListedSchedule
from cavra_scheduler.settings import SchedulerSettings

NO_SCHEDULE_STORED = "no rollback drill schedule is stored"
NO_HISTORY_RECORDED = "no rollback drill history is recorded"


@dataclass(frozen=True)
class EvaluationConfig:
    """The knobs the readiness rules depend on."""

    mode: str
    schedule_path: str
    history_path: str
    due_soon_days: float
    max_age_days: float

    @classmethod
    def from_settings(cls, settings: SchedulerSettings) -> EvaluationConfig:
        return cls(
            mode=settings.go_backend_mode,
            schedule_path=settings.go_rollback_drill_schedule,
            history_path=settings.go_rollback_drill_history,
            due_soon_days=settings.go_rollback_drill_due_soon_days,
            max_age_days=settings.go_rollback_drill_max_age_days,
        )


@dataclass(frozen=True)
class Evaluation:
    """One schedule evaluated at one instant."""

    report: dict[str, Any]
    next_change_at: datetime | None

    @property
    def status(self) -> str:
        return str(self.report["status"])


def history_document(drills: Sequence[dict[str, Any]], environment: str = "") -> dict[str, Any]:
    """Stored drill runs as a drill-history document the domain rules understand."""
    return {"schema_version": HISTORY_FILE_SCHEMA, "environment": environment, "drills": list(drills)}


def evaluate_history(
    drills: Sequence[dict[str, Any]], environment: str, config: EvaluationConfig, now: datetime
) -> dict[str, Any]:
    """The history report over ``drills``."""
    summary = domain.history_summary(
        history_document(drills, environment), problem=None, max_age_days=config.max_age_days, now=now
    )
    requested = config.mode == "promoted" or bool(config.history_path) or bool(drills)
    return domain.history_report(
        mode=config.mode,
        history_path=config.history_path,
        max_age_days=config.max_age_days,
        summary=summary,
        requested=requested,
    )


def evaluate_schedule(
    schedule: dict[str, Any] | None,
    drills: Sequence[dict[str, Any]],
    environment: str,
    config: EvaluationConfig,
    now: datetime,
) -> Evaluation:
    """The schedule report of one stored schedule (or of none, when nothing is stored)."""
    history_doc = history_document(drills, environment) if drills else None
    history_problem = None if drills else NO_HISTORY_RECORDED
    history = domain.history_summary(
        history_doc, problem=history_problem, max_age_days=config.max_age_days, now=now
    )
    problem = None if schedule is not None else NO_SCHEDULE_STORED
    summary = domain.schedule_summary(
        schedule, history, problem=problem, due_soon_days=config.due_soon_days, now=now
    )
    requested = schedule is not None or config.mode == "promoted" or bool(config.schedule_path)
    report = domain.schedule_report(
        mode=config.mode,
        schedule_path=config.schedule_path,
        due_soon_days=config.due_soon_days,
        summary=summary,
        history=history,
        requested=requested,
    )
    next_change = (
        domain.next_state_change_at(schedule, history, due_soon_days=config.due_soon_days, now=now)
        if schedule is not None
        else None
    )
    return Evaluation(report=report, next_change_at=next_change)


def schedule_state(
    evaluation: Evaluation, *, version: int, updated_at: datetime, evaluated_at: datetime
) -> ScheduleStateV1:
    """The list-item view of an evaluated schedule."""
    summary = evaluation.report["schedule"]
    return ScheduleStateV1(
        schedule_id=summary["schedule_id"],
        environment=summary["environment"],
        status=evaluation.report["status"],
        alert_level=domain.alert_level(evaluation.status),
        active=summary["active"],
        next_due_at=summary["next_due_at"],
        days_until_due=summary["days_until_due"],
        stale=summary["stale"],
        due_soon=summary["due_soon"],
        owners=summary["owners"],
        notification_providers=summary["notification_providers"],
        runbook_ref=summary["runbook_ref"],
        version=version,
        updated_at=updated_at,
        evaluated_at=evaluated_at,
        next_evaluation_at=evaluation.next_change_at,
    )


def schedule_list(
    page: Sequence[ListedSchedule],
    *,
    total: int,
    limit: int,
    offset: int,
    config: EvaluationConfig,
    now: datetime,
) -> ScheduleListV1:
    """A page of schedules (``repository.list_schedules_with_drills``) evaluated at ``now``."""
    items = [
        schedule_state(
            evaluate_schedule(item.stored.document, item.drills, item.environment, config, now),
            version=item.stored.version,
            updated_at=item.stored.updated_at,
            evaluated_at=now,
        )
        for item in page
    ]
    return ScheduleListV1(items=items, total=total, limit=limit, offset=offset)
