"""What a recorded event changes in the read models (pure): every ``RecordedEvent`` through one function.

Every event that announces a stored record carries its metadata record (``EvidenceRecordV1``, spec
§3.0b). :func:`evidence_recorded` turns any of them into one history item whose id is the record's
``session_id``: a later announcement of the same record (an execution record completing after it was
pending) replaces the item when it is newer by (``created_at``, stream sequence), so the answers stay
a function of the events whatever order they come in.

What a record counts on the dashboard is looked up by its ``metadata_kind`` in ONE table
(:data:`KIND_COUNTERS`): the field counting the records of the kind (the history's own ``kind:``
counter), hoisted numbers summed into fields, and fields counting the records whose hoisted values
match. It covers the retry kinds of every delivery family (``cavra_contracts.families``) and the
approval, recovery, escalation, health-alert and executive-report kinds of spec §3.0b. Playbooks and
closures also keep the recovery rows (open / breached recoveries, spec §3.19), approval plans and
decisions the pending approvals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cavra_contracts.acknowledgements import normalize_state
from cavra_contracts.evidence import EvidenceRecordV1, RecordedEvent
from cavra_contracts.families import (
    AD_KIND,
    EXECUTIVE_REPORT_SOURCE,
    FAMILY_SPECS,
    RECOVERY_ESCALATION_SOURCE,
    FamilySpec,
)
from cavra_contracts.recovery import CLOSED_STATES
from cavra_contracts.timestamps import parse_timestamp
from cavra_reporting.domain.model import (
    ApprovalDecision,
    ApprovalPlan,
    Change,
    EventPosition,
    EvidenceChange,
    Item,
    Recovery,
    RecoveryClosure,
    unique,
)

KIND_PREFIX: Final = "go-backend-rollback-drill-"
EVIDENCE_COUNTER: Final = "evidence:"
"""Prefix of the counters of summed and matched dashboard fields (``evidence:<field>``)."""
OPEN_RECOVERIES: Final = "recoveries:open"
"""Counter of the (playbook, provider) recovery rows whose latest closure is not resolved|mitigated."""
FAILED_EXECUTIONS: Final = frozenset({"failed", "skipped"})
UNDECIDED_APPROVALS: Final = frozenset({"deferred"})
"""Approval decisions that leave the retry waiting for a decision (approved, denied, expired decide)."""

PLAYBOOK_KIND: Final = f"{AD_KIND}-connector-recovery-playbook"
CLOSURE_KIND: Final = f"{AD_KIND}-connector-recovery-closure"
APPROVAL_PLAN_KIND: Final = f"{AD_KIND}-retry-execution-approval-plan"
APPROVAL_DECISION_KIND: Final = f"{AD_KIND}-retry-execution-approval-decision"

Values = Mapping[str, Any]
"""A record's payload overlaid with its hoisted fields: what the counters look at."""
Predicate = Callable[[Values], bool]


@dataclass(frozen=True)
class KindCounters:
    """What one record of a metadata kind counts on the dashboard."""

    count: str
    """The field counting the records of the kind."""
    sums: tuple[tuple[str, str], ...] = ()
    """(hoisted number, field summing it)."""
    matches: tuple[tuple[str, Predicate], ...] = ()
    """(field, which records it counts)."""


def count_field(kind: str) -> str:
    """The dashboard field counting records of ``kind``: the kind without ``go-backend-rollback-drill-``,
    in snake case, ``_count`` (spec §3.10 names, with the exceptions in ``COUNT_FIELD_EXCEPTIONS``)."""
    return COUNT_FIELD_EXCEPTIONS.get(kind) or kind.removeprefix(KIND_PREFIX).replace("-", "_") + "_count"


COUNT_FIELD_EXCEPTIONS: Final[Mapping[str, str]] = {
    FAMILY_SPECS["recovery_escalation"].retry_plan_kind: (
        "acknowledgement_audit_delivery_recovery_escalation_retry_plan_count"
    ),
    f"{AD_KIND}-worker-health-alert-plan": "acknowledgement_audit_delivery_worker_health_alert_count",
}
"""Where spec §3.10 does not name a counter after its kind."""


def _stem(field: str, suffix: str) -> str:
    return field.removesuffix(suffix)


def _dry(values: Values) -> bool:
    return values.get("dry_run") is not False  # a run without dry_run counts as dry (spec §3.10)


def _executed(values: Values) -> bool:
    return values.get("dry_run") is False


def _state_in(name: str, states: frozenset[str]) -> Predicate:
    return lambda values: values.get(name) in states


def _family_counters(spec: FamilySpec) -> dict[str, KindCounters]:
    """A family's retry plans (and their retryable decisions), worker runs (dry and live) and
    execution records (delivered, failed or skipped)."""
    plans = count_field(spec.retry_plan_kind)
    runs = count_field(spec.worker_run_kind)
    executions = count_field(spec.execution_kind)
    return {
        spec.retry_plan_kind: KindCounters(
            plans, sums=(("retryable_count", f"{_stem(plans, '_retry_plan_count')}_retryable_count"),)
        ),
        spec.worker_run_kind: KindCounters(
            runs,
            matches=(
                (f"{_stem(runs, '_run_count')}_dry_run_count", _dry),
                (f"{_stem(runs, '_run_count')}_executed_count", _executed),
            ),
        ),
        spec.execution_kind: KindCounters(
            executions,
            matches=(
                (
                    f"{_stem(executions, '_record_count')}_success_count",
                    _state_in("execution_status", frozenset({"delivered"})),
                ),
                (
                    f"{_stem(executions, '_record_count')}_failed_count",
                    _state_in("execution_status", FAILED_EXECUTIONS),
                ),
            ),
        ),
    }


def _plain(*suffixes: str) -> dict[str, KindCounters]:
    return {f"{AD_KIND}-{suffix}": KindCounters(count_field(f"{AD_KIND}-{suffix}")) for suffix in suffixes}


KIND_COUNTERS: Final[Mapping[str, KindCounters]] = {
    **{kind: row for spec in FAMILY_SPECS.values() for kind, row in _family_counters(spec).items()},
    **_plain(
        "retry-ack",
        "retry-recovery-report",
        "recovery-escalation-ack",
        "worker-health-alert-plan",
        "worker-health-alert-ack",
        "recovery-escalation-retry-health-alert-plan",
        "recovery-escalation-retry-health-alert-ack",
        "recovery-executive-report-delivery-retry-health-alert-plan",
        "recovery-executive-report-delivery-retry-health-alert-ack",
        "recovery-executive-report",
        "recovery-executive-report-schedule-run",
    ),
    APPROVAL_PLAN_KIND: KindCounters(count_field(APPROVAL_PLAN_KIND)),
    APPROVAL_DECISION_KIND: KindCounters(
        count_field(APPROVAL_DECISION_KIND),
        matches=(
            (
                "acknowledgement_audit_delivery_retry_execution_approved_count",
                _state_in("approval_state", frozenset({"approved"})),
            ),
        ),
    ),
    PLAYBOOK_KIND: KindCounters(count_field(PLAYBOOK_KIND)),
    CLOSURE_KIND: KindCounters(
        count_field(CLOSURE_KIND),
        matches=(
            (
                "acknowledgement_audit_delivery_connector_recovery_closed_count",
                _state_in("closure_state", CLOSED_STATES),
            ),
        ),
    ),
    f"{AD_KIND}-recovery-escalation-plan": KindCounters(
        count_field(f"{AD_KIND}-recovery-escalation-plan"),
        sums=(("escalation_count", "acknowledgement_audit_delivery_recovery_escalation_route_count"),),
    ),
    f"{AD_KIND}-recovery-escalation-retry-health": KindCounters(
        count_field(f"{AD_KIND}-recovery-escalation-retry-health"),
        sums=(
            ("alert_count", "acknowledgement_audit_delivery_recovery_escalation_retry_health_alert_count"),
        ),
    ),
}
"""metadata_kind -> what one record of it counts on the dashboard (the one table)."""

EXECUTION_FAILED_FIELDS: Final = tuple(
    field
    for spec in FAMILY_SPECS.values()
    for field, _ in KIND_COUNTERS[spec.execution_kind].matches
    if field.endswith("_failed_count")
)
"""The failed-execution fields of every family: any of them above zero makes the dashboard critical."""


DELIVERY_FIELDS: Final[Mapping[str, str]] = {
    "acknowledgement_audit_delivery_recovery_escalation_delivery_count": (
        f"deliveries:{RECOVERY_ESCALATION_SOURCE}"
    ),
    "failed_acknowledgement_audit_delivery_recovery_escalation_delivery_count": (
        f"failed_deliveries:{RECOVERY_ESCALATION_SOURCE}"
    ),
    "acknowledgement_audit_delivery_recovery_executive_report_delivery_count": (
        f"deliveries:{EXECUTIVE_REPORT_SOURCE}"
    ),
    "failed_acknowledgement_audit_delivery_recovery_executive_report_delivery_count": (
        f"failed_deliveries:{EXECUTIVE_REPORT_SOURCE}"
    ),
}
"""Delivery records of the recovery escalation and executive report sources (spec §3.10), and the
failed ones: counters of every delivery record (``domain.events``)."""


def evidence_fields() -> dict[str, str]:
    """Every dashboard field of the table (and of the recovery deliveries) -> the counter it reads."""
    fields: dict[str, str] = dict(DELIVERY_FIELDS)
    for kind, row in KIND_COUNTERS.items():
        fields[row.count] = f"kind:{kind}"
        for _, field in row.sums:
            fields[field] = f"{EVIDENCE_COUNTER}{field}"
        for field, _ in row.matches:
            fields[field] = f"{EVIDENCE_COUNTER}{field}"
    return fields


def _values(record: EvidenceRecordV1) -> dict[str, Any]:
    return {**record.payload, **record.hoisted}


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def _text(values: Values, name: str) -> str:
    value = values.get(name)
    return value if isinstance(value, str) else ""


def _cadence(values: Values) -> str:
    """A record's cadence: its own, or its schedule's (a worker run's ``schedule.cadence``, spec §3.9)."""
    schedule = values.get("schedule")
    nested = schedule.get("cadence") if isinstance(schedule, dict) else None
    return _text(values, "cadence") or (nested if isinstance(nested, str) else "")


def counted(record: EvidenceRecordV1) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
    """The matched fields' counters (one each) and the summed fields' amounts a record adds."""
    row = KIND_COUNTERS.get(record.metadata_kind)
    if row is None:
        return (), ()
    values = _values(record)
    matched = tuple(f"{EVIDENCE_COUNTER}{field}" for field, applies in row.matches if applies(values))
    sums = tuple(
        (f"{EVIDENCE_COUNTER}{field}", amount)
        for name, field in row.sums
        if (amount := _number(values.get(name)))
    )
    return matched, sums


def _when(values: Values, name: str, fallback: datetime) -> datetime:
    text = _text(values, name)
    return (parse_timestamp(text) if text else None) or fallback


def _recovery(record: EvidenceRecordV1, values: Values) -> EvidenceChange | None:
    playbook_id = _text(values, "playbook_id") or record.session_id
    if record.metadata_kind == PLAYBOOK_KIND:
        rows = values.get("provider_playbooks")
        providers = unique(
            row["provider"]
            for row in (rows if isinstance(rows, list) else [])
            if isinstance(row, dict) and isinstance(row.get("provider"), str)
        )
        generated_at = _when(values, "generated_at", record.created_at)
        return EvidenceChange(recoveries=tuple(Recovery(playbook_id, p, generated_at) for p in providers))
    provider, state = _text(values, "provider"), _text(values, "closure_state")
    if not (provider and state and _text(values, "playbook_id")):
        return None
    closed_at = _when(values, "closed_at", record.created_at)
    return EvidenceChange(closures=(RecoveryClosure(playbook_id, provider, state, closed_at),))


def _approval(record: EvidenceRecordV1, values: Values) -> EvidenceChange | None:
    if record.metadata_kind == APPROVAL_PLAN_KIND:
        required = values.get("approval_required_count", record.approval_required_count)
        plan = ApprovalPlan(record.session_id, record.created_at, _number(required))
        return EvidenceChange(approval_plan=plan)
    plan_id = _text(values, "approval_plan_id")
    if not plan_id:
        return None
    key = "|".join(_text(values, name) for name in ("retry_plan_id", "provider", "delivery_id", "audit_id"))
    decision = ApprovalDecision(
        record.session_id,
        plan_id,
        key if key.strip("|") else record.session_id,
        _text(values, "approval_state"),
    )
    return EvidenceChange(decision=decision)


def _effects(record: EvidenceRecordV1, values: Values) -> tuple[EvidenceChange | None, tuple[str, ...]]:
    if record.metadata_kind in (PLAYBOOK_KIND, CLOSURE_KIND):
        effects = _recovery(record, values)
        playbook_id = _text(values, "playbook_id") or record.session_id
        return effects, (f"recovery:{playbook_id}",) if effects else ()
    if record.metadata_kind in (APPROVAL_PLAN_KIND, APPROVAL_DECISION_KIND):
        return _approval(record, values), ()
    return None, ()


def evidence_recorded(event: RecordedEvent, at: EventPosition) -> Change:
    """Any recorded event: one history item (the record as history shows it, replacing an older
    announcement of the same record), its dashboard counters, and its recovery or approval rows."""
    record = event.record
    values = _values(record)
    matched, sums = counted(record)
    item = Item(
        item_id=record.session_id,
        metadata_kind=record.metadata_kind,
        created_at=record.created_at,
        ordinal=0,
        document=record.document(),
        schedule_id=record.schedule_id,
        plan_id=record.plan_id,
        providers=unique([*record.providers, _text(record.hoisted, "provider")]),
        acknowledgement_state=normalize_state(record.acknowledgement_state),
        connector_delivery_source=record.source,
        alert_level=record.alert_level,
        counters=matched,
        sums=sums,
        audit_id=_text(values, "audit_id"),
        delivery_id=_text(values, "delivery_id"),
        cadence=_cadence(values),
        replaceable=True,
    )
    effects, locks = _effects(record, values)
    return Change(items=(item,), evidence=effects, locks=(f"item:{record.session_id}", *locks))


__all__ = [
    "APPROVAL_DECISION_KIND",
    "APPROVAL_PLAN_KIND",
    "CLOSURE_KIND",
    "EVIDENCE_COUNTER",
    "EXECUTION_FAILED_FIELDS",
    "KIND_COUNTERS",
    "OPEN_RECOVERIES",
    "PLAYBOOK_KIND",
    "KindCounters",
    "count_field",
    "counted",
    "evidence_fields",
    "evidence_recorded",
]
