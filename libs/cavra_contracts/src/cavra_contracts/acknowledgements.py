"""Acknowledgements of notification routes (spec §3.5, §4.3), keyed on the route id and plan.

An acknowledgement belongs to one route of one plan (``route_id``), so an ack of an old plan never
silences a newer one. ``acknowledged`` and ``resolved`` clear a route; ``escalated`` and
``dismissed`` keep it outstanding. Every way of acknowledging (API, bulk, a route action over a
filter scope, the Slack button, a one-time ack link) is one :class:`RecordAcknowledgementsV1`
and ends in the same :class:`AcknowledgementV1` records.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Final, Literal, get_args

from pydantic import Field

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OFFSET,
    MAX_OWNER_LENGTH,
    MAX_PLAN_ID_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_REF_LENGTH,
)
from cavra_contracts.scheduler import FieldProblem
from cavra_contracts.sorting import WITH_TOTAL_HELP, RouteStatesSort
from cavra_contracts.subjects import MessageSpec

SERVICE = "acknowledgement"

ACK_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-notification-ack.v1"
BULK_ACK_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-bulk-acknowledgement.v1"
ACK_KIND: Final = "go-backend-rollback-drill-notification-ack"

AcknowledgementState = Literal["acknowledged", "dismissed", "escalated", "resolved"]
ACKNOWLEDGEMENT_STATES: Final = tuple(get_args(AcknowledgementState))
RouteAckState = Literal["outstanding", "acknowledged", "dismissed", "escalated", "resolved"]
"""A route's state: ``outstanding`` until its first acknowledgement."""
OUTSTANDING: Final = "outstanding"
CLEARING_STATES: Final = frozenset({"acknowledged", "resolved"})
STATE_PROBLEM: Final = "acknowledgement_state must be acknowledged, dismissed, escalated, or resolved"

AckMode = Literal["single", "bulk", "route_action", "scope", "slack", "ack_link"]
"""How the acknowledgement was asked for."""

MAX_BULK_ROUTES: Final = 100
"""Routes in one bulk acknowledgement (spec §1.2 #7)."""
MAX_SCOPE_ROUTES: Final = 1000
"""Routes one action over a filter scope may touch; a wider scope is refused (409), not cut."""
MAX_NOTES_LENGTH: Final = 2000
MAX_ROUTE_STATES_LIMIT: Final = 500
"""Routes one page of :class:`RouteStatesQueryV1` returns."""
ROUTE_STATES_SCHEMA: Final = "cavra.drillops.acknowledgement.route-states.v1"
ACK_ID_PREFIX: Final = "gordack-"
BULK_ID_PREFIX: Final = "gordbulkack-"


def normalize_state(raw: str) -> str:
    """An acknowledgement state as stored: trimmed, lower-case, ``-`` written ``_`` (spec §3.5)."""
    return raw.strip().lower().replace("-", "_")


def clears(state: str) -> bool:
    """Does ``state`` clear a route (no longer outstanding)?"""
    return state in CLEARING_STATES


def acknowledgement_id(source_id: str, route_id: str) -> str:
    """``gordack-<16 hex>``: deterministic from the command (message id) and the route, so a
    redelivered command names the same records and stores nothing twice."""
    digest = hashlib.sha256(f"{source_id}\x1f{route_id}".encode()).hexdigest()
    return f"{ACK_ID_PREFIX}{digest[:16]}"


def bulk_id(count: int, first_acknowledgement_id: str) -> str:
    """``gordbulkack-{count}-{first acknowledgement_id}`` (spec §1.2 #7)."""
    return f"{BULK_ID_PREFIX}{count}-{first_acknowledgement_id}"


class AcknowledgementV1(Contract):
    """One acknowledgement of one route (``cavra.go-backend-pilot.rollback-drill-notification-ack.v1``)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "acknowledgement",
        ACK_SCHEMA,
        summary="Part of AcknowledgementsRecordedV1.",
        channel=False,
    )

    schema_version: Literal["cavra.go-backend-pilot.rollback-drill-notification-ack.v1"] = ACK_SCHEMA
    product: str = "CAVRA"
    acknowledgement_id: str
    route_id: str
    schedule_id: str
    plan_id: str
    provider: str
    owner: str
    acknowledged_by: str
    acknowledgement_state: AcknowledgementState
    previous_state: RouteAckState
    acknowledged_at: str
    external_ref: str = ""
    notes: str = ""
    mode: AckMode = "single"
    actor: ActorV1


class AckTargetV1(Contract):
    """Which route(s) one acknowledgement is for: a route id, or schedule + provider (+ plan, owner)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "ack_target", "cavra.drillops.acknowledgement.ack-target.v1", channel=False
    )

    route_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH)
    plan_id: str = Field(
        default="", max_length=MAX_PLAN_ID_LENGTH, description="Default: the schedule's latest plan."
    )
    owner: str = Field(
        default="", max_length=MAX_OWNER_LENGTH, description="Default: every owner on that provider."
    )
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)


class RouteScopeV1(Contract):
    """A filter over the routes of the current plan of each schedule (the console's filter scope)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "route_scope", "cavra.drillops.acknowledgement.route-scope.v1", channel=False
    )

    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH)
    owner: str = Field(default="", max_length=MAX_OWNER_LENGTH)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH)
    route_id: str = Field(default="", max_length=MAX_ID_LENGTH, description="One route, by its id.")
    state: RouteAckState | Literal[""] = Field(default="", description="A route state, or empty: any.")
    breached: bool | None = Field(
        default=None, description="True: not cleared and age >= SLO; False: the others; None: any."
    )


class RecordAcknowledgementsV1(Contract):
    """Record one acknowledgement state for the routes named by ``targets`` or matched by ``scope``.

    All or nothing: when any target names no route of any plan, nothing is stored and the answer
    is an :class:`AcknowledgementRejectedV1`.
    """

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "record_acknowledgements",
        "cavra.drillops.acknowledgement.record-acknowledgements.v1",
        summary="Ack / escalate / resolve / dismiss routes (single, bulk, scope, Slack, ack link).",
    )

    mode: AckMode
    acknowledgement_state: AcknowledgementState
    actor: ActorV1
    targets: list[AckTargetV1] = Field(default_factory=list, max_length=MAX_BULK_ROUTES)
    scope: RouteScopeV1 | None = None
    expected_count: int | None = Field(
        default=None, ge=0, le=MAX_SCOPE_ROUTES, description="Scope: refuse (409) when the count differs."
    )
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)
    link_id: str = Field(default="", max_length=MAX_ID_LENGTH, description="Ack link: its one-time id.")


class AcknowledgementsRecordedV1(Contract):
    """Routes were acknowledged (or escalated, resolved, dismissed): the audit trail of every change."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "acknowledgements_recorded",
        "cavra.drillops.acknowledgement.acknowledgements-recorded.v1",
        summary="One or more AcknowledgementV1 records, with actor and before/after state.",
    )

    bulk_id: str
    mode: AckMode
    acknowledgement_state: AcknowledgementState
    acknowledgement_count: int
    acknowledgements: list[AcknowledgementV1]
    actor: ActorV1


class AcknowledgementRejectedV1(Contract):
    """An acknowledgement command was refused; nothing was stored."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "acknowledgement_rejected",
        "cavra.drillops.acknowledgement.acknowledgement-rejected.v1",
        summary="404 unknown schedule/plan/provider/route, 409 scope changed or link used, 422 bad field.",
    )

    status_code: int
    problems: list[FieldProblem]


class RouteStatesQueryV1(Contract):
    """Ask for the routes of the current plan of each schedule matching a scope, with their state."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "route_states",
        "cavra.drillops.acknowledgement.route-states-query.v1",
        summary=f"Reply: {ROUTE_STATES_SCHEMA} {{items: [route, state, age, SLO, breached], total}}.",
    )

    scope: RouteScopeV1 = Field(default_factory=RouteScopeV1)
    limit: int = Field(default=50, ge=0, le=MAX_ROUTE_STATES_LIMIT, description="0: only the total.")
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    sort: RouteStatesSort = Field(
        default="", description="Order of the page (empty: schedule, provider, owner, route id)."
    )
    with_total: bool = Field(default=True, description=WITH_TOTAL_HELP)


def ack_metadata(ack: AcknowledgementV1) -> dict[str, Any]:
    """The ``go-backend-rollback-drill-notification-ack`` evidence record of one acknowledgement."""
    return {
        "schema_version": "cavra.evidence.metadata.v1",
        "product": "CAVRA",
        "session_id": ack.acknowledgement_id,
        "created_at": ack.acknowledged_at,
        "signer": ack.acknowledged_by,
        "decision_count": 1,
        "blocked_count": 0,
        "approval_required_count": 0,
        "metadata_kind": ACK_KIND,
        "acknowledgement_id": ack.acknowledgement_id,
        "route_id": ack.route_id,
        "schedule_id": ack.schedule_id,
        "plan_id": ack.plan_id,
        "provider": ack.provider,
        "owner": ack.owner,
        "acknowledgement_state": ack.acknowledgement_state,
        "previous_state": ack.previous_state,
        "mode": ack.mode,
    }


__all__ = [
    "ACKNOWLEDGEMENT_STATES",
    "AckTargetV1",
    "AcknowledgementRejectedV1",
    "AcknowledgementV1",
    "AcknowledgementsRecordedV1",
    "RecordAcknowledgementsV1",
    "RouteScopeV1",
    "RouteStatesQueryV1",
    "ack_metadata",
    "acknowledgement_id",
    "bulk_id",
    "clears",
    "normalize_state",
]
