"""Signed one-time ack links reach the providers that show them and nowhere else (canary test).

With CAVRA_ACK_LINK_SECRET and CAVRA_PUBLIC_BASE_URL set, a plan's routes and a job's targets
with a route get a fresh link in the webhook CloudEvent data, the Teams card, the Jira issue and
the ServiceNow incident (Slack keeps its Ack button; the SIEM, a store, gets none). Then every
row of the delivery schema, every message in JetStream and the captured logs are searched for
the link tokens, the ack-link secret and the canary connector secrets: none may be found.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from cavra_contracts import ack_links
from cavra_contracts.deliveries import MessageDeliveredV1
from cavra_contracts.envelope import make_envelope, utc_now
from cavra_contracts.notifications import NotificationDeliveredV1
from tests.integration.test_delivery_jobs import PROVIDERS, delivering, job
from tests.integration.test_notification_delivery import (
    CANARIES,
    everything_in_jetstream,
    everything_in_postgres,
)
from tests.support.harness import eventually, stored_events
from tests.support.plans import planned

ACK_SECRET = "CANARY-ACK-LINK-SECRET-0123456789"
PUBLIC_URL = "https://cavra.example"
LINK = re.compile(re.escape(PUBLIC_URL + ack_links.ACK_LINK_PATH) + r"([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


async def test_ack_links_reach_the_providers_and_never_the_evidence_events_or_logs(
    nats_url: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    plan = planned(1, owners=("team-0",), providers=PROVIDERS)
    routes = {d.provider: d.route_id for d in plan.plan.deliverable()}
    assert set(routes) == set(PROVIDERS)
    async with delivering(
        nats_url,
        database_url,
        tmp_path,
        ack_link_secret=ACK_SECRET,
        public_base_url=PUBLIC_URL + "/",
        log_level="debug",
    ) as (fake, bus):
        await bus.publish(make_envelope(plan, producer="router"))
        await bus.publish(make_envelope(job("esc-links", ack_links=True), producer="escalation"))

        async def both_delivered() -> bool:
            plans = await stored_events(nats_url, NotificationDeliveredV1.MESSAGE.subject)
            jobs = await stored_events(nats_url, MessageDeliveredV1.MESSAGE.subject)
            return len(plans) == 1 and len(jobs) == 1

        await eventually(both_delivered, what="the plan and the job to be delivered")
    sent = [(r.provider, r.step, r.raw.decode()) for r in fake.requests]

    tokens: list[tuple[str, str]] = [(p, token) for p, _, raw in sent for token in LINK.findall(raw)]
    assert Counter(p for p, _ in tokens) == {"webhook": 2, "teams": 2, "jira": 2, "servicenow": 2}, (
        "one link per plan route and per job target, in webhook, Teams, Jira and ServiceNow only"
    )
    assert all(step in ("post", "create") for p, step, raw in sent if LINK.search(raw))
    now = utc_now()
    claimed = [ack_links.verify(token, ACK_SECRET, now) for _, token in tokens]
    assert {(c.provider, c.route_id) for c in claimed} >= {
        (p, routes[p]) for p in routes if p in dict(tokens)
    }
    assert {c.route_id for c in claimed} >= {f"gordroute-{p}" for p in dict(tokens)}, "the job's routes"
    assert len({c.link_id for c in claimed}) == len(claimed), "a fresh link each time"
    assert all(c.expires_at - now.timestamp() <= timedelta(hours=24).total_seconds() for c in claimed)
    with pytest.raises(ack_links.AckLinkError):
        ack_links.verify(tokens[0][1], "another-secret-0123456789", now)

    stores = await everything_in_postgres(database_url) + await everything_in_jetstream(nats_url)
    logs = "".join(capfd.readouterr())
    assert routes["webhook"] in stores and "gordroute-webhook" in stores, "the scan sees the evidence"
    assert "job.delivered" in logs and "plan.delivered" in logs, "the scan sees the service logs"
    secrets = [*CANARIES, ACK_SECRET, ack_links.ACK_LINK_PATH]
    secrets += [part for _, token in tokens for part in (token, *token.split("."))]
    secrets += [c.link_id for c in claimed]
    for secret in secrets:
        assert secret not in stores, f"{secret[:24]}... stored"
        assert secret not in logs, f"{secret[:24]}... logged"


async def test_the_ack_link_secret_inside_a_chosen_string_is_redacted_like_a_connector_secret(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAVRA_TEST_JIRA_TOKEN", "CANARY-JIRA-TOKEN")
    command = job("esc-owner", ("webhook",)).model_dump(mode="json")
    command["targets"][0]["owner"] = f"team-{ACK_SECRET}"
    async with delivering(
        nats_url,
        database_url,
        tmp_path,
        ack_link_secret=ACK_SECRET,
        public_base_url=PUBLIC_URL,
    ) as (_, bus):
        envelope = make_envelope(job("esc-owner", ("webhook",)), producer="escalation")
        await bus.publish(envelope.model_copy(update={"payload": command}))

        async def delivered() -> bool:
            return len(await stored_events(nats_url, MessageDeliveredV1.MESSAGE.subject)) == 1

        await eventually(delivered, what="the job with a redacted owner")
    [event] = await stored_events(nats_url, MessageDeliveredV1.MESSAGE.subject)
    [delivery] = event.payload["deliveries"]
    assert (delivery["owner"], delivery["outcome"]) == ("team-[REDACTED]", "delivered")
    assert ACK_SECRET not in await everything_in_postgres(database_url)
