"""The Slack callback's pure parts: the signature rule and reading the Ack button (no server)."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from cavra_gateway.routes.slack import SlackRefused, interaction, verify

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"token=x&payload=%7B%7D"


def signature(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def test_a_signature_within_five_minutes_passes_and_every_other_case_is_401() -> None:
    now = 1_700_000_000.0
    verify(SECRET, str(int(now) - 300), signature(BODY, int(now) - 300), BODY, now)  # at the edge
    refused = [
        (str(int(now) - 301), signature(BODY, int(now) - 301)),  # stale
        (str(int(now) + 301), signature(BODY, int(now) + 301)),  # from the future
        (str(int(now)), signature(BODY, int(now), secret="other")),
        (str(int(now)), signature(BODY, int(now) - 1)),  # signed for another timestamp
        ("soon", signature(BODY, int(now))),
        (None, signature(BODY, int(now))),
        (str(int(now)), None),
        (str(int(now)), "v0=" + "0" * 64),
    ]
    for timestamp, sig in refused:
        with pytest.raises(SlackRefused) as caught:
            verify(SECRET, timestamp, sig, BODY, now)
        assert caught.value.response.status_code == 401


def form(payload: object) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_the_ack_button_names_the_route_and_the_slack_user() -> None:
    payload = {
        "user": {"id": "U1", "username": "alice"},
        "actions": [{"action_id": "ack", "value": "gordroute-1"}],
    }
    route_id, actor = interaction(form(payload))
    assert route_id == "gordroute-1"
    assert (actor.actor, actor.method, actor.subject, actor.role) == (
        "slack:alice",
        "slack",
        "U1",
        "operator",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload=not-json",
        b"\xff\xfe",
        form([]),
        form({"user": "alice", "actions": [{"value": "gordroute-1"}]}),
        form({"user": {"id": "U1"}, "actions": []}),
        form({"user": {"id": "U1"}, "actions": ["x"]}),
        form({"user": {"id": 5}, "actions": [{"value": "gordroute-1"}]}),
        form({"user": {"id": "U1"}, "actions": [{"action_id": "other", "value": "gordroute-1"}]}),
        form({"user": {"id": "U1"}, "actions": [{"value": "not a route id"}]}),
        form({"user": {"id": "U1"}, "actions": [{"value": "r" * 200}]}),
    ],
)
def test_anything_but_an_ack_button_is_422(body: bytes) -> None:
    with pytest.raises(SlackRefused) as caught:
        interaction(body)
    assert caught.value.response.status_code == 422
