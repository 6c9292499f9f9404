"""Pure rules of acknowledgements: building the records, breach, how a route is shown (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from cavra_contracts.acknowledgements import (
    AcknowledgementV1,
    AckTargetV1,
    RecordAcknowledgementsV1,
    acknowledgement_id,
    clears,
)
from cavra_contracts.timestamps import iso


def breached(state: str, created_at: datetime, minutes: int, now: datetime) -> bool:
    """Not cleared, and its age has reached the SLO (inclusive: age == SLO breaches, spec §8.3 #33)."""
    return not clears(state) and now - created_at >= timedelta(minutes=minutes)


def age_minutes(created_at: datetime, now: datetime) -> float:
    return round((now - created_at).total_seconds() / 60, 4)


def field_prefix(command: RecordAcknowledgementsV1, index: int) -> str:
    """How the gateway names target ``index``'s fields: ``routes[3].`` in a bulk, nothing otherwise."""
    return f"routes[{index}]." if command.mode == "bulk" else ""


def build(
    command: RecordAcknowledgementsV1,
    command_id: str,
    covered: Iterable[tuple[Mapping[str, Any], AckTargetV1 | None]],
    now: datetime,
) -> list[AcknowledgementV1]:
    """One record per route (each route once, first target wins), in the order the command named them.

    A target's own ``external_ref`` / ``notes`` win over the command's (spec §1.2 #7).
    """
    records: list[AcknowledgementV1] = []
    seen: set[str] = set()
    at = iso(now)
    for route, target in covered:
        route_id = str(route["route_id"])
        if route_id in seen:
            continue
        seen.add(route_id)
        records.append(
            AcknowledgementV1(
                acknowledgement_id=acknowledgement_id(command_id, route_id),
                route_id=route_id,
                schedule_id=route["schedule_id"],
                plan_id=route["plan_id"],
                provider=route["provider"],
                owner=route["owner"],
                acknowledged_by=command.actor.actor,
                acknowledgement_state=command.acknowledgement_state,
                previous_state=route["state"],
                acknowledged_at=at,
                external_ref=(target.external_ref if target else "") or command.external_ref,
                notes=(target.notes if target else "") or command.notes,
                mode=command.mode,
                actor=command.actor,
            )
        )
    return records


def route_view(route: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A route as the route states query shows it (the console's escalation row)."""
    created_at: datetime = route["route_created_at"]
    minutes = int(route["acknowledgement_minutes"])
    is_breached = breached(route["state"], created_at, minutes, now)
    acknowledged_at = route["acknowledged_at"]
    return {
        "route_id": route["route_id"],
        "plan_id": route["plan_id"],
        "schedule_id": route["schedule_id"],
        "provider": route["provider"],
        "owner": route["owner"],
        "escalation_owner": route["escalation_owner"],
        "state": route["state"],
        "acknowledged": clears(route["state"]),
        "acknowledgement_minutes": minutes,
        "created_at": iso(created_at),
        "age_minutes": age_minutes(created_at, now),
        "breached": is_breached,
        "due_at": iso(created_at + timedelta(minutes=minutes)),
        "acknowledgement_id": route["acknowledgement_id"] or "",
        "acknowledged_by": route["acknowledged_by"] or "",
        "acknowledged_at": iso(acknowledged_at) if acknowledged_at else "",
        "external_ref": route["external_ref"] or "",
        "notes": route["notes"] or "",
    }
