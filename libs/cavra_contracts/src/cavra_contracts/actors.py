"""Who did something: verified actors and their roles.

The gateway resolves every caller to an :class:`ActorV1` (an API token, an OIDC JWT, a signed Slack
callback or a one-time ack link); commands carry it, and the services record it as the actor of what
they store. A name claimed in a request body is never an actor.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal, get_args

from pydantic import Field

from cavra_contracts.base import Contract
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from cavra_contracts.subjects import MessageSpec

Role = Literal["viewer", "operator", "approver", "admin"]
"""Roles in rising order: each may do everything the ones before it may."""
ROLES: Final = tuple(get_args(Role))

AuthMethod = Literal["api_token", "oidc", "bootstrap", "slack", "ack_link", "system"]
"""How the actor was verified (``system``: a service acting on its own, e.g. an automatic escalation)."""


def role_rank(role: str) -> int:
    """Position of ``role`` in :data:`ROLES` (viewer 0 ... admin 3); ``ValueError`` for another word."""
    return ROLES.index(role)


def may(role: str, needed: str) -> bool:
    """Does ``role`` include ``needed``?"""
    return role_rank(role) >= role_rank(needed)


class ActorV1(Contract):
    """A verified actor, as commands and stored records carry it."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "evt",
        "gateway",
        "actor",
        "cavra.drillops.actor.v1",
        summary="Part of commands and records (not sent on its own).",
        channel=False,
    )

    actor: str = Field(max_length=MAX_TEXT_LENGTH, description="The name recorded as acknowledged_by etc.")
    role: Role
    method: AuthMethod
    subject: str = Field(
        default="", max_length=MAX_TEXT_LENGTH, description="Token id, JWT sub, Slack user id."
    )
    issuer: str = Field(default="", max_length=MAX_TEXT_LENGTH)
    groups: list[str] = Field(default_factory=list, max_length=64)
    token_id: str = Field(default="", max_length=MAX_ID_LENGTH)


def system_actor(service: str) -> ActorV1:
    """The actor of work a service does by itself (an automatic escalation, a scheduled delivery)."""
    return ActorV1(actor=f"cavra-{service}", role="operator", method="system", subject=f"service:{service}")
