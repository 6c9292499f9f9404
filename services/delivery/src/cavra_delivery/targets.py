"""One addressee of a delivery job: a provider, the owner it is for and the route it concerns."""

from __future__ import annotations

from typing import NamedTuple


class Target(NamedTuple):
    """A plan's deliverable route, or a DeliverMessageV1 target; delivered through every connector
    serving ``provider``, each under the delivery id ``job_id:key:connector``.

    A named tuple rather than a frozen dataclass: one is built per route of every plan, and a tuple
    is built about ten times faster."""

    key: str
    """Stable within the job: a plan route's ``route_key``, a command target's ``target_key``."""
    provider: str
    owner: str
    route_id: str
    """The router's route id this target concerns ('' when none)."""
    schedule_id: str
    plan_id: str
    """The plan the route belongs to ('' when none); a plan's own id for a plan's routes."""
    ack_link: bool
    """Whether its notification carries a signed one-time ack link (when links are configured)."""
