"""The health rules (spec §3.14, §4.7) and the alert plan's provider selection (spec §3.15): pure, no I/O.

One computation for every monitored family: the repository gathers :class:`HealthFacts` with SQL
aggregates, :func:`evaluate` turns them into the family's health report, :func:`select_providers`
decides who is alerted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cavra_contracts.audit import requested_providers
from cavra_contracts.evidence import PRODUCT
from cavra_contracts.families import FamilySpec
from cavra_contracts.health import CRITICAL_RULES, RULES, HealthNames, Rule
from cavra_contracts.retries import hash_id
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import ALERT_CRITICAL, ALERT_HEALTHY, ALERT_WARNING, AlertLevel
from cavra_delivery.commands import Rejected


@dataclass(frozen=True)
class HealthFacts:
    """What the stored runs, plans, executions and delivery records of one family say (SQL aggregates)."""

    run_count: int = 0
    latest_run_id: str | None = None
    latest_run_at: datetime | None = None
    selected_retry_count: int = 0
    pending_count: int = 0
    """Retry decisions of the latest run that wait for an approval (or an acknowledgement)."""
    latest_run_schedule_enabled: bool | None = None
    schedule_enabled: bool | None = None
    """The family's worker schedule (``None``: it has none)."""
    retry_plan_count: int = 0
    latest_retry_plan_id: str | None = None
    latest_retry_plan_at: datetime | None = None
    retryable_count: int = 0
    """Retryable decisions of the latest retry plan (the current situation, not a sum over history)."""
    execution_record_count: int = 0
    failed_execution_count: int = 0
    delivered_execution_count: int = 0
    connector_failure_count: int = 0
    failed_deliveries: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    latest_runs: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def minutes_since(now: datetime, then: datetime | None) -> float | None:
    """Minutes from ``then`` to ``now`` (2 decimals), ``None`` when there is no ``then``."""
    if then is None:
        return None
    return round((now - then).total_seconds() / 60, 2)


def _plural(noun: str) -> str:
    return f"{noun[:-1]}ies" if noun.endswith("y") else f"{noun}s"


def rule_counts(facts: HealthFacts, *, expected: int, stale: int, now: datetime) -> dict[Rule, int]:
    """The count behind each rule; a rule with a count above 0 raises its alert.

    A run is missed when the latest one is older than twice the expected interval (strictly), or
    when there is none; a retry plan is stale likewise past ``stale`` minutes.
    """
    run_age = minutes_since(now, facts.latest_run_at)
    plan_age = minutes_since(now, facts.latest_retry_plan_at)
    disabled = facts.schedule_enabled is False or facts.latest_run_schedule_enabled is False
    return {
        "missed": int(run_age is None or run_age > 2 * expected),
        "failed_execution": facts.failed_execution_count,
        "retryable": facts.retryable_count,
        "connector_failure": facts.connector_failure_count,
        "stale_plan": int(plan_age is None or plan_age > stale),
        "disabled": int(disabled),
        "pending": facts.pending_count,
    }


def alert_message(
    rule: Rule, count: int, names: HealthNames, spec: FamilySpec, *, stale: int, no_plan: bool
) -> str:
    """What one alert says (the audit family's missed-run message is the original's word for word)."""
    noun, plural = spec.noun, _plural(spec.noun)
    messages: dict[Rule, str] = {
        "missed": f"No {names.worker} run completed inside the expected schedule window.",
        "failed_execution": f"{count} {noun} retry execution(s) failed or were skipped.",
        "retryable": f"{count} failed {plural} remain retryable.",
        "connector_failure": f"{count} {plural} failed at their connectors.",
        "stale_plan": f"No {noun} retry plan was made yet."
        if no_plan
        else f"The latest {noun} retry plan is older than {stale} minutes.",
        "disabled": f"The {names.worker} schedule is disabled.",
        "pending": f"{count} {noun} retry decision(s) wait for an approval or acknowledgement.",
    }
    return messages[rule]


def alerts_of(
    counts: Mapping[Rule, int], names: HealthNames, spec: FamilySpec, *, stale: int, no_plan: bool
) -> list[dict[str, Any]]:
    """One alert per rule whose count is above 0, in rule order."""
    return [
        {
            "severity": ALERT_CRITICAL if rule in CRITICAL_RULES else ALERT_WARNING,
            "category": names.categories[rule],
            "count": counts[rule],
            "message": alert_message(rule, counts[rule], names, spec, stale=stale, no_plan=no_plan),
        }
        for rule in RULES
        if counts[rule] > 0
    ]


def level_of(alerts: Sequence[Mapping[str, Any]]) -> AlertLevel:
    """critical if any critical alert, warning if any alert, else healthy (spec §4.7)."""
    if any(alert["severity"] == ALERT_CRITICAL for alert in alerts):
        return ALERT_CRITICAL
    return ALERT_WARNING if alerts else ALERT_HEALTHY


def health_id(names: HealthNames, facts: HealthFacts, alerts: Sequence[Mapping[str, Any]]) -> str:
    """Stable while the situation is the same: no time in it, so duplicate suppression works (spec §9)."""
    return hash_id(
        names.health_prefix,
        {
            "family": names.family,
            "latest_run_id": facts.latest_run_id or "",
            "latest_retry_plan_id": facts.latest_retry_plan_id or "",
            "alerts": sorted([alert["category"], alert["count"]] for alert in alerts),
        },
    )


def recommendations(names: HealthNames, spec: FamilySpec, expected: int) -> list[str]:
    """The four standing recommendations of a health report."""
    plural = _plural(spec.noun)
    return [
        f"Keep the {names.worker} running on its schedule (every {expected} minutes or more often).",
        f"Review failed {plural} and their connectors before retrying them.",
        "Approve or acknowledge pending retries so that a live worker run can execute them.",
        "Acknowledge delivered health alerts so that none stays outstanding.",
    ]


def evaluate(
    facts: HealthFacts,
    names: HealthNames,
    spec: FamilySpec,
    *,
    expected: int,
    stale: int,
    now: datetime,
    generated_by: str,
) -> dict[str, Any]:
    """The family's health report, its fields named as the family's schema names them."""
    counts = rule_counts(facts, expected=expected, stale=stale, now=now)
    alerts = alerts_of(counts, names, spec, stale=stale, no_plan=facts.latest_retry_plan_at is None)
    generic: dict[str, Any] = {
        "run_count": facts.run_count,
        "retry_plan_count": facts.retry_plan_count,
        "execution_record_count": facts.execution_record_count,
        "retryable_count": facts.retryable_count,
        "selected_retry_count": facts.selected_retry_count,
        "pending_count": facts.pending_count,
        "missed_run_count": counts["missed"],
        "failed_execution_count": facts.failed_execution_count,
        "delivered_execution_count": facts.delivered_execution_count,
        "disabled_schedule_count": counts["disabled"],
        "stale_retry_plan_count": counts["stale_plan"],
        "connector_delivery_failure_count": facts.connector_failure_count,
        "latest_run_id": facts.latest_run_id or "",
        "latest_run_at": iso(facts.latest_run_at) if facts.latest_run_at else "",
        "latest_run_age_minutes": minutes_since(now, facts.latest_run_at),
        "latest_retry_plan_id": facts.latest_retry_plan_id or "",
        "latest_retry_plan_at": iso(facts.latest_retry_plan_at) if facts.latest_retry_plan_at else "",
        "latest_retry_plan_age_minutes": minutes_since(now, facts.latest_retry_plan_at),
        "recommendations": recommendations(names, spec, expected),
        "latest": [dict(run) for run in facts.latest_runs],
    }
    return {
        "schema_version": names.health_schema,
        "product": PRODUCT,
        "health_id": health_id(names, facts, alerts),
        "family": names.family,
        "generated_at": iso(now),
        "generated_by": generated_by,
        "alert_level": level_of(alerts),
        "expected_interval_minutes": expected,
        "missed_after_minutes": 2 * expected,
        "stale_metadata_minutes": stale,
        **{names.fields[name]: value for name, value in generic.items()},
        "failed_deliveries": [dict(record) for record in facts.failed_deliveries],
        "alert_count": len(alerts),
        "alerts": alerts,
        "controls": [
            "health is computed from the stored worker runs, retry plans, executions and deliveries "
            "whenever it is asked for, and never stored",
            "health_id names the situation (latest run, latest retry plan, alerts), not the time: "
            "an alert about the same situation is suppressed inside the suppression window",
        ],
    }


def eligible_providers(requested: str, configured: Sequence[str], routable: Sequence[str]) -> list[str]:
    """Who an alert may go to: every configured connector for ``all``, else the requested providers.

    ``Rejected`` (400, ``provider``) names requested providers that no connector serves.
    """
    wanted = requested_providers(requested)
    if not wanted:
        return sorted(set(configured))
    missing = [name for name in wanted if name not in set(routable)]
    if missing:
        raise Rejected(400, "provider", f"connector provider is not configured: {', '.join(missing)}")
    return wanted


def select_providers(
    alert_level: str, eligible: Sequence[str], recent: Mapping[str, datetime], *, force: bool
) -> tuple[list[str], list[dict[str, str]]]:
    """(selected, suppressed): providers alerted about the same health within the window are suppressed
    unless ``force``; a healthy report selects nobody, forced or not (spec §3.15, case 50)."""
    suppressed = (
        []
        if force
        else [{"provider": p, "last_delivery_at": iso(recent[p])} for p in eligible if p in recent]
    )
    if alert_level == ALERT_HEALTHY:
        return [], suppressed
    held = {item["provider"] for item in suppressed}
    return [p for p in eligible if p not in held], suppressed
