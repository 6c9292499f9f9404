"""Acknowledging from where the alert is: the Slack Ack button (signed callback) and one-time ack links.

Both end in the same acknowledgement record; a refused request stores nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from cavra_contracts import ack_links
from cavra_contracts.notifications import NotificationPlannedV1
from tests.integration.test_acknowledgement_api import NOW, NP, Stack, stack
from tests.support.acks import plan_event

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
LINK_SECRET = "ack-link-test-secret-0123456789"
SLACK = f"{NP}/integrations/slack/interactions"


def slack_body(route_id: str, user: str = "alice") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0123", "username": user, "name": user, "team_id": "T1"},
        "team": {"id": "T1"},
        "actions": [{"action_id": "ack", "value": route_id, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, timestamp: int, secret: str = SLACK_SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def route_of(planned: NotificationPlannedV1) -> str:
    return planned.plan.deliverable()[0].route_id


async def planned(s: Stack) -> NotificationPlannedV1:
    return await s.plan(plan_event("s1", "gordn-0000000000000a01", NOW))


async def test_the_slack_button_acks_as_the_slack_user_without_a_bearer_token(
    nats_url: str, database_url: str
) -> None:
    async with stack(nats_url, database_url, slack_signing_secret=SLACK_SECRET, token=None) as s:
        route_id = route_of(await planned(s))
        body = slack_body(route_id)
        now = int(time.time())
        wrong = signed(body, now, secret="another-secret")
        stale = signed(body, now - 301)
        refusals = [
            ({"Content-Type": "application/x-www-form-urlencoded"}, body),  # unsigned
            (wrong, body),
            (stale, body),
            # a captured body replayed later under a fresh timestamp keeps its old signature
            ({**signed(body, now - 400), "X-Slack-Request-Timestamp": str(now)}, body),
            # the signature of one body does not cover another
            (signed(body, now), slack_body(route_id, user="mallory")),
        ]
        for headers, content in refusals:
            response = await s.client.post(SLACK, content=content, headers=headers)
            assert response.status_code == 401, response.text
        assert await s.stored() == 0
        response = await s.client.post(SLACK, content=body, headers=signed(body, now))
        assert response.status_code == 200, response.text
        ack = response.json()["acknowledgement"]
        assert ack["acknowledged_by"] == "slack:alice" and ack["route_id"] == route_id
        assert ack["actor"]["method"] == "slack" and ack["actor"]["subject"] == "U0123"
        assert ack["mode"] == "slack" and ack["acknowledgement_state"] == "acknowledged"
        # Slack retries a callback it got no answer for: the same signed request is the same command
        replayed = await s.client.post(SLACK, content=body, headers=signed(body, now))
        assert replayed.status_code in (200, 202), replayed.text
        assert await s.stored() == 1
        unknown = slack_body("gordroute-unknown")
        missing = await s.client.post(SLACK, content=unknown, headers=signed(unknown, now))
        assert missing.status_code == 404
        assert await s.stored() == 1


async def test_slack_interactions_are_refused_when_not_configured(nats_url: str, database_url: str) -> None:
    async with stack(nats_url, database_url) as s:
        route_id = route_of(await planned(s))
        body = slack_body(route_id)
        response = await s.client.post(SLACK, content=body, headers=signed(body, int(time.time())))
        assert response.status_code == 404
        assert await s.stored() == 0


def link_token(
    planned: NotificationPlannedV1, *, ttl: timedelta = timedelta(hours=1), now: datetime | None = None
) -> str:
    decision = planned.plan.deliverable()[0]
    claims = ack_links.new_claims(
        route_id=decision.route_id,
        plan_id=planned.plan.plan_id,
        schedule_id=planned.plan.schedule_id,
        provider=decision.provider,
        now=now or datetime.now(UTC),
        ttl=ttl,
    )
    return ack_links.sign(claims, LINK_SECRET)


async def test_an_ack_link_acts_once_and_a_get_never_acknowledges(nats_url: str, database_url: str) -> None:
    async with stack(nats_url, database_url, ack_link_secret=LINK_SECRET, token=None) as s:
        plan = await planned(s)
        token = link_token(plan)
        page = await s.client.get(f"{NP}/ack-links/{token}")
        assert page.status_code == 200 and '<form method="post">' in page.text
        assert route_of(plan) in page.text
        assert await s.stored() == 0, "a GET (a link scanner) must not acknowledge"
        used = await s.client.post(f"{NP}/ack-links/{token}")
        assert used.status_code == 201, used.text
        ack = used.json()["acknowledgement"]
        assert ack["mode"] == "ack_link" and ack["route_id"] == route_of(plan)
        assert ack["actor"]["method"] == "ack_link"
        again = await s.client.post(f"{NP}/ack-links/{token}")
        assert again.status_code == 409 and again.json()["errors"][0]["field"] == "link_id"
        assert await s.stored() == 1


async def test_expired_and_forged_ack_links_are_refused(nats_url: str, database_url: str) -> None:
    async with stack(nats_url, database_url, ack_link_secret=LINK_SECRET, token=None) as s:
        plan = await planned(s)
        expired = link_token(plan, now=datetime.now(UTC) - timedelta(hours=2))
        claims, signature = link_token(plan).split(".")
        forged_claims = json.loads(ack_links._unb64(claims)) | {"route_id": "gordroute-other"}
        forged = ack_links._b64(json.dumps(forged_claims).encode()) + "." + signature
        other_key = ack_links.sign(
            ack_links.new_claims(
                route_id=route_of(plan),
                plan_id="p",
                schedule_id="s1",
                provider="slack",
                now=datetime.now(UTC),
            ),
            "not-the-secret",
        )
        for token, status in [(expired, 410), (forged, 401), (other_key, 401), ("abc.def", 401)]:
            for method in ("GET", "POST"):
                response = await s.client.request(method, f"{NP}/ack-links/{token}")
                assert response.status_code == status, (method, token, response.text)
        assert (await s.client.post(f"{NP}/ack-links/not-a-token")).status_code == 422
        assert await s.stored() == 0
