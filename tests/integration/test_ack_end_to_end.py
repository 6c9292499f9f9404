"""From the alert to the record: the delivery service sends a plan (a signed ack link in the webhook
CloudEvent, an Ack button in the Slack message), and both come back through the gateway into the
acknowledgement service as acknowledgements of the very routes that were delivered."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from cavra_contracts import ack_links
from cavra_contracts.notifications import NotificationDeliveredV1
from tests.integration.test_ack_from_the_alert import SLACK, signed, slack_body
from tests.integration.test_acknowledgement_api import NP, Stack, stack
from tests.integration.test_notification_delivery import SIGNING_SECRET, connector_config
from tests.support.fake_providers import FakeProviders
from tests.support.harness import eventually, running_service, stored_events
from tests.support.plans import planned

LINK_SECRET = "e2e-ack-link-secret-0123456789"
SLACK_SECRET = "e2e-slack-signing-secret-0123456"
PUBLIC_URL = "https://cavra.example"
LINK = re.compile(re.escape(PUBLIC_URL + ack_links.ACK_LINK_PATH) + r"([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


def slack_button(body: Any) -> str:
    [actions] = [block for block in body["blocks"] if block["type"] == "actions"]
    value: str = actions["elements"][0]["value"]
    return value


async def test_the_link_and_the_button_of_a_delivered_plan_acknowledge_its_routes(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    plan = planned(7, owners=("team-0",), providers=("webhook", "slack"))
    routes = {d.provider: d.route_id for d in plan.plan.deliverable()}
    async with FakeProviders(webhook_secret=SIGNING_SECRET) as fake:
        config = connector_config(fake, tmp_path / "connectors.json")
        async with (
            running_service(
                "delivery",
                nats_url,
                database_url,
                connector_config=str(config),
                ack_link_secret=LINK_SECRET,
                public_base_url=PUBLIC_URL,
            ),
            stack(
                nats_url,
                database_url,
                token=None,
                ack_link_secret=LINK_SECRET,
                slack_signing_secret=SLACK_SECRET,
            ) as s,
        ):
            await s.plan(plan)

            async def delivered() -> bool:
                return len(await stored_events(nats_url, NotificationDeliveredV1.MESSAGE.subject)) == 1

            await eventually(delivered, what="the plan to be delivered")
            [webhook] = fake.requests_for("webhook")
            [token] = LINK.findall(webhook.raw.decode())
            [message] = fake.requests_for("slack")
            assert slack_button(json.loads(message.raw)) == routes["slack"]

            page = await s.client.get(f"{NP}/ack-links/{token}")
            assert page.status_code == 200 and await s.stored() == 0
            used = await s.client.post(f"{NP}/ack-links/{token}")
            assert used.status_code == 201, used.text
            assert used.json()["acknowledgement"]["route_id"] == routes["webhook"]
            assert (await s.client.post(f"{NP}/ack-links/{token}")).status_code == 409

            body = slack_body(routes["slack"], user="ana")
            pressed = await s.client.post(
                SLACK, content=body, headers=signed(body, int(time.time()), SLACK_SECRET)
            )
            assert pressed.status_code == 200, pressed.text
            assert pressed.json()["acknowledgement"]["acknowledged_by"] == "slack:ana"
            await both_routes_cleared(s, routes)


async def both_routes_cleared(s: Stack, routes: dict[str, str]) -> None:
    """Both delivered routes acknowledged: one by the link, one by the button."""
    states = await s.scalar("SELECT string_agg(route_id || '=' || state, ',' ORDER BY route_id) FROM routes")
    assert states == ",".join(f"{r}=acknowledged" for r in sorted(routes.values()))
    modes = await s.scalar("SELECT string_agg(mode, ',' ORDER BY mode) FROM acknowledgements")
    assert modes == "ack_link,slack"
