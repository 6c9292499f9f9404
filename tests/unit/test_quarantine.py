"""The per-connector circuit breaker: closed -> open -> half-open (one probe) -> closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cavra_delivery.connectors import (
    QuarantinePolicy,
    QuarantineState,
    admit,
    is_quarantined,
    record_failure,
    record_outcome,
    record_success,
)
from cavra_delivery.connectors.quarantine import status

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
POLICY = QuarantinePolicy(failure_threshold=3, cool_down_seconds=60)


def failed(times: int, state: QuarantineState | None = None, at: datetime = T0) -> QuarantineState:
    state = state or QuarantineState("ops-slack")
    for _ in range(times):
        state = record_failure(state, at, POLICY)
    return state


def test_failures_below_the_threshold_keep_delivering() -> None:
    state = failed(2)

    assert (state.consecutive_failures, state.quarantined_until) == (2, None)
    assert admit(state, T0, POLICY) == ("deliver", state)


def test_the_threshold_opens_the_breaker_for_the_cool_down() -> None:
    state = failed(3)

    assert state.quarantined_until == T0 + timedelta(seconds=60)
    assert is_quarantined(state, T0 + timedelta(seconds=59))
    assert admit(state, T0 + timedelta(seconds=59), POLICY) == ("quarantined", state)


def test_after_the_cool_down_exactly_one_probe_goes() -> None:
    later = T0 + timedelta(seconds=60)
    decision, leased = admit(failed(3), later, POLICY)

    assert decision == "probe"
    assert status(failed(3), later) == "half_open"
    assert admit(leased, later + timedelta(seconds=1), POLICY)[0] == "quarantined"


def test_a_successful_probe_closes_and_resets() -> None:
    later = T0 + timedelta(seconds=61)
    _, leased = admit(failed(3), later, POLICY)

    closed = record_success(leased, later)

    assert (closed.consecutive_failures, closed.quarantined_until, closed.last_success_at) == (0, None, later)
    assert admit(closed, later, POLICY)[0] == "deliver"


def test_a_failed_probe_reopens_for_a_fresh_cool_down() -> None:
    later = T0 + timedelta(seconds=61)
    _, leased = admit(failed(3), later, POLICY)

    reopened = record_failure(leased, later, POLICY)

    assert reopened.consecutive_failures == 4
    assert reopened.quarantined_until == later + timedelta(seconds=60)
    assert reopened.last_failure_at == later


def test_a_success_between_failures_resets_the_count() -> None:
    state = failed(1, record_success(failed(2), T0))

    assert state.consecutive_failures == 1 and not is_quarantined(state, T0)


@pytest.mark.parametrize(
    ("outcome", "failures"),
    [("delivered", 0), ("failed", 3), ("permanent_failure", 3), ("unconfigured", 2), ("quarantined", 2)],
)
def test_record_outcome_counts_only_real_delivery_results(outcome: str, failures: int) -> None:
    state = record_outcome(failed(2), outcome, T0, POLICY)

    assert state.consecutive_failures == failures


def test_states_are_immutable_values() -> None:
    before = failed(2)

    record_failure(before, T0, POLICY)

    assert before.consecutive_failures == 2
    with pytest.raises(AttributeError):
        before.consecutive_failures = 9  # type: ignore[misc]


def test_default_policy_is_five_failures_and_five_minutes() -> None:
    assert (QuarantinePolicy().failure_threshold, QuarantinePolicy().cool_down_seconds) == (5, 300.0)
    with pytest.raises(ValueError):
        QuarantinePolicy(failure_threshold=0)
