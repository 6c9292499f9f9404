"""Per-connector circuit breaker as pure, immutable state (the service persists it).

closed    -> deliveries go out; each failed delivery counts, a success resets the count.
open      -> after ``failure_threshold`` consecutive failed deliveries, until ``quarantined_until``.
half_open -> the cool-down has passed: :func:`admit` lets exactly one probe through and, by
             pushing ``quarantined_until`` one cool-down ahead, keeps every other caller out
             while the probe runs. The probe's success closes the breaker; its failure re-opens it.

The state maps one-to-one onto the ``connector_health`` table (no extra column for the probe).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Admission = Literal["deliver", "probe", "quarantined"]
BreakerStatus = Literal["closed", "open", "half_open"]

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOL_DOWN_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class QuarantinePolicy:
    """Open after ``failure_threshold`` consecutive failed deliveries, for ``cool_down_seconds``."""

    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    cool_down_seconds: float = DEFAULT_COOL_DOWN_SECONDS

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.cool_down_seconds <= 0:
            raise ValueError("cool_down_seconds must be positive")

    @property
    def cool_down(self) -> timedelta:
        return timedelta(seconds=self.cool_down_seconds)


@dataclass(frozen=True, slots=True)
class QuarantineState:
    """Health of one connector. ``quarantined_until`` is set only while failures are at the threshold."""

    connector: str
    consecutive_failures: int = 0
    quarantined_until: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None


def status(state: QuarantineState, now: datetime) -> BreakerStatus:
    """``closed``, ``open`` (quarantined) or ``half_open`` (cool-down over, a probe may go)."""
    if state.quarantined_until is None:
        return "closed"
    return "open" if now < state.quarantined_until else "half_open"


def is_quarantined(state: QuarantineState, now: datetime) -> bool:
    """True while deliveries through this connector must be skipped."""
    return status(state, now) == "open"


def admit(
    state: QuarantineState, now: datetime, policy: QuarantinePolicy
) -> tuple[Admission, QuarantineState]:
    """May a delivery go now? Returns the decision and the state to persist before sending.

    For ``probe`` the returned state holds the probe's lease (``quarantined_until`` moved one
    cool-down ahead); persist it with a compare-and-set on the old ``quarantined_until`` so that
    only one replica wins the probe.
    """
    current = status(state, now)
    if current == "closed":
        return "deliver", state
    if current == "open":
        return "quarantined", state
    return "probe", replace(state, quarantined_until=now + policy.cool_down)


def record_success(state: QuarantineState, now: datetime) -> QuarantineState:
    """A delivered notification closes the breaker and resets the count."""
    return replace(state, consecutive_failures=0, quarantined_until=None, last_success_at=now)


def record_failure(state: QuarantineState, now: datetime, policy: QuarantinePolicy) -> QuarantineState:
    """A failed delivery counts; at the threshold (or when a probe fails) the breaker (re-)opens."""
    failures = state.consecutive_failures + 1
    until = now + policy.cool_down if failures >= policy.failure_threshold else state.quarantined_until
    return replace(state, consecutive_failures=failures, quarantined_until=until, last_failure_at=now)


def record_outcome(
    state: QuarantineState, outcome: str, now: datetime, policy: QuarantinePolicy
) -> QuarantineState:
    """Fold in a delivery outcome: ``delivered`` resets, ``failed``/``permanent_failure`` count."""
    if outcome == "delivered":
        return record_success(state, now)
    if outcome in ("failed", "permanent_failure"):
        return record_failure(state, now, policy)
    return state
