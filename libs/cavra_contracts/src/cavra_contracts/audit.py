"""Signed acknowledgement audit packages (spec §3.11, §4.4), their delivery and delivery schedules.

An audit package states, for the current plan of each schedule matching the filters, every
delivered route with its latest acknowledgement state and the counts of spec §3.11. The
acknowledgement service signs each package as a DSSE envelope (payload type
:data:`AUDIT_PAYLOAD_TYPE`, Ed25519, key id = SHA-256 hex of the raw public key) and chains it to
the previous one (``sequence``, ``previous_hash``), so a changed byte, a removed or a reordered
package is detectable offline (``cavra audit verify``).

Events carry a package's summary and the reference of its signed envelope (``audit_id``,
``sequence``, ``payload_sha256``, ``key_id``), never the routes: the envelope is asked for with
:class:`AuditPackageQueryV1`. A package is delivered (:class:`DeliverAuditPackageV1`) as a
``DeliverMessageV1`` job with source ``AUDIT_SOURCE``; a cadence other than ``on_demand`` also
creates an audit schedule that delivers the next packages by itself until it is cancelled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import Field, StringConstraints

from cavra_contracts.actors import ActorV1
from cavra_contracts.base import Contract, Timestamp
from cavra_contracts.limits import (
    MAX_ID_LENGTH,
    MAX_OWNER_LENGTH,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDER_SELECTION_LENGTH,
)
from cavra_contracts.notifications import DeliveryOptions
from cavra_contracts.scheduler import FieldProblem
from cavra_contracts.subjects import MessageSpec
from cavra_contracts.vocabulary import AlertLevel, normalize_providers

SERVICE = "acknowledgement"

AUDIT_PACKAGE_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-package.v1"
AUDIT_PACKAGE_KIND: Final = "go-backend-rollback-drill-acknowledgement-audit-package"
AUDIT_DELIVERY_PLAN_SCHEMA: Final = (
    "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery-plan.v1"
)
AUDIT_DELIVERY_PLAN_KIND: Final = "go-backend-rollback-drill-acknowledgement-audit-delivery-plan"
AUDIT_DELIVERY_SCHEMA: Final = "cavra.go-backend-pilot.rollback-drill-acknowledgement-audit-delivery.v1"
AUDIT_DELIVERY_EVENT_TYPE: Final = "cavra.go_backend.rollback_drill.acknowledgement_audit_delivery"
AUDIT_PAYLOAD_TYPE: Final = "application/vnd.cavra.audit-package+json"
AUDIT_HEAD_PAYLOAD_TYPE: Final = "application/vnd.cavra.audit-chain-statement+json"
AUDIT_CHAIN_SCHEMA: Final = "cavra.drillops.acknowledgement.audit-chain-export.v1"

MAX_AUDIT_ROUTES: Final = 500
"""Routes in one audit package; a wider filter is refused (narrow it), never cut."""
MAX_AUDIT_PACKAGE_BYTES: Final = 512 * 1024
"""Signed payload of one package: its envelope (base64) and its delivery job stay under max_payload."""
MAX_CHAIN_PAGE_BYTES: Final = 700 * 1024
"""Envelopes in one chain page (one query reply)."""
MAX_EXPORT_PACKAGES: Final = 10_000
"""Packages in one exported chain (``limit``)."""
MAX_CADENCE_MINUTES: Final = 43_200
"""``every_N_minutes``: at most 30 days."""

CADENCE_PATTERN: Final = r"^(on_demand|hourly|daily|weekly|every_[1-9][0-9]{0,4}_minutes)$"
Cadence = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CADENCE_PATTERN)]
"""``on_demand`` (once, now), ``hourly``, ``daily``, ``weekly`` or ``every_N_minutes``."""
ON_DEMAND: Final = "on_demand"
_FIXED_CADENCES: Final = {"hourly": 60, "daily": 1440, "weekly": 10_080}


def chain_export(
    envelopes: Sequence[Mapping[str, Any]],
    signed_statement: Mapping[str, Any] | None,
    keys: Sequence[Mapping[str, Any]],
    *,
    exported_at: str,
) -> dict[str, Any]:
    """An exported stretch of the audit chain, as ``cavra audit verify`` reads it (one shape for the
    gateway's export endpoint and every other writer)."""
    return {
        "schema_version": AUDIT_CHAIN_SCHEMA,
        "exported_at": exported_at,
        "package_count": len(envelopes),
        "packages": list(envelopes),
        "statement": signed_statement,
        "keys": list(keys),
    }


def cadence_minutes(cadence: str) -> int | None:
    """Minutes between deliveries of ``cadence`` (None for ``on_demand``); ``ValueError`` when unknown
    or past :data:`MAX_CADENCE_MINUTES`."""
    if cadence == ON_DEMAND:
        return None
    if cadence in _FIXED_CADENCES:
        return _FIXED_CADENCES[cadence]
    match = re.fullmatch(r"every_([1-9][0-9]{0,4})_minutes", cadence)
    if match is None:
        raise ValueError("cadence must be on_demand, hourly, daily, weekly or every_N_minutes")
    minutes = int(match.group(1))
    if minutes > MAX_CADENCE_MINUTES:
        raise ValueError(f"cadence every_N_minutes allows N up to {MAX_CADENCE_MINUTES}")
    return minutes


def requested_providers(requested: str) -> list[str]:
    """The providers a ``delivery_provider`` names, normalised, first occurrence order (``all``: none)."""
    if requested.strip().lower() == "all":
        return []
    return normalize_providers(requested.split(","))


def unconfigured_providers(requested: str, routable: Sequence[str]) -> list[str]:
    """Requested providers no connector serves: the audit delivery answers 400 naming them."""
    served = set(normalize_providers(routable))
    return [name for name in requested_providers(requested) if name not in served]


ScheduleFilter = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9._:@-]*$")
]
ProviderFilter = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=MAX_PROVIDER_LENGTH, pattern=r"^[A-Za-z0-9_-]*$")
]
OwnerFilter = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_OWNER_LENGTH)]
ScheduleRef = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9._:@-]*$")
]


class AuditFiltersV1(Contract):
    """Which routes a package covers: empty matches every value (current plans only)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd", SERVICE, "audit_filters", "cavra.drillops.acknowledgement.audit-filters.v1", channel=False
    )

    schedule_id: ScheduleFilter = ""
    provider: ProviderFilter = ""
    owner: OwnerFilter = ""


class AuditCountsV1(Contract):
    """The counts of spec §3.11 (``outstanding_count`` includes escalated and dismissed routes)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt", SERVICE, "audit_counts", "cavra.drillops.acknowledgement.audit-counts.v1", channel=False
    )

    route_count: int
    acknowledgement_count: int
    acknowledged_count: int
    resolved_count: int
    escalated_count: int
    dismissed_count: int
    outstanding_count: int


# --- commands -------------------------------------------------------------------------------


class GenerateAuditPackageV1(Contract):
    """Build, sign and chain an audit package for the routes matching ``filters``."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "generate_audit_package",
        "cavra.drillops.acknowledgement.generate-audit-package.v1",
        summary="POST .../acknowledgements/audit-package: a signed, chained audit package.",
    )

    filters: AuditFiltersV1 = Field(default_factory=AuditFiltersV1)
    actor: ActorV1


class DeliverAuditPackageV1(Contract):
    """Build an audit package and deliver it; a cadence other than ``on_demand`` schedules the next ones."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "deliver_audit_package",
        "cavra.drillops.acknowledgement.deliver-audit-package.v1",
        summary="POST .../acknowledgements/audit-delivery: package + delivery plan + delivery job.",
    )

    filters: AuditFiltersV1 = Field(default_factory=AuditFiltersV1)
    delivery_provider: str = Field(
        default="all",
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        pattern=r"^(all|[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*)$",
        description="`all` or a comma list of configured providers.",
    )
    cadence: Cadence = ON_DEMAND
    schedule_ref: ScheduleRef = ""
    next_delivery_at: Timestamp | None = Field(
        default=None, description="First scheduled delivery (default: now + one cadence interval)."
    )
    delivery: DeliveryOptions = Field(default_factory=DeliveryOptions)
    actor: ActorV1


class CancelAuditScheduleV1(Contract):
    """Stop an audit schedule: it delivers nothing more."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "cmd",
        SERVICE,
        "cancel_audit_schedule",
        "cavra.drillops.acknowledgement.cancel-audit-schedule.v1",
        summary="DELETE .../acknowledgements/audit-schedules/{schedule_ref_id}.",
    )

    schedule_ref_id: str = Field(max_length=MAX_ID_LENGTH)
    actor: ActorV1


# --- events ---------------------------------------------------------------------------------


class AuditPackageGeneratedV1(Contract):
    """A package was signed and appended to the chain: its summary and the reference of its envelope."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "audit_package_generated",
        "cavra.drillops.acknowledgement.audit-package-generated.v1",
        summary="Summary of a signed audit package (envelope by AuditPackageQueryV1).",
    )

    audit_id: str
    sequence: int
    payload_sha256: str
    previous_hash: str
    key_id: str
    generated_at: str
    generated_by: str
    alert_level: AlertLevel
    filters: AuditFiltersV1
    counts: AuditCountsV1
    plan_ids: list[str] = Field(max_length=MAX_AUDIT_ROUTES)
    trigger: Literal["api", "delivery", "schedule"]
    actor: ActorV1


class AuditDeliveryPlannedV1(Contract):
    """A package's delivery plan was made and its delivery job enqueued (``job_id`` is the delivery id)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "audit_delivery_planned",
        "cavra.drillops.acknowledgement.audit-delivery-planned.v1",
        summary="Delivery plan of an audit package; its MessageDeliveredV1 follows (job_id = delivery_id).",
    )

    delivery_id: str
    audit_id: str
    sequence: int
    cadence: str
    schedule_ref: str
    schedule_ref_id: str = ""
    next_delivery_at: str = ""
    requested_provider: str
    selected_providers: list[str]
    route_count: int
    outstanding_count: int
    escalated_count: int
    alert_level: AlertLevel
    actor: ActorV1


class AuditScheduleCreatedV1(Contract):
    """An audit schedule now delivers a fresh package every cadence interval."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "audit_schedule_created",
        "cavra.drillops.acknowledgement.audit-schedule-created.v1",
        summary="A cadence other than on_demand: the next deliveries are due from next_delivery_at.",
    )

    schedule_ref_id: str
    schedule_ref: str
    cadence: str
    interval_minutes: int
    filters: AuditFiltersV1
    delivery_provider: str
    next_delivery_at: str
    actor: ActorV1


class AuditScheduleCancelledV1(Contract):
    """An audit schedule was cancelled."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "audit_schedule_cancelled",
        "cavra.drillops.acknowledgement.audit-schedule-cancelled.v1",
        summary="DELETE .../audit-schedules/{id}: nothing more is delivered.",
    )

    schedule_ref_id: str
    cancelled_at: str
    actor: ActorV1


class AuditRequestRejectedV1(Contract):
    """An audit command was refused; nothing was stored or sent."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "audit_request_rejected",
        "cavra.drillops.acknowledgement.audit-request-rejected.v1",
        summary="400 unconfigured provider, 404 unknown schedule, 413 package too large.",
    )

    status_code: int
    problems: list[FieldProblem]


# --- queries --------------------------------------------------------------------------------


class AuditPackageQueryV1(Contract):
    """Ask for one signed package."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "audit_package",
        "cavra.drillops.acknowledgement.audit-package-query.v1",
        summary="Reply: {audit_id, sequence, envelope (DSSE), metadata}.",
    )

    audit_id: str = Field(max_length=MAX_ID_LENGTH)


class AuditKeysQueryV1(Contract):
    """Ask for the public keys that sign audit packages, with their validity."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "audit_keys",
        "cavra.drillops.acknowledgement.audit-keys-query.v1",
        summary="Reply: {keys: [{key_id, algorithm, public_key, valid_from, valid_until}]}.",
    )


class AuditChainQueryV1(Contract):
    """Ask for one page of the package chain, in sequence order, from ``after_sequence`` + 1.

    The page that reaches ``last_sequence`` (default: the head) carries a signed statement of the
    exported range ``first_sequence``..``last_sequence``, so a cut-off tail is detectable too.
    """

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "audit_chain",
        "cavra.drillops.acknowledgement.audit-chain-query.v1",
        summary="Reply: {packages: [{sequence, envelope}], last_sequence, next_after, statement}.",
    )

    first_sequence: int = Field(default=1, ge=1, le=2**62)
    last_sequence: int | None = Field(default=None, ge=1, le=2**62)
    after_sequence: int | None = Field(default=None, ge=0, le=2**62)


class AuditSchedulesQueryV1(Contract):
    """Ask for the audit schedules (active first, then cancelled)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        SERVICE,
        "audit_schedules",
        "cavra.drillops.acknowledgement.audit-schedules-query.v1",
        summary="Reply: {items: [schedule], total}.",
    )

    include_cancelled: bool = False
    limit: int = Field(default=100, ge=1, le=1000)


__all__ = [
    "AUDIT_PAYLOAD_TYPE",
    "AuditChainQueryV1",
    "AuditCountsV1",
    "AuditDeliveryPlannedV1",
    "AuditFiltersV1",
    "AuditKeysQueryV1",
    "AuditPackageGeneratedV1",
    "AuditPackageQueryV1",
    "AuditRequestRejectedV1",
    "AuditScheduleCancelledV1",
    "AuditScheduleCreatedV1",
    "AuditSchedulesQueryV1",
    "CancelAuditScheduleV1",
    "DeliverAuditPackageV1",
    "GenerateAuditPackageV1",
    "cadence_minutes",
    "requested_providers",
    "unconfigured_providers",
]
