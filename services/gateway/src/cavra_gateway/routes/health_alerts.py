"""Worker health and health alerts of each monitored family (spec §1.4 #19-23, §1.6 #35-39, §1.7 #47-51):
one route builder, called once per family with the family's public paths.

The health report is a query and never writes (the original persists it on read). Deliver and
acknowledge are commands to the delivery service carrying the verified actor (its name is recorded as
``generated_by`` / ``acknowledged_by``, whatever the body says).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cavra_contracts.families import MonitoredFamily
from cavra_contracts.health import (
    DEFAULT_MAX_ALERTS,
    DEFAULT_SUPPRESSION_WINDOW_MINUTES,
    HEALTH_ALERT_STATES,
    MAX_ALERTS,
    MAX_HEALTH_HISTORY_LIMIT,
    MAX_HEALTH_MINUTES,
    MAX_NOTES_LENGTH,
    STATE_PROBLEM,
    AcknowledgeHealthAlertV1,
    DeliverHealthAlertV1,
    HealthAlertAcknowledgedV1,
    HealthAlertDashboardQueryV1,
    HealthAlertHistoryQueryV1,
    HealthAlertPlannedV1,
    HealthAlertRejectedV1,
    HealthWindowV1,
    WorkerHealthQueryV1,
    health_names,
)
from cavra_contracts.limits import (
    MAX_OFFSET,
    MAX_PLAN_ID_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDER_SELECTION_LENGTH,
    MAX_REF_LENGTH,
    MAX_RETRIES,
    MAX_TEXT_LENGTH,
    MAX_TIMEOUT_SECONDS,
)
from cavra_contracts.notifications import ConnectorsQueryV1, DeliveryOptions
from cavra_contracts.vocabulary import normalize_provider
from cavra_gateway.answers import answering, recorded
from cavra_gateway.api_models import Accepted
from cavra_gateway.auth import Operator, Viewer
from cavra_gateway.deps import GatewayState, State
from cavra_gateway.errors import error_responses, problem_response
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, ask, outcomes_of
from cavra_gateway.params import ID_OR_EMPTY, TEXT

AD = "/runtime/go-pilot/rollback-drill-notifications/acknowledgements/audit-delivery"
PROVIDER_LIST = r"^(all|[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*)$"
COMMAND_ERRORS = error_responses(400, 404, 409, 413, 422, 503)

router = APIRouter(prefix=AD, tags=["worker health"], responses=error_responses(422, 503))


@dataclass(frozen=True)
class FamilyPaths:
    """A family's public paths under AD: health report, alerts (deliver, acks, list), dashboard."""

    family: MonitoredFamily
    health: str
    alerts: str
    dashboard: str


FAMILY_PATHS: tuple[FamilyPaths, ...] = (
    FamilyPaths("audit", "/worker-health", "/worker-health-alerts", "/worker-health-alert-dashboard"),
    FamilyPaths(
        "recovery_escalation",
        "/recovery-escalations/retry-health",
        "/recovery-escalations/retry-health-alerts",
        "/recovery-escalations/retry-health-alert-dashboard",
    ),
    FamilyPaths(
        "executive_report",
        "/recovery-executive-report/delivery-retry-health",
        "/recovery-executive-report/delivery-retry-health-alerts",
        "/recovery-executive-report/delivery-retry-health-alert-dashboard",
    ),
)


class _Strict(BaseModel):
    # A claimed identity (actor_claims, actor_token) is an unknown field: 422, never trusted. Strict:
    # "yes" is not a boolean and "60" not a number.
    model_config = ConfigDict(extra="forbid", strict=True)


class DeliverAlertRequest(_Strict):
    """Body of POST …/deliver."""

    expected_interval_minutes: int | None = Field(
        default=None, ge=1, le=MAX_HEALTH_MINUTES, description="Default: the family's (30, executive 60)."
    )
    stale_metadata_minutes: int | None = Field(
        default=None, ge=1, le=MAX_HEALTH_MINUTES, description="Default: the family's (120, executive 180)."
    )
    provider: str = Field(
        default="all",
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        pattern=PROVIDER_LIST,
        description="`all` (every configured connector) or a comma list of configured providers.",
    )
    suppression_window_minutes: int = Field(
        default=DEFAULT_SUPPRESSION_WINDOW_MINUTES, ge=1, le=MAX_HEALTH_MINUTES
    )
    force: bool = Field(default=False, description="Send to providers alerted inside the window too.")
    max_alerts: int = Field(default=DEFAULT_MAX_ALERTS, ge=1, le=MAX_ALERTS)
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    timeout_seconds: float | None = Field(default=None, ge=0.1, le=MAX_TIMEOUT_SECONDS)
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the verified actor is recorded."
    )


class AlertAckRequest(_Strict):
    """Body of POST …/{health_id}/acknowledgements."""

    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=r"^[A-Za-z0-9_-]+$")
    acknowledgement_state: str = Field(
        default="acknowledged", max_length=64, description="acknowledged, dismissed, escalated or resolved"
    )
    plan_id: str = Field(default="", max_length=MAX_PLAN_ID_LENGTH, pattern=ID_OR_EMPTY)
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=MAX_NOTES_LENGTH)
    acknowledged_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the verified actor is recorded."
    )


def _window_query(family: str) -> tuple[Any, Any]:
    return (
        Query(
            default=None, ge=1, le=MAX_HEALTH_MINUTES, description=f"Default: {family}'s expected interval."
        ),
        Query(default=None, ge=1, le=MAX_HEALTH_MINUTES, description=f"Default: {family}'s stale threshold."),
    )


async def _unconfigured(state: GatewayState) -> JSONResponse | None:
    """400 before anything is sent when no connector config is loaded (the delivery service, which
    knows the connectors' provider aliases, refuses a provider that none serves)."""
    connectors = await ask(state, ConnectorsQueryV1())
    if connectors.get("configured"):
        return None
    problem = connectors.get("error") or "connector config is not configured"
    return problem_response(
        400, "connector config is not configured", [{"field": "CAVRA_CONNECTOR_CONFIG", "message": problem}]
    )


def add_family_routes(target: APIRouter, paths: FamilyPaths) -> None:
    """The five endpoints of one family's worker health and health alerts."""
    family = paths.family
    names = health_names(family)
    id_pattern = rf"^{names.health_prefix}[0-9a-f]{{16}}$"
    expected_query, stale_query = _window_query(family)

    @target.get(
        paths.health,
        name=f"{family}_worker_health",
        summary=f"Worker health of the {family} retry worker ({names.health_schema}); never stored",
        description="Missed runs (latest run older than twice the expected interval), stale retry plans, "
        "failed or skipped executions, connector failures, disabled schedules, retryable and pending "
        "decisions; `health_id` is stable while the situation is the same.",
    )
    async def worker_health(
        state: State,
        actor: Viewer,
        expected_interval_minutes: int | None = expected_query,
        stale_metadata_minutes: int | None = stale_query,
    ) -> dict[str, Any]:
        window = HealthWindowV1(
            expected_interval_minutes=expected_interval_minutes, stale_metadata_minutes=stale_metadata_minutes
        )
        answer = await ask(state, WorkerHealthQueryV1(family=family, window=window, generated_by=actor.actor))
        if family == "audit":  # spec #19 answers with the report itself, #35 and #47 with {health, metadata}
            health: dict[str, Any] = answer["health"]
            return health
        return answer

    @target.post(
        f"{paths.alerts}/deliver",
        name=f"{family}_deliver_health_alert",
        summary=f"Alert the configured providers about the {family} worker health (duplicates suppressed)",
        description="Providers alerted about the same `health_id` within `suppression_window_minutes` are "
        "suppressed unless `force`; a healthy report selects nobody. `delivery` is the pending job.",
        responses={
            200: {"description": "Planned (and delivery enqueued)"},
            202: {"model": Accepted},
            **COMMAND_ERRORS,
        },
    )
    async def deliver_alert(
        state: State,
        request: Request,
        actor: Operator,
        body: DeliverAlertRequest,
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response:
        command = Command(
            DeliverHealthAlertV1(
                family=family,
                window=HealthWindowV1(
                    expected_interval_minutes=body.expected_interval_minutes,
                    stale_metadata_minutes=body.stale_metadata_minutes,
                ),
                provider=body.provider,
                suppression_window_minutes=body.suppression_window_minutes,
                force=body.force,
                max_alerts=body.max_alerts,
                delivery=DeliveryOptions(retries=body.retries, timeout_seconds=body.timeout_seconds),
                actor=actor,
            ),
            outcomes=outcomes_of(HealthAlertPlannedV1, HealthAlertRejectedV1),
            subject=f"health/{family}",
        )

        def respond(planned: HealthAlertPlannedV1, _told: Told, _waits: Waits) -> JSONResponse:
            plan = planned.record.payload
            delivery = (
                {"status": "pending", "job_id": planned.job_id, "providers": plan["selected_providers"]}
                if planned.job_id
                else None
            )
            content = {
                "health": planned.health,
                "plan": plan,
                "delivery": delivery,
                "plan_metadata": planned.record.document(),
                "metadata": None,
                "success": None if planned.job_id else True,
                "event_id": planned.health_id,
                "actor": planned.actor.model_dump(),
            }
            return JSONResponse(status_code=200, content=content)

        answer = answering(HealthAlertPlannedV1, respond, rejected=HealthAlertRejectedV1)
        return await run_command(state, request, key, command, answer, precheck=lambda: _unconfigured(state))

    @target.post(
        f"{paths.alerts}/{{health_id}}/acknowledgements",
        name=f"{family}_acknowledge_health_alert",
        summary=f"Acknowledge a {family} worker health alert for one provider",
        status_code=201,
        responses={201: {"description": "Recorded"}, 202: {"model": Accepted}, **COMMAND_ERRORS},
    )
    async def acknowledge_alert(
        state: State,
        request: Request,
        actor: Operator,
        body: AlertAckRequest,
        health_id: str = Path(max_length=64, pattern=id_pattern),
        key: str | None = IDEMPOTENCY_KEY,
    ) -> Response:
        ack_state = body.acknowledgement_state.strip().lower().replace("-", "_")
        if ack_state not in HEALTH_ALERT_STATES:
            return problem_response(
                422, "invalid request", [{"field": "acknowledgement_state", "message": STATE_PROBLEM}]
            )
        command = Command(
            AcknowledgeHealthAlertV1.model_validate(
                {
                    "family": family,
                    "health_id": health_id,
                    "provider": normalize_provider(body.provider),
                    "acknowledgement_state": ack_state,
                    "plan_id": body.plan_id,
                    "external_ref": body.external_ref,
                    "notes": body.notes,
                    "actor": actor,
                }
            ),
            outcomes=outcomes_of(HealthAlertAcknowledgedV1, HealthAlertRejectedV1),
            subject=f"health/{family}/{health_id}",
        )

        def acknowledged(done: HealthAlertAcknowledgedV1, _told: Told, _waits: Waits) -> JSONResponse:
            return recorded("acknowledgement", done, status_code=201)

        answer = answering(HealthAlertAcknowledgedV1, acknowledged, rejected=HealthAlertRejectedV1)
        return await run_command(state, request, key, command, answer)

    @target.get(
        paths.alerts,
        name=f"{family}_health_alert_history",
        summary=f"Alert plans, acks and alert deliveries of the {family} worker ({names.history_schema})",
    )
    async def alert_history(
        state: State,
        _: Viewer,
        health_id: str = Query(default="", max_length=64, pattern=ID_OR_EMPTY),
        provider: str = Query(default="", max_length=MAX_PROVIDER_LENGTH, pattern=r"^[A-Za-z0-9_-]*$"),
        metadata_kind: str = Query(default="", max_length=MAX_TEXT_LENGTH, pattern=TEXT),
        acknowledgement_state: str = Query(default="", max_length=64, pattern=TEXT),
        suppressed: bool | None = Query(default=None),
        limit: int = Query(default=50, ge=1, le=MAX_HEALTH_HISTORY_LIMIT),
        offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    ) -> dict[str, Any]:
        query = HealthAlertHistoryQueryV1(
            family=family,
            health_id=health_id,
            provider=provider,
            metadata_kind=metadata_kind,
            acknowledgement_state=acknowledgement_state,
            suppressed=suppressed,
            limit=limit,
            offset=offset,
        )
        return await ask(state, query)

    @target.get(
        paths.dashboard,
        name=f"{family}_health_alert_dashboard",
        summary=f"Alert dashboard of the {family} worker ({names.dashboard_schema})",
    )
    async def alert_dashboard(state: State, _: Viewer) -> dict[str, Any]:
        return await ask(state, HealthAlertDashboardQueryV1(family=family))


for _paths in FAMILY_PATHS:
    add_family_routes(router, _paths)
