"""Notification history and dashboard (read models of the reporting service):
``GET /runtime/go-pilot/rollback-drill-notifications`` and ``.../dashboard``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from cavra_contracts.acknowledgements import AcknowledgementState
from cavra_contracts.families import Family
from cavra_contracts.limits import MAX_OFFSET
from cavra_contracts.recovery import EscalationAckState
from cavra_contracts.reporting import (
    CURSOR_PATTERN,
    CURSOR_SORT_MESSAGE,
    DASHBOARD_SCHEMA,
    HISTORY_SCHEMA,
    MAX_HISTORY_LIMIT,
    NotificationDashboardQueryV1,
    NotificationHistoryQueryV1,
)
from cavra_contracts.sorting import HISTORY_DEFAULT_SORT, HistorySort, allowed
from cavra_contracts.vocabulary import AlertLevel
from cavra_gateway.auth import Viewer
from cavra_gateway.deps import State
from cavra_gateway.errors import error_responses
from cavra_gateway.messaging import ask
from cavra_gateway.params import ID_OR_EMPTY, TEXT

router = APIRouter(
    prefix="/runtime/go-pilot/rollback-drill-notifications",
    tags=["notifications"],
    responses=error_responses(422, 503),
)

SORT_HELP = (
    f"One of {', '.join(allowed(HistorySort))}; `-x` is the exact reverse of `x`. "
    f"Default {HISTORY_DEFAULT_SORT} (newest first). `cursor` pages the default order only."
)

AckState = Literal["", AcknowledgementState, EscalationAckState]
"""Route acknowledgement states, and those of retry and recovery escalation acknowledgements."""
AlertLevelFilter = Literal["", AlertLevel]
FamilyFilter = Family | Literal[""]


@router.get(
    "",
    summary=f"Notification history ({HISTORY_SCHEMA})",
    description="Plans, redacted delivery records, acknowledgements, escalation plans, automatic "
    "escalations and every recorded retry, approval, recovery, escalation and executive-report record, "
    "newest first; every filter ANDs. Page with `offset`, or follow `next` with `cursor` "
    "for deep pages (keyset, constant time at any depth).",
)
async def history(
    state: State,
    _: Viewer,
    schedule_id: str = Query(default="", max_length=128, pattern=ID_OR_EMPTY),
    item_id: str = Query(default="", max_length=128, pattern=TEXT, description="One item by its item_id."),
    provider: str = Query(default="", max_length=64, pattern=TEXT),
    metadata_kind: str = Query(default="", max_length=200, pattern=TEXT),
    acknowledgement_state: AckState = Query(default=""),
    connector_delivery_source: str = Query(
        default="",
        max_length=200,
        pattern=TEXT,
        description="go_backend_rollback_drill_acknowledgement_audit also matches every "
        "acknowledgement-audit metadata kind.",
    ),
    delivery_success: bool | None = Query(default=None, description="Delivery records only."),
    alert_level: AlertLevelFilter = Query(default=""),
    audit_id: str = Query(default="", max_length=128, pattern=ID_OR_EMPTY),
    delivery_id: str = Query(default="", max_length=128, pattern=ID_OR_EMPTY),
    cadence: str = Query(
        default="", max_length=200, pattern=TEXT, description="A delivery plan's or worker run's cadence."
    ),
    family: FamilyFilter = Query(
        default="", description="A delivery family (its connector_delivery_source)."
    ),
    limit: int = Query(default=50, ge=1, le=MAX_HISTORY_LIMIT),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    cursor: str = Query(default="", max_length=64, pattern=f"^$|{CURSOR_PATTERN}"),
    sort: HistorySort = Query(default="", description=SORT_HELP),
) -> dict[str, Any]:
    if cursor and sort not in ("", HISTORY_DEFAULT_SORT):
        problem = {"loc": ("query", "cursor"), "msg": CURSOR_SORT_MESSAGE, "type": "value_error"}
        raise RequestValidationError([problem])
    query = NotificationHistoryQueryV1(
        item_id=item_id,
        schedule_id=schedule_id,
        provider=provider,
        metadata_kind=metadata_kind,
        acknowledgement_state=acknowledgement_state,
        connector_delivery_source=connector_delivery_source,
        delivery_success=delivery_success,
        alert_level=alert_level,
        audit_id=audit_id,
        delivery_id=delivery_id,
        cadence=cadence,
        family=family,
        limit=limit,
        offset=offset,
        cursor=cursor,
        sort=sort,
    )
    return await ask(state, query)


@router.get("/dashboard", summary=f"Notification dashboard ({DASHBOARD_SCHEMA})")
async def dashboard(state: State, _: Viewer) -> dict[str, Any]:
    return await ask(state, NotificationDashboardQueryV1())
