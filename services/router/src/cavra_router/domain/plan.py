"""Notification plans: one route per owner and provider, each decided once as deliver or suppress.

Owns the `cavra.go-backend-pilot.rollback-drill-notification-plan.v1` plan built from a schedule
readiness report, the owner routes inside it, the route decision precedence (healthy schedule >
maintenance window > owner calendar > deliver) with the category every decision carries, and the
`cavra.go-backend-pilot.rollback-drill-notification.v1` event that announces the plan. Connectors
render provider payloads from the event elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import (
    DELIVER,
    NOT_REQUESTED,
    NOTIFYING_STATES,
    SUPPRESS,
    alert_level,
    normalize_provider,
    normalize_providers,
)

from .policy import (
    acknowledgement_minutes,
    active_maintenance_window,
    effective_routing_policy,
    owner_availability,
    owner_rule,
    positive_int,
    rule_providers,
)

PLAN_SCHEMA = "cavra.go-backend-pilot.rollback-drill-notification-plan.v1"
EVENT_SCHEMA = "cavra.go-backend-pilot.rollback-drill-notification.v1"
EVENT_TYPE = "cavra.go_backend.rollback_drill.notification"
PRODUCT = "CAVRA"

MODE_DISABLED = "disabled"

ALL_PROVIDERS = "all"
DEFAULT_PROVIDER = "webhook"
DEFAULT_OWNER = "release-governance"
DEFAULT_GENERATED_BY = "release-governance"
DEFAULT_SESSION_ID = "go-backend-rollback-drill-schedule"
ROUTE_KEY_PREFIX = "gordroute-"

CATEGORY_DELIVER = "deliver"
CATEGORY_HEALTHY = "healthy_schedule"
CATEGORY_MAINTENANCE = "maintenance_window"
CATEGORY_CALENDAR = "owner_calendar"
CATEGORY_OTHER = "other"

DELIVER_REASON = "rollback drill is stale or due soon"
HEALTHY_REASON = "rollback drill schedule is healthy; notification suppressed"
MAINTENANCE_REASON = "matching maintenance window is active"
CALENDAR_REASON = "owner calendar marks route unavailable"
ALL_SUPPRESSED_REASON = "rollback drill notification routes are suppressed"

PLAN_CONTROLS = (
    "routing-policy-derived-from-public-safe-owner-metadata",
    "maintenance-windows-contain-no-provider-credentials",
    "owner-calendars-are-public-safe-availability-metadata",
    "notification-plan-does-not-mutate-runtime-mode",
)
EVENT_CONTROLS = (
    "notification-derived-from-public-drill-schedule",
    "no-runtime-mode-change-performed-by-public-notification",
    "connector-delivery-evidence-redacts-secrets",
    "private-connectors-remain-responsible-for-ticket-or-chat-side-effects",
)


def route_key(schedule_id: str, provider: str, owner: str) -> str:
    """The stable key of one owner x provider route of a schedule."""
    digest = hashlib.sha256(f"{schedule_id}|{provider}|{owner}".encode()).hexdigest()
    return f"{ROUTE_KEY_PREFIX}{digest[:16]}"


class PlanTooLarge(ValueError):
    """A plan would have more routes than allowed; `field` names the input that has to shrink."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class RouteTarget(NamedTuple):
    """One owner, the rule that applies to them and the providers they get a route for."""

    owner: str
    rule: dict[str, Any]
    providers: list[str]


def route_targets(
    schedule: Mapping[str, Any],
    policy: Mapping[str, Any],
    *,
    eligible_providers: Sequence[str],
    requested_providers: Sequence[str],
) -> list[RouteTarget]:
    """Who gets a route on which providers, before any route is built (cheap to count).

    An owner rule naming providers replaces the eligible ones (it is not intersected with them);
    a non-empty `requested_providers` then keeps only the requested ones.
    """
    base_providers = (
        normalize_providers(eligible_providers)
        or normalize_providers(_as_list(schedule.get("notification_providers")))
        or [DEFAULT_PROVIDER]
    )
    requested = set(normalize_providers(requested_providers))
    targets: list[RouteTarget] = []
    for owner in _owners(schedule) or [DEFAULT_OWNER]:
        rule = owner_rule(policy, owner)
        providers = rule_providers(rule) or sorted(base_providers)
        targets.append(RouteTarget(owner, rule, [p for p in providers if not requested or p in requested]))
    return targets


def build_owner_routes(
    schedule: Mapping[str, Any],
    policy: Mapping[str, Any],
    *,
    eligible_providers: Sequence[str],
    requested_providers: Sequence[str],
    now: datetime,
) -> list[dict[str, Any]]:
    """One route per owner and provider (see `route_targets`), with its SLO, escalation owner,
    window and availability."""
    targets = route_targets(
        schedule, policy, eligible_providers=eligible_providers, requested_providers=requested_providers
    )
    return _routes(str(schedule.get("schedule_id") or ""), targets, policy, now=now)


def _routes(
    schedule_id: str, targets: Sequence[RouteTarget], policy: Mapping[str, Any], *, now: datetime
) -> list[dict[str, Any]]:
    return [
        _route(schedule_id, target.owner, provider, target.rule, policy, now=now)
        for target in targets
        for provider in target.providers
    ]


def _check_route_count(
    targets: Sequence[RouteTarget],
    *,
    eligible: Sequence[str],
    policy_names_owner_routes: bool,
    max_routes: int,
) -> None:
    """Raise PlanTooLarge, naming what to shrink, when `targets` add up to more than `max_routes`."""
    count = sum(len(target.providers) for target in targets)
    if count <= max_routes:
        return
    if len(targets) * max(len(eligible), 1) > max_routes:
        field = "owners"
    elif policy_names_owner_routes:
        field = "routing_policy.owner_routes"
    else:
        field = "owner_routes"
    raise PlanTooLarge(
        f"owners x providers give {count} routes; a plan holds at most {max_routes}", field=field
    )


def build_notification_plan(
    schedule_report: Mapping[str, Any],
    *,
    plan_id: str,
    requested_provider: str = ALL_PROVIDERS,
    available_providers: Sequence[str] | None = None,
    configured_providers: Sequence[str] | None = None,
    generated_by: str = DEFAULT_GENERATED_BY,
    force: bool = False,
    routing_policy: Mapping[str, Any] | None = None,
    max_routes: int | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The notification plan for a schedule report; `plan_id` is the caller's, never derived here.

    `configured_providers` None means connectors are not checked; otherwise deliver routes to a
    provider outside it stay `deliver` and are reported in `unconfigured_providers`. A plan that
    would have more than `max_routes` routes raises PlanTooLarge before any route is built.
    """
    schedule = _schedule(schedule_report)
    policy = effective_routing_policy(schedule, routing_policy)
    status = _status(schedule_report)
    requested = requested_provider_list(requested_provider)
    eligible = _eligible_providers(schedule, available_providers, requested)
    targets = route_targets(
        schedule, policy, eligible_providers=eligible, requested_providers=requested or []
    )
    if max_routes is not None:
        _check_route_count(
            targets,
            eligible=eligible,
            policy_names_owner_routes=isinstance(routing_policy, Mapping)
            and any(name in routing_policy for name in ("owner_routes", "routing_rules")),
            max_routes=max_routes,
        )
    routes = _routes(str(schedule.get("schedule_id") or ""), targets, policy, now=now)
    should_notify = force or status in NOTIFYING_STATES
    follow_up = _FollowUp(policy, {target.owner: target.rule for target in targets})
    decisions = [
        route | decide_route(route, should_notify=should_notify) | follow_up.of(route) for route in routes
    ]
    selected = _providers_of(decisions, DELIVER)
    suppressed = _providers_of(decisions, SUPPRESS)
    return {
        "schema_version": PLAN_SCHEMA,
        "product": PRODUCT,
        "plan_id": plan_id,
        "schedule_id": str(schedule.get("schedule_id") or ""),
        "generated_at": iso(now),
        "generated_by": generated_by,
        "status": status,
        "alert_level": alert_level(status),
        "eligible_providers": eligible,
        "selected_providers": selected,
        "acknowledgement_required_providers": list(selected),
        "suppressed_providers": suppressed or [item for item in eligible if item not in selected],
        "owners": _owners(schedule),
        "owner_routes": routes,
        "route_decisions": decisions,
        "deliverable_route_count": _count(decisions, "action", DELIVER),
        "suppressed_route_count": _count(decisions, "action", SUPPRESS),
        "maintenance_suppressed_count": _count(decisions, "category", CATEGORY_MAINTENANCE),
        "calendar_suppressed_count": _count(decisions, "category", CATEGORY_CALENDAR),
        "healthy_suppressed_count": _count(decisions, "category", CATEGORY_HEALTHY),
        "unconfigured_providers": _unconfigured(selected, configured_providers),
        "next_due_at": str(schedule.get("next_due_at") or ""),
        "reason": DELIVER_REASON if selected else ALL_SUPPRESSED_REASON,
        "controls": list(PLAN_CONTROLS),
    }


class _FollowUp:
    """What happens to an unacknowledged route: where its escalation goes and when its owner is reminded."""

    def __init__(self, policy: Mapping[str, Any], rules: Mapping[str, Mapping[str, Any]]) -> None:
        self._policy = policy
        self._rules = rules
        self._escalation_providers: dict[str, list[str]] = {}

    def of(self, route: Mapping[str, Any]) -> dict[str, Any]:
        """``escalation_providers``: the providers the policy's rule for the escalation owner names
        (empty: the route's own provider); ``reminder_minutes``: the owner rule's, only below the SLO."""
        escalation_owner = str(route["escalation_owner"])
        if escalation_owner not in self._escalation_providers:
            self._escalation_providers[escalation_owner] = rule_providers(
                owner_rule(self._policy, escalation_owner)
            )
        reminder = positive_int(self._rules.get(str(route["owner"]), {}).get("reminder_minutes"), 0)
        return {
            "escalation_providers": list(self._escalation_providers[escalation_owner]),
            "reminder_minutes": reminder if 0 < reminder < int(route["acknowledgement_minutes"]) else None,
        }


def decide_route(route: Mapping[str, Any], *, should_notify: bool) -> dict[str, str]:
    """The action, reason and category of a route; the first matching rule wins."""
    if not should_notify:
        return _decision(SUPPRESS, HEALTHY_REASON, CATEGORY_HEALTHY)
    if route.get("maintenance_window"):
        return _decision(SUPPRESS, MAINTENANCE_REASON, CATEGORY_MAINTENANCE)
    availability = route.get("owner_availability")
    if isinstance(availability, Mapping) and not availability.get("available", True):
        return _decision(SUPPRESS, str(availability.get("reason") or CALENDAR_REASON), CATEGORY_CALENDAR)
    return _decision(DELIVER, DELIVER_REASON, CATEGORY_DELIVER)


def build_notification_event(
    schedule_report: Mapping[str, Any],
    *,
    plan: Mapping[str, Any],
    generated_by: str,
    now: datetime,
) -> dict[str, Any]:
    """The notification event announcing `plan`, without provider payloads."""
    schedule = _schedule(schedule_report)
    history = _mapping(schedule_report.get("history"))
    status = _status(schedule_report)
    level = alert_level(status)
    next_due_at = schedule.get("next_due_at") or "unknown"
    return {
        "schema_version": EVENT_SCHEMA,
        "product": PRODUCT,
        "event_type": EVENT_TYPE,
        "session_id": str(schedule.get("schedule_id") or DEFAULT_SESSION_ID),
        "schedule_id": str(schedule.get("schedule_id") or ""),
        "generated_at": iso(now),
        "generated_by": generated_by,
        "alert_level": level,
        "status": status,
        "mode": schedule_report.get("mode", MODE_DISABLED),
        "title": f"CAVRA Go rollback drill schedule {level}",
        "message": f"Go backend rollback drill status is {status}; next due at {next_due_at}.",
        "summary": _event_summary(schedule, history),
        "owners": list(_as_list(schedule.get("owners"))),
        "notification_providers": normalize_providers(_as_list(schedule.get("notification_providers"))),
        "owner_routes": list(plan.get("owner_routes") or []),
        "runbook_ref": schedule.get("runbook_ref", ""),
        "evidence_refs": list(_as_list(history.get("evidence_refs"))),
        "controls": list(EVENT_CONTROLS),
        "plan_id": str(plan.get("plan_id") or ""),
    }


def requested_provider_list(requested_provider: str) -> list[str] | None:
    """None for `all`, else the normalised providers of a comma list (possibly none)."""
    if normalize_provider(requested_provider) == ALL_PROVIDERS:
        return None
    return normalize_providers(requested_provider.split(","))


def _route(
    schedule_id: str,
    owner: str,
    provider: str,
    rule: Mapping[str, Any],
    policy: Mapping[str, Any],
    *,
    now: datetime,
) -> dict[str, Any]:
    return {
        "route_key": route_key(schedule_id, provider, owner),
        "schedule_id": schedule_id,
        "provider": provider,
        "owner": owner,
        "acknowledgement_minutes": acknowledgement_minutes(
            policy, rule, provider, default=rule.get("acknowledgement_minutes")
        ),
        "escalation_owner": str(rule.get("escalation_owner") or rule.get("manager") or owner),
        "maintenance_window": active_maintenance_window(
            policy, schedule_id=schedule_id, provider=provider, owner=owner, now=now
        ),
        "owner_availability": owner_availability(policy, owner, now),
    }


def _eligible_providers(
    schedule: Mapping[str, Any],
    available_providers: Sequence[str] | None,
    requested: list[str] | None,
) -> list[str]:
    eligible = (
        normalize_providers(_as_list(schedule.get("notification_providers")))
        or normalize_providers(available_providers or [])
        or [DEFAULT_PROVIDER]
    )
    if requested is None:
        return eligible
    return [provider for provider in eligible if provider in requested]


def _unconfigured(selected: list[str], configured_providers: Sequence[str] | None) -> list[str]:
    if configured_providers is None:
        return []
    configured = set(normalize_providers(configured_providers))
    return [provider for provider in selected if provider not in configured]


def _decision(action: str, reason: str, category: str) -> dict[str, str]:
    return {"action": action, "reason": reason, "category": category}


def _providers_of(decisions: Iterable[Mapping[str, Any]], action: str) -> list[str]:
    return sorted(
        {str(item["provider"]) for item in decisions if item["action"] == action and item["provider"]}
    )


def _count(decisions: Iterable[Mapping[str, Any]], field: str, value: str) -> int:
    return sum(1 for item in decisions if item.get(field) == value)


def _owners(schedule: Mapping[str, Any]) -> list[str]:
    # Duplicate owners would produce routes sharing one route_key.
    owners: list[str] = []
    for owner in _as_list(schedule.get("owners")):
        if isinstance(owner, str) and owner and owner not in owners:
            owners.append(owner)
    return owners


def _event_summary(schedule: Mapping[str, Any], history: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "environment": schedule.get("environment", ""),
        "latest_drill_id": history.get("latest_drill_id", ""),
        "latest_executed_at": history.get("latest_executed_at", ""),
        "next_due_at": schedule.get("next_due_at", ""),
        "days_until_due": schedule.get("days_until_due"),
        "stale": bool(schedule.get("stale")),
        "due_soon": bool(schedule.get("due_soon")),
        "interval_days": schedule.get("interval_days"),
    }


def _schedule(schedule_report: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(schedule_report.get("schedule"))


def _status(schedule_report: Mapping[str, Any]) -> str:
    return str(schedule_report.get("status") or NOT_REQUESTED)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list) else []
