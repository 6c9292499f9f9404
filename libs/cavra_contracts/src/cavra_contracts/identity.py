"""API tokens as events: who created or revoked which token, never the token itself.

The tokens live in the gateway's JetStream key/value bucket ``CAVRA_API_TOKENS`` (keyed by the
SHA-256 of the token); ``cavra tokens create`` / ``revoke`` publish these events on
``CAVRA_EVENTS`` after the write, so the audit log shows every change of who may act.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from cavra_contracts.actors import Role
from cavra_contracts.base import Contract
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from cavra_contracts.subjects import MessageSpec

SERVICE = "gateway"


class ApiTokenCreatedV1(Contract):
    """An API token was created (its secret was shown once to its creator and is stored nowhere)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "api_token_created",
        "cavra.drillops.gateway.api-token-created.v1",
        summary="An API token was created: its public id, name, role and expiry.",
    )

    token_id: str = Field(max_length=MAX_ID_LENGTH)
    name: str = Field(max_length=MAX_TEXT_LENGTH)
    role: Role
    created_at: datetime
    created_by: str = Field(max_length=MAX_TEXT_LENGTH)
    expires_at: datetime | None = None


class ApiTokenRevokedV1(Contract):
    """An API token was revoked: the gateway refuses it from then on (within about a second)."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        SERVICE,
        "api_token_revoked",
        "cavra.drillops.gateway.api-token-revoked.v1",
        summary="An API token was revoked.",
    )

    token_id: str = Field(max_length=MAX_ID_LENGTH)
    name: str = Field(max_length=MAX_TEXT_LENGTH)
    role: Role
    revoked_at: datetime
    revoked_by: str = Field(max_length=MAX_TEXT_LENGTH)
