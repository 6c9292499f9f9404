"""Signed acknowledgement audit packages, their delivery and delivery schedules, the public keys and the
chain export: ``/runtime/go-pilot/rollback-drill-notifications/...``.

Mutations are commands to the acknowledgement service carrying the verified actor (its name is the
package's ``generated_by``, whatever the body says); reads are queries.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cavra_contracts.audit import (
    CADENCE_PATTERN,
    MAX_EXPORT_PACKAGES,
    AuditChainQueryV1,
    AuditDeliveryPlannedV1,
    AuditFiltersV1,
    AuditKeysQueryV1,
    AuditPackageGeneratedV1,
    AuditPackageQueryV1,
    AuditRequestRejectedV1,
    AuditScheduleCancelledV1,
    AuditSchedulesQueryV1,
    CancelAuditScheduleV1,
    DeliverAuditPackageV1,
    GenerateAuditPackageV1,
    cadence_minutes,
    chain_export,
    unconfigured_providers,
)
from cavra_contracts.base import Timestamp
from cavra_contracts.deliveries import AUDIT_SOURCE, MessageDeliveredV1
from cavra_contracts.envelope import utc_now
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OWNER_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDER_SELECTION_LENGTH,
    MAX_RETRIES,
    MAX_TEXT_LENGTH,
    MAX_TIMEOUT_SECONDS,
)
from cavra_contracts.notifications import ConnectorsQueryV1, DeliveryOptions, DeliveryStatusQueryV1
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import normalize_provider
from cavra_gateway.api_models import Accepted
from cavra_gateway.auth import Operator, Viewer, refuse_claimed_identity
from cavra_gateway.deps import GatewayState, State
from cavra_gateway.errors import error_responses, problem_response, rejection_response
from cavra_gateway.idempotency import IDEMPOTENCY_KEY, run_command
from cavra_gateway.messaging import Command, Told, Waits, accepted, ask, outcomes_of
from cavra_gateway.params import ID_OR_EMPTY, TEXT

PREFIX = "/runtime/go-pilot/rollback-drill-notifications"
router = APIRouter(prefix=PREFIX, tags=["audit"], responses=error_responses(422, 503))
AUDIT_PACKAGE_RESPONSE = "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-package.v1"
AUDIT_ID_PATTERN = r"^gordackaudit-[0-9a-f]{16}$"
SCHEDULE_REF_ID_PATTERN = r"^gordackauditschedule-[0-9a-f]{16}$"
PROVIDER_LIST = r"^(all|[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*)$"
COMMAND_ERRORS = error_responses(400, 404, 409, 413, 422, 503)


class AuditPackageRequest(BaseModel):
    """Body of POST .../acknowledgements/audit-package: filters over the current plan of each schedule."""

    model_config = ConfigDict(extra="forbid")  # a claimed identity (actor_claims) is a 422, never trusted

    schedule_id: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    provider: str = Field(default="", max_length=MAX_PROVIDER_LENGTH, pattern=r"^[A-Za-z0-9_-]*$")
    owner: str = Field(default="", max_length=MAX_OWNER_LENGTH, pattern=TEXT)
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the verified actor is recorded."
    )

    def filters(self) -> AuditFiltersV1:
        provider = normalize_provider(self.provider) if self.provider else ""
        return AuditFiltersV1(schedule_id=self.schedule_id, provider=provider, owner=self.owner.strip())


class AuditDeliveryRequest(AuditPackageRequest):
    """Body of POST .../acknowledgements/audit-delivery."""

    delivery_provider: str = Field(
        default="",
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        pattern=rf"^$|{PROVIDER_LIST}",
        description="`all` or a comma list. Default: `provider`, else `all`.",
    )
    cadence: str = Field(
        default="on_demand",
        max_length=32,
        pattern=CADENCE_PATTERN,
        description="on_demand (once), hourly, daily, weekly or every_N_minutes (N up to 43200): "
        "anything but on_demand schedules the next deliveries.",
    )
    schedule_ref: str = Field(default="", max_length=MAX_ID_LENGTH, pattern=ID_OR_EMPTY)
    next_delivery_at: Timestamp | None = Field(
        default=None, description="First scheduled delivery. Default: now + one cadence interval."
    )
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    timeout_seconds: float | None = Field(default=None, ge=0.1, le=MAX_TIMEOUT_SECONDS)

    @field_validator("cadence")
    @classmethod
    def _known_cadence(cls, value: str) -> str:
        cadence_minutes(value)  # ValueError: 422 naming cadence
        return value

    def requested(self) -> str:
        return self.delivery_provider or self.provider or "all"


def _package_poll(audit_id: str) -> str:
    return f"{PREFIX}/acknowledgements/audit-packages/{audit_id}"


def _decoded(envelope: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return document


async def _stored_package(state: GatewayState, audit_id: str) -> dict[str, Any]:
    return await ask(state, AuditPackageQueryV1(audit_id=audit_id))


Outcome = TypeVar("Outcome", AuditPackageGeneratedV1, AuditDeliveryPlannedV1, AuditScheduleCancelledV1)


def _answering(
    contract: type[Outcome], respond: Callable[[Outcome, Told, Waits], Awaitable[JSONResponse]]
) -> Callable[[Told, Waits], Awaitable[JSONResponse]]:
    """Answer a command: 202 while no outcome has come, the rejection's problems, else ``respond``."""

    async def answer(told: Told, waits: Waits) -> JSONResponse:
        outcome = await told.outcome(waits.outcome)
        if outcome is None:
            return accepted(told)
        if outcome.type == AuditRequestRejectedV1.MESSAGE.subject:
            rejected = AuditRequestRejectedV1.model_validate(outcome.payload)
            return rejection_response(rejected.status_code, rejected.problems)
        return await respond(contract.model_validate(outcome.payload), told, waits)

    return answer


@router.post(
    "/acknowledgements/audit-package",
    summary=f"A signed, hash-chained acknowledgement audit package ({AUDIT_PACKAGE_RESPONSE})",
    description="Per route of the current plan of each schedule matching the filters: its latest "
    "acknowledgement state, and the counts of the package. `envelope` is the DSSE envelope "
    "(Ed25519) that `cavra audit verify` checks offline.",
    responses={200: {"description": "Signed and chained"}, 202: {"model": Accepted}, **COMMAND_ERRORS},
)
async def audit_package(
    state: State,
    request: Request,
    actor: Operator,
    body: AuditPackageRequest,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    command = Command(
        GenerateAuditPackageV1(filters=body.filters(), actor=actor),
        outcomes=outcomes_of(AuditPackageGeneratedV1, AuditRequestRejectedV1),
        subject="audit/package",
    )

    async def respond(generated: AuditPackageGeneratedV1, told: Told, waits: Waits) -> JSONResponse:
        stored = await _stored_package(state, generated.audit_id)
        return JSONResponse(
            status_code=200, content=_package_view(stored) | {"actor": generated.actor.model_dump()}
        )

    return await run_command(state, request, key, command, _answering(AuditPackageGeneratedV1, respond))


def _package_view(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "audit_package": _decoded(stored["envelope"]),
        "envelope": stored["envelope"],
        "metadata": stored["metadata"],
    }


async def _unconfigured(state: GatewayState, requested: str) -> JSONResponse | None:
    connectors = await ask(state, ConnectorsQueryV1())
    if not connectors.get("configured"):
        problem = connectors.get("error") or "connector config is not configured"
        return problem_response(
            400,
            "connector config is not configured",
            [{"field": "CAVRA_CONNECTOR_CONFIG", "message": problem}],
        )
    missing = unconfigured_providers(requested, connectors.get("routable_providers", []))
    if not missing:
        return None
    message = f"connector provider is not configured: {', '.join(missing)}"
    return problem_response(400, "rejected", [{"field": "delivery_provider", "message": message}])


@router.post(
    "/acknowledgements/audit-delivery",
    summary="Deliver a signed audit package to SIEM / ITSM / ChatOps / webhook connectors",
    description="Builds and signs a package, its delivery plan (spec 3.11) and a delivery job with source "
    f"`{AUDIT_SOURCE}` (routes without notes). A `cadence` other than `on_demand` creates an audit schedule "
    "that delivers a fresh package every interval until it is cancelled.",
    responses={
        200: {"description": "Planned and delivered (see `delivery`)"},
        202: {
            "description": "Queued (`status` accepted), or planned with the delivery under way: poll `poll`"
        },
        **COMMAND_ERRORS,
    },
)
async def audit_delivery(
    state: State,
    request: Request,
    actor: Operator,
    body: AuditDeliveryRequest,
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    requested = body.requested()
    command = Command(
        DeliverAuditPackageV1(
            filters=body.filters(),
            delivery_provider=requested,
            cadence=body.cadence,
            schedule_ref=body.schedule_ref,
            next_delivery_at=body.next_delivery_at,
            delivery=DeliveryOptions(retries=body.retries, timeout_seconds=body.timeout_seconds),
            actor=actor,
        ),
        outcomes=outcomes_of(AuditDeliveryPlannedV1, AuditRequestRejectedV1),
        downstream=outcomes_of(MessageDeliveredV1),
        subject="audit/delivery",
    )

    async def respond(planned: AuditDeliveryPlannedV1, told: Told, waits: Waits) -> JSONResponse:
        stored = await _stored_package(state, planned.audit_id)
        view = _package_view(stored)
        delivered_plan = next(
            d for d in stored["deliveries"] if d["delivery_plan"]["delivery_id"] == planned.delivery_id
        )
        response: dict[str, Any] = {
            "audit_package": view["audit_package"],
            "envelope": view["envelope"],
            "audit_metadata": view["metadata"],
            "delivery_plan": delivered_plan["delivery_plan"],
            "plan_metadata": delivered_plan["metadata"],
            "delivery": None,
            "metadata": None,
            "success": None,
            "schedule": delivered_plan["schedule"],
            "actor": planned.actor.model_dump(),
        }
        delivered = await told.downstream(waits.downstream)
        if delivered is None:
            return JSONResponse(status_code=202, content=response | {"poll": _package_poll(planned.audit_id)})
        message = MessageDeliveredV1.model_validate(delivered.payload)
        status = await ask(state, DeliveryStatusQueryV1(plan_id=planned.delivery_id))
        record = status.get("record") or {}
        response["delivery"] = message.model_dump(mode="json")
        response["metadata"] = record | {"audit_id": planned.audit_id, "delivery_id": planned.delivery_id}
        response["success"] = message.success
        return JSONResponse(status_code=200, content=response)

    return await run_command(
        state,
        request,
        key,
        command,
        _answering(AuditDeliveryPlannedV1, respond),
        precheck=lambda: _unconfigured(state, requested),
    )


@router.get("/acknowledgements/audit-schedules", summary="Audit delivery schedules (active first)")
async def audit_schedules(
    state: State,
    _: Viewer,
    include_cancelled: bool = Query(default=False),
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    return await ask(state, AuditSchedulesQueryV1(include_cancelled=include_cancelled, limit=limit))


@router.delete(
    "/acknowledgements/audit-schedules/{schedule_ref_id}",
    summary="Cancel an audit delivery schedule: it delivers nothing more",
    responses={200: {"description": "Cancelled"}, 202: {"model": Accepted}, **error_responses(404, 409, 503)},
)
async def cancel_audit_schedule(
    state: State,
    request: Request,
    actor: Operator,
    schedule_ref_id: str = Path(max_length=MAX_ID_LENGTH, pattern=SCHEDULE_REF_ID_PATTERN),
    body: dict[str, Any] | None = Body(default=None, description="None needed; a claimed identity is a 422."),
    key: str | None = IDEMPOTENCY_KEY,
) -> Response:
    if body and (refused := refuse_claimed_identity(body)):
        return refused
    command = Command(
        CancelAuditScheduleV1(schedule_ref_id=schedule_ref_id, actor=actor),
        outcomes=outcomes_of(AuditScheduleCancelledV1, AuditRequestRejectedV1),
        subject=f"audit-schedule/{schedule_ref_id}",
    )

    async def respond(cancelled: AuditScheduleCancelledV1, told: Told, waits: Waits) -> JSONResponse:
        return JSONResponse(
            status_code=200, content={**cancelled.model_dump(mode="json"), "state": "cancelled"}
        )

    return await run_command(state, request, key, command, _answering(AuditScheduleCancelledV1, respond))


@router.get(
    "/audit-keys",
    summary="Public keys that sign audit packages (key_id = SHA-256 of the raw Ed25519 public key)",
)
async def audit_keys(state: State, _: Viewer) -> dict[str, Any]:
    return await ask(state, AuditKeysQueryV1())


@router.get(
    "/acknowledgements/audit-packages/export",
    summary="The package chain for offline verification (`cavra audit verify FILE --key KEYS`)",
    description="Packages `first_sequence`..`last_sequence` (default: the head), at most "
    f"{MAX_EXPORT_PACKAGES}, with a signed statement of the exported range and the public keys.",
    responses=error_responses(404, 422),
)
async def export_chain(
    state: State,
    _: Viewer,
    first_sequence: int = Query(default=1, ge=1, le=2**62),
    last_sequence: int | None = Query(default=None, ge=1, le=2**62),
) -> Response:
    if last_sequence is not None and last_sequence < first_sequence:
        return problem_response(
            422,
            "invalid request",
            [{"field": "query.last_sequence", "message": "must be at least first_sequence"}],
        )
    envelopes: list[dict[str, Any]] = []
    after: int | None = None
    for _page in range(MAX_EXPORT_PACKAGES + 1):  # every page holds at least one package
        page = await ask(
            state,
            AuditChainQueryV1(
                first_sequence=first_sequence, last_sequence=last_sequence, after_sequence=after
            ),
        )
        if last_sequence is None:
            last_sequence = int(page["last_sequence"])
            if last_sequence - first_sequence + 1 > MAX_EXPORT_PACKAGES:
                message = f"at most {MAX_EXPORT_PACKAGES} packages per export: pass last_sequence"
                return problem_response(
                    422, "invalid request", [{"field": "query.last_sequence", "message": message}]
                )
        envelopes += [item["envelope"] for item in page["packages"]]
        if page["complete"]:
            break
        after = int(page["next_after"])
    else:
        return problem_response(503, "the audit chain did not finish paging; try again", [])
    keys = await ask(state, AuditKeysQueryV1())
    exported = chain_export(envelopes, page["statement"], keys["keys"], exported_at=iso(utc_now()))
    return JSONResponse(status_code=200, content=exported)


@router.get(
    "/acknowledgements/audit-packages/{audit_id}",
    summary="One signed audit package with its delivery plans",
    responses=error_responses(404),
)
async def stored_audit_package(
    state: State, _: Viewer, audit_id: str = Path(max_length=64, pattern=AUDIT_ID_PATTERN)
) -> dict[str, Any]:
    stored = await _stored_package(state, audit_id)
    return _package_view(stored) | {
        "sequence": stored["sequence"],
        "trigger": stored["trigger"],
        "deliveries": stored["deliveries"],
    }
