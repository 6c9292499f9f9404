"""Request bodies of the recovery routes (API models, separate from the contracts) and the path
convertor that keeps ``recovery-escalations/{plan_id}`` off the escalation retry worker's paths."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.convertors import Convertor, register_url_convertor

from cavra_contracts.limits import (
    MAX_EVIDENCE_REFS,
    MAX_PROVIDER_LENGTH,
    MAX_PROVIDER_SELECTION_LENGTH,
    MAX_REF_LENGTH,
    MAX_RETRIES,
    MAX_TEXT_LENGTH,
    MAX_TIMEOUT_SECONDS,
)
from cavra_contracts.recovery import (
    CLOSURE_STATE_MESSAGE,
    CLOSURE_STATES,
    DEFAULT_LOOKBACK_HOURS,
    DEFAULT_MAX_ROUTES,
    DEFAULT_MIN_FAILURE_COUNT,
    DEFAULT_RECOVERY_SLO_MINUTES,
    ESCALATION_ACK_STATE_MESSAGE,
    ESCALATION_ACK_STATES,
    MAX_LOOKBACK_HOURS,
    MAX_MIN_FAILURE_COUNT,
    MAX_RECOVERY_SLO_MINUTES,
    MAX_ROUTES,
)
from cavra_gateway.params import TEXT

NO_NUL = r"^[^\x00]*$"
"""Notes may span lines, but PostgreSQL cannot store NUL."""

PROVIDER = r"^[A-Za-z0-9_-]+$"
PROVIDER_LIST = r"^$|^[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*$"


class PlanIdConvertor(Convertor[str]):
    """A plan id (or ``latest``) segment that leaves ``recovery-escalations/retry-…`` (the escalation
    retry worker's paths) to their own routes."""

    regex = r"(?!retry-)[A-Za-z0-9._:@-]{1,128}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("recovery_plan", PlanIdConvertor())
PLAN_ID = "{plan_id:recovery_plan}"


class PlaybookRequest(BaseModel):
    """Body of POST .../connector-recovery-playbook."""

    model_config = ConfigDict(extra="forbid")  # a claimed identity (actor_claims) is a 422

    min_failure_count: int = Field(default=DEFAULT_MIN_FAILURE_COUNT, ge=1, le=MAX_MIN_FAILURE_COUNT)
    lookback_hours: int = Field(default=DEFAULT_LOOKBACK_HOURS, ge=1, le=MAX_LOOKBACK_HOURS)
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )


class ClosureRequest(BaseModel):
    """Body of POST .../connector-recovery-playbooks/{playbook_id}/closures."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=PROVIDER)
    closure_state: str = Field(default="resolved", max_length=32)
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=2000, pattern=NO_NUL)
    verification_refs: list[str] = Field(default_factory=list, max_length=MAX_EVIDENCE_REFS)
    closed_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )

    @field_validator("closure_state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if value not in CLOSURE_STATES:
            raise ValueError(CLOSURE_STATE_MESSAGE)
        return value

    @field_validator("verification_refs")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        refs = [ref.strip() for ref in value]
        if any(not ref or len(ref) > MAX_REF_LENGTH or not re.fullmatch(TEXT, ref) for ref in refs):
            raise ValueError(
                f"verification_refs must be non-empty strings of at most {MAX_REF_LENGTH} characters"
            )
        return refs


class EscalationPlanRequest(BaseModel):
    """Body of POST .../recovery-escalation-plan."""

    model_config = ConfigDict(extra="forbid")

    recovery_slo_minutes: int = Field(default=DEFAULT_RECOVERY_SLO_MINUTES, ge=1, le=MAX_RECOVERY_SLO_MINUTES)
    generated_by: str | None = Field(
        default=None, max_length=MAX_TEXT_LENGTH, description="Ignored: the caller is."
    )


class EscalationDeliveryRequest(EscalationPlanRequest):
    """Body of POST .../recovery-escalations/{plan_id}/deliver."""

    provider: str = Field(
        default="",
        max_length=MAX_PROVIDER_SELECTION_LENGTH,
        pattern=PROVIDER_LIST,
        description="Comma list of channels. Default: CAVRA_RECOVERY_ESCALATION_PROVIDERS, else every "
        "routable channel except the plan's failing connectors.",
    )
    max_routes: int = Field(default=DEFAULT_MAX_ROUTES, ge=1, le=MAX_ROUTES)
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    timeout_seconds: float | None = Field(default=None, ge=0.1, le=MAX_TIMEOUT_SECONDS)


class EscalationAckRequest(BaseModel):
    """Body of POST .../recovery-escalations/{plan_id}/acknowledgements."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=MAX_PROVIDER_LENGTH, pattern=PROVIDER)
    acknowledgement_state: str = Field(default="acknowledged", max_length=32)
    external_ref: str = Field(default="", max_length=MAX_REF_LENGTH, pattern=TEXT)
    notes: str = Field(default="", max_length=2000, pattern=NO_NUL)
    escalation_reason: str = Field(default="", max_length=MAX_TEXT_LENGTH, pattern=TEXT)
    acknowledged_by: str | None = Field(default=None, max_length=MAX_TEXT_LENGTH, description="Ignored.")

    @field_validator("acknowledgement_state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if value not in ESCALATION_ACK_STATES:
            raise ValueError(ESCALATION_ACK_STATE_MESSAGE)
        return value
