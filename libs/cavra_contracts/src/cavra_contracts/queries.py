"""Request/reply plumbing shared by every service: the reply wrapper and the health query."""

from __future__ import annotations

from typing import Any, ClassVar

from cavra_contracts.base import Contract
from cavra_contracts.subjects import MessageSpec, subject_for


def health_subject(service: str) -> str:
    """Subject on which ``service`` answers HealthQueryV1."""
    return subject_for("qry", service, "health")


class QueryReplyV1(Contract):
    """The reply to any query: either a result or an error with an HTTP-like status code."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        "any",
        "reply",
        "cavra.drillops.query-reply.v1",
        summary="Reply wrapper for every query: {ok, status_code, error, result}.",
        channel=False,
    )

    ok: bool
    status_code: int = 200
    error: str | None = None
    result: dict[str, Any] | None = None


class HealthQueryV1(Contract):
    """Ask a service whether it is alive and its dependencies answer."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        "any",
        "health",
        "cavra.drillops.health-query.v1",
        summary="Sent to cavra.qry.<service>.health.v1; reply result is HealthReplyV1.",
        channel=False,
    )


class HealthReplyV1(Contract):
    """A service's own view of its health."""

    MESSAGE: ClassVar[MessageSpec] = MessageSpec(
        "qry",
        "any",
        "health_reply",
        "cavra.drillops.health-reply.v1",
        summary="Service health: database reachable, consumers running.",
        channel=False,
    )

    service: str
    instance: str
    status: str
    checks: dict[str, str]
