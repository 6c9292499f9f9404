"""Signed one-time ack links: genuine ones verify, forged, altered and expired ones do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cavra_contracts import ack_links

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET = "canary-ack-link-secret-4b1d"


def claims() -> ack_links.AckLinkClaims:
    return ack_links.new_claims(
        route_id="gordroute-1", plan_id="gordn-1", schedule_id="s", provider="webhook", now=NOW
    )


def test_a_signed_link_verifies_to_its_claims() -> None:
    original = claims()
    token = ack_links.sign(original, SECRET)
    assert ack_links.verify(token, SECRET, NOW + timedelta(hours=1)) == original
    assert ack_links.link("https://cavra.example/", original, SECRET).startswith(
        "https://cavra.example/runtime/go-pilot/rollback-drill-notifications/ack-links/"
    )


def test_a_link_signed_with_another_secret_is_refused() -> None:
    token = ack_links.sign(claims(), "another-secret")
    with pytest.raises(ack_links.AckLinkError, match="signature"):
        ack_links.verify(token, SECRET, NOW)


def test_altered_claims_break_the_signature() -> None:
    token = ack_links.sign(claims(), SECRET)
    encoded, signature = token.split(".")
    forged = ack_links.sign(
        ack_links.AckLinkClaims(**{**claims().__dict__, "route_id": "gordroute-other"}), "x"
    ).split(".")[0]
    with pytest.raises(ack_links.AckLinkError, match="signature"):
        ack_links.verify(f"{forged}.{signature}", SECRET, NOW)
    assert encoded != forged


def test_an_expired_link_is_refused() -> None:
    token = ack_links.sign(claims(), SECRET)
    with pytest.raises(ack_links.AckLinkError, match="expired"):
        ack_links.verify(token, SECRET, NOW + ack_links.DEFAULT_TTL)


@pytest.mark.parametrize("token", ["", "a", "a.b.c", "!!!.???", "x" * 5000])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(ack_links.AckLinkError):
        ack_links.verify(token, SECRET, NOW)
