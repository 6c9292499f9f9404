"""Connector scenarios over real HTTP against the fake providers (no NATS, no database)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from cavra_delivery.connectors import (
    ConnectorConfigError,
    ConnectorSet,
    DeliveryOutcome,
    Notification,
    RetryPolicy,
    assert_clean,
    deliver,
    hec_channel,
    jira_label,
    load_connector_config,
    parse_connector_config,
    secret_values,
    servicenow_correlation_id,
)
from cavra_delivery.connectors.transport import HttpTransport
from tests.support.fake_providers import FakeProviders, unused_url

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"cavra-fake-provider-signing-key!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-signing-key-entirely").decode()
FAST = RetryPolicy(max_attempts=3, timeout_seconds=0.2, base_delay=0.01, max_delay=0.05)
STEPS = {"slack": 1, "teams": 1, "jira": 2, "servicenow": 2, "webhook": 1, "siem": 1}
FAKE_NAME = {"siem": "hec"}


class RecordingSleep:
    """An injected ``sleep`` that returns at once and remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_notification(**overrides: Any) -> Notification:
    event = {
        "specversion": "1.0",
        "id": "evt-0001",
        "source": "/drillops/notification-router",
        "type": "com.cavra.drillops.rollback-drill-notification.v1",
        "subject": "drill/payments-api/route/release-governance:webhook",
        "time": "2026-11-01T12:00:00+00:00",
        "datacontenttype": "application/json",
        "data": {"schedule_id": "payments-api", "state": "needs_attention"},
    }
    fields: dict[str, Any] = {
        "notification_id": "gordn-0123456789abcdef",
        "kind": "rollback_drill_notification",
        "title": "Rollback drill overdue: payments-api",
        "text": "The rollback drill for payments-api was due 2026-10-30 and has not run.",
        "severity": "critical",
        "facts": (("Owner", "release-governance"), ("Due", "2026-10-30")),
        "dedup_key": "payments-api|needs_attention|2026-10-30|release-governance:jira",
        "route_id": "route-release-governance-jira",
        "owner": "release-governance",
        "event": event,
        "links": (("Runbook", "https://runbooks.example/rollback"),),
    }
    fields.update(overrides)
    return Notification(**fields)


def connectors_for(fake: FakeProviders, **overrides: Mapping[str, Any]) -> ConnectorSet:
    document: dict[str, Any] = {
        "slack": {"url": fake.url("slack", "/services/T000/B000/XXXX")},
        "teams": {"url": fake.url("teams", "/workflows/run?sig=abc")},
        "jira": {
            "url": fake.url("jira"),
            "email": "ops@example.com",
            "api_token": "jt",
            "project_key": "OPS",
        },
        "servicenow": {"url": fake.url("servicenow"), "username": "svc", "password": "pw"},
        "webhook": {"url": fake.url("webhook", "/drill"), "secret": WEBHOOK_SECRET},
        "siem": {"url": fake.url("hec"), "token": "hec-token", "index": "security"},
    }
    document.update(overrides)
    connector_set = parse_connector_config({"connectors": document}, {})
    assert connector_set.problems == {}
    return connector_set


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with FakeProviders(webhook_secret=WEBHOOK_SECRET) as providers:
        yield providers


@pytest.fixture
async def client() -> AsyncIterator[HttpTransport]:
    async with HttpTransport() as http:
        yield http


async def send(
    connector_set: ConnectorSet,
    name: str,
    client: HttpTransport,
    *,
    key: str = "plan-1:route-1:conn",
    policy: RetryPolicy = FAST,
    sleep: RecordingSleep | None = None,
    **notification: Any,
) -> DeliveryOutcome:
    return await deliver(
        connector_set.connectors[name],
        make_notification(**notification),
        client=client,
        policy=policy,
        idempotency_key=key,
        sleep=sleep or RecordingSleep(),
    )


@pytest.mark.parametrize("connector_type", sorted(STEPS))
async def test_each_provider_accepts_the_payload_on_the_first_attempt(
    fake: FakeProviders, client: HttpTransport, connector_type: str
) -> None:
    outcome = await send(connectors_for(fake), connector_type, client, key="plan-1:route-1:" + connector_type)

    assert outcome.outcome == "delivered"
    assert [a.outcome for a in outcome.attempts] == ["delivered"]
    assert outcome.target_host == fake.base_url.removeprefix("http://")
    seen = fake.requests_for(FAKE_NAME.get(connector_type, connector_type))
    assert len(seen) == STEPS[connector_type]
    assert {r.headers["idempotency-key"] for r in seen} == {"plan-1:route-1:" + connector_type}
    assert all(200 <= r.status < 300 for r in seen)


async def test_slack_blocks_carry_facts_and_an_ack_button_for_the_route(
    fake: FakeProviders, client: HttpTransport
) -> None:
    await send(connectors_for(fake), "slack", client)

    body = fake.requests_for("slack")[0].body
    assert body["text"].startswith("Rollback drill overdue: payments-api")
    fields = next(b for b in body["blocks"] if b["type"] == "section" and "fields" in b)["fields"]
    assert {"type": "mrkdwn", "text": "*Owner*\nrelease-governance"} in fields
    button = body["blocks"][-1]["elements"][0]
    assert (button["action_id"], button["value"]) == ("ack", "route-release-governance-jira")


async def test_teams_gets_an_adaptive_card_not_a_message_card(
    fake: FakeProviders, client: HttpTransport
) -> None:
    await send(connectors_for(fake), "teams", client)

    card = fake.requests_for("teams")[0].body["attachments"][0]["content"]
    title, _, facts = card["body"]
    assert (title["type"], title["text"], title["weight"]) == (
        "TextBlock",
        "Rollback drill overdue: payments-api",
        "Bolder",
    )
    assert facts == {
        "type": "FactSet",
        "facts": [{"title": "Owner", "value": "release-governance"}, {"title": "Due", "value": "2026-10-30"}],
    }


async def test_hec_event_is_the_cloudevent_with_routing_fields(
    fake: FakeProviders, client: HttpTransport
) -> None:
    await send(connectors_for(fake), "siem", client, key="plan-9:route-9:siem")

    request = fake.requests_for("hec")[0]
    assert request.headers["authorization"] == "Splunk hec-token"
    assert request.headers["x-splunk-request-channel"] == hec_channel("plan-9:route-9:siem")
    assert request.body["event"] == make_notification().event
    assert request.body["index"] == "security"
    assert request.body["fields"] == {
        "owner": "release-governance",
        "severity": "critical",
        "route_id": "route-release-governance-jira",
    }


async def test_500_then_200_retries_once_with_the_same_webhook_id(
    fake: FakeProviders, client: HttpTransport
) -> None:
    fake.script("webhook", [500, 200])
    sleep = RecordingSleep()

    outcome = await send(connectors_for(fake), "webhook", client, key="plan-1:route-1:webhook", sleep=sleep)

    assert outcome.outcome == "delivered"
    assert [(a.status_code, a.error_class) for a in outcome.attempts] == [(500, "http_5xx"), (204, None)]
    seen = fake.requests_for("webhook")
    assert [r.status for r in seen] == [500, 204]
    assert {r.headers["webhook-id"] for r in seen} == {"plan-1:route-1:webhook"}
    assert {r.headers["idempotency-key"] for r in seen} == {"plan-1:route-1:webhook"}
    assert len(sleep.delays) == 1 and 0 <= sleep.delays[0] <= FAST.base_delay


async def test_jira_create_failure_retries_the_whole_exchange_as_one_attempt(
    fake: FakeProviders, client: HttpTransport
) -> None:
    fake.script("jira:create", [503])

    outcome = await send(connectors_for(fake), "jira", client)

    assert outcome.outcome == "delivered"
    assert [a.status_code for a in outcome.attempts] == [503, 201]
    assert [r.step for r in fake.requests_for("jira")] == ["search", "create", "search", "create"]
    assert len(fake.jira_issues) == 1 and outcome.external_ref == "OPS-1"


async def test_429_retry_after_seconds_is_honoured(fake: FakeProviders, client: HttpTransport) -> None:
    fake.script("slack", [(429, {"Retry-After": "1"}), 200])
    sleep = RecordingSleep()
    policy = replace(FAST, max_delay=30.0)

    outcome = await send(connectors_for(fake), "slack", client, policy=policy, sleep=sleep)

    assert outcome.outcome == "delivered"
    assert sleep.delays == [1.0]
    first = outcome.attempts[0]
    assert (first.status_code, first.error_class, first.retry_after_seconds) == (429, "http_429", 1.0)


async def test_a_route_waiting_out_retry_after_does_not_hold_its_concurrency_slot(
    fake: FakeProviders, client: HttpTransport
) -> None:
    fake.script("webhook", [(503, {"Retry-After": "1"})])
    webhook = connectors_for(fake).connectors["webhook"]
    slot = asyncio.Semaphore(1)
    policy = replace(FAST, max_delay=5.0)

    async def route(key: str) -> DeliveryOutcome:
        return await deliver(
            webhook, make_notification(), client=client, policy=policy, idempotency_key=key, limiter=slot
        )

    backing_off = asyncio.create_task(route("plan-1:route-1:webhook"))
    while not fake.requests_for("webhook"):
        await asyncio.sleep(0.01)
    # The only slot is free while the first route sleeps: the second is sent meanwhile.
    other = await asyncio.wait_for(route("plan-1:route-2:webhook"), timeout=0.8)
    assert other.outcome == "delivered"
    assert not backing_off.done()
    first = await backing_off
    assert first.outcome == "delivered" and [a.status_code for a in first.attempts] == [503, 204]
    assert not slot.locked()


async def test_retry_after_http_date_is_honoured_and_capped(client: HttpTransport) -> None:
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    async with FakeProviders() as fake:
        fake.script(
            "teams", [(503, {"Retry-After": format_datetime(now + timedelta(seconds=7), usegmt=True)})]
        )
        fake.script("teams", [(429, {"Retry-After": "120"}), 200])
        sleep = RecordingSleep()
        outcome = await deliver(
            connectors_for(fake).connectors["teams"],
            make_notification(),
            client=client,
            policy=RetryPolicy(max_attempts=3, timeout_seconds=0.5, max_delay=30.0),
            idempotency_key="k",
            sleep=sleep,
            now=lambda: now,
        )

    assert outcome.outcome == "delivered"
    assert sleep.delays == [7.0, 30.0]
    assert [a.retry_after_seconds for a in outcome.attempts] == [7.0, 120.0, None]


async def test_a_hanging_provider_times_out_per_attempt_and_is_retried(
    fake: FakeProviders, client: HttpTransport
) -> None:
    fake.script("teams", ["hang", 200])
    started = time.monotonic()

    outcome = await send(connectors_for(fake), "teams", client)

    assert time.monotonic() - started < 2.0
    assert outcome.outcome == "delivered"
    hung = outcome.attempts[0]
    assert (hung.status_code, hung.error_class, hung.outcome) == (None, "timeout", "failed")
    assert hung.latency_ms >= 150


async def test_the_per_attempt_deadline_covers_the_whole_lookup_then_create_exchange(
    fake: FakeProviders, client: HttpTransport
) -> None:
    fake.script("servicenow:query", [("delay", 0.12)])
    fake.script("servicenow:create", [("delay", 0.12)])

    async def wait_for_the_late_create(seconds: float) -> None:
        await asyncio.sleep(0.2)

    outcome = await deliver(
        connectors_for(fake).connectors["servicenow"],
        make_notification(),
        client=client,
        policy=FAST,
        idempotency_key="k",
        sleep=wait_for_the_late_create,
    )

    # Each step is under 0.2 s, together they are not: attempt 1 times out although the
    # provider did create the incident; attempt 2's query finds it instead of creating another.
    assert [(a.error_class, a.outcome) for a in outcome.attempts] == [
        ("timeout", "failed"),
        (None, "delivered"),
    ]
    assert (outcome.external_ref, outcome.deduplicated) == ("INC0000001", True)
    assert len(fake.incidents) == 1


async def test_a_down_connector_uses_every_attempt_with_growing_backoff(
    client: HttpTransport,
) -> None:
    connector_set = parse_connector_config({"webhook": {"url": unused_url("/drill")}}, {})
    sleep = RecordingSleep()

    outcome = await deliver(
        connector_set.connectors["webhook"],
        make_notification(),
        client=client,
        policy=RetryPolicy(max_attempts=3, timeout_seconds=0.2, base_delay=0.5, max_delay=0.8),
        idempotency_key="k",
        sleep=sleep,
        rng=lambda: 0.5,
    )

    assert outcome.outcome == "failed"
    assert [(a.error_class, a.status_code) for a in outcome.attempts] == [("connect_error", None)] * 3
    assert sleep.delays == [0.25, 0.4]
    assert outcome.signed is False


async def test_a_4xx_answer_is_permanent_after_one_attempt(
    fake: FakeProviders, client: HttpTransport
) -> None:
    fake.script("hec", [403])
    sleep = RecordingSleep()

    outcome = await send(connectors_for(fake), "siem", client, sleep=sleep)

    assert outcome.outcome == "permanent_failure"
    assert [(a.status_code, a.error_class) for a in outcome.attempts] == [(403, "http_4xx")]
    assert sleep.delays == []


async def test_jira_searches_first_and_creates_no_second_issue(
    fake: FakeProviders, client: HttpTransport
) -> None:
    connector_set = connectors_for(fake)

    first = await send(connector_set, "jira", client, key="plan-1:route-1:jira")
    again = await send(connector_set, "jira", client, key="plan-2:route-1:jira")

    assert (first.external_ref, first.deduplicated) == ("OPS-1", False)
    assert (again.outcome, again.external_ref, again.deduplicated) == ("delivered", "OPS-1", True)
    assert len(fake.requests_for("jira", "create")) == 1
    search = fake.requests_for("jira", "search")[-1].body["jql"]
    label = jira_label(make_notification().dedup_key)
    assert search == f'project = "OPS" AND labels = "{label}" AND statusCategory != Done'
    assert label in fake.jira_issues[0]["fields"]["labels"]

    fake.jira_issues[0]["status"] = "Done"
    reopened = await send(connector_set, "jira", client, key="plan-3:route-1:jira")
    assert (reopened.external_ref, reopened.deduplicated) == ("OPS-2", False)


async def test_servicenow_queries_first_and_creates_no_second_incident(
    fake: FakeProviders, client: HttpTransport
) -> None:
    connector_set = connectors_for(fake)

    first = await send(connector_set, "servicenow", client, key="plan-1:route-1:sn")
    again = await send(connector_set, "servicenow", client, key="plan-2:route-1:sn")

    assert (first.external_ref, first.deduplicated) == ("INC0000001", False)
    assert (again.external_ref, again.deduplicated) == ("INC0000001", True)
    assert len(fake.incidents) == 1
    incident = fake.incidents[0]
    assert incident["correlation_id"] == servicenow_correlation_id(make_notification().dedup_key)
    assert (incident["urgency"], incident["correlation_display"]) == ("1", "CAVRA Drill Ops")
    assert fake.requests_for("servicenow", "query")[0].headers["authorization"].startswith("Basic ")

    incident["active"] = False
    reopened = await send(connector_set, "servicenow", client, key="plan-3:route-1:sn")
    assert (reopened.external_ref, reopened.deduplicated) == ("INC0000002", False)


async def test_the_fake_rejects_a_webhook_signed_with_another_secret(client: HttpTransport) -> None:
    async with FakeProviders(webhook_secret=WEBHOOK_SECRET) as fake:
        wrong = connectors_for(fake, webhook={"url": fake.url("webhook", "/drill"), "secret": OTHER_SECRET})
        outcome = await send(wrong, "webhook", client)
        rejected = list(fake.unexpected)
        fake.unexpected.clear()

    assert outcome.outcome == "permanent_failure" and outcome.status_code == 401
    assert len(rejected) == 1 and "signature rejected" in rejected[0]


async def test_a_webhook_without_secret_is_sent_unsigned_and_says_so(client: HttpTransport) -> None:
    async with FakeProviders(allow_unsigned_webhooks=True) as fake:
        unsigned = connectors_for(fake, webhook={"url": fake.url("webhook", "/drill")})
        outcome = await send(unsigned, "webhook", client)
        headers = fake.requests_for("webhook")[0].headers

    assert (outcome.outcome, outcome.signed) == ("delivered", False)
    assert "webhook-signature" not in headers


@pytest.mark.parametrize(
    ("provider", "path", "body", "complaint"),
    [
        ("pagerduty", "/v2/enqueue", {"routing_key": "x"}, "no fake provider serves this path"),
        ("slack", "/services/T/B/X", {"text": "no blocks"}, "blocks must be a list"),
        ("teams", "/workflows/x", {"@type": "MessageCard", "summary": "legacy"}, "legacy MessageCard"),
        ("jira", "/rest/api/3/search/jql", {"jql": "project = OPS"}, "missing Basic or Bearer Authorization"),
    ],
)
async def test_the_fake_fails_the_test_on_any_unexpected_request(
    client: HttpTransport, provider: str, path: str, body: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        async with FakeProviders() as fake:
            answer = await client.request(
                "POST",
                fake.url(provider, path),
                headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
                body=json.dumps(body).encode(),
            )
            assert answer.status in (400, 401, 404)


async def test_the_fake_fails_the_test_when_one_webhook_id_is_delivered_twice(
    client: HttpTransport,
) -> None:
    with pytest.raises(AssertionError, match="delivered successfully twice"):
        async with FakeProviders(webhook_secret=WEBHOOK_SECRET) as fake:
            connector_set = connectors_for(fake)
            for _ in range(2):
                assert (await send(connector_set, "webhook", client, key="same")).outcome == "delivered"


async def test_a_broken_entry_is_reported_alone_and_the_others_deliver(
    fake: FakeProviders, client: HttpTransport, tmp_path: Path
) -> None:
    path = tmp_path / "connectors.json"
    path.write_text(
        json.dumps(
            {
                "connectors": {
                    "slack": {"url": fake.url("slack", "/services/T/B/X")},
                    "ops-hec": {"type": "splunk", "url_env": "HEC_URL", "token_env": "HEC_TOKEN"},
                }
            }
        )
    )

    connector_set = load_connector_config(path, {"HEC_URL": fake.url("hec")})

    assert connector_set.names() == ["slack"]
    assert list(connector_set.problems) == ["ops-hec"]
    assert "HEC_TOKEN" in connector_set.problems["ops-hec"]
    assert (await send(connector_set, "slack", client)).outcome == "delivered"


async def test_no_canary_secret_reaches_outcomes_errors_or_config_reprs(
    client: HttpTransport, tmp_path: Path
) -> None:
    webhook_secret = "whsec_" + base64.b64encode(b"CANARY-WEBHOOK-SIGNING-KEY").decode()
    canaries = {
        "CANARY-SLACK-PATH",
        "CANARY-PATH-SECRET",
        "CANARY-QUERY",
        "CANARY-TEAMS-SIG",
        "CANARY-JIRA-TOKEN",
        "CANARY-SN-PASSWORD",
        "CANARY-HEC-TOKEN",
        "CANARY-DOWN-PATH",
        "CANARY-DOWN-QUERY",
        webhook_secret,
    }
    async with FakeProviders(webhook_secret=webhook_secret) as fake:
        document = {
            "providers": {
                "slack": {"url": fake.url("slack", "/services/T/B/CANARY-SLACK-PATH")},
                "teams": {"url": fake.url("teams", "/workflows/x?sig=CANARY-TEAMS-SIG")},
                "webhook": {
                    "url": fake.url("webhook", "/hooks/CANARY-PATH-SECRET?token=CANARY-QUERY"),
                    "secret": webhook_secret,
                },
                "down": {
                    "type": "webhook",
                    "url": unused_url("/hooks/CANARY-DOWN-PATH?token=CANARY-DOWN-QUERY"),
                },
                "jira": {"url": fake.url("jira"), "token": "CANARY-JIRA-TOKEN", "project_key": "OPS"},
                "servicenow": {
                    "url": fake.url("servicenow"),
                    "username": "svc",
                    "password_env": "SN_PASSWORD",
                },
                "splunk": {"url": fake.url("hec"), "token": "CANARY-HEC-TOKEN"},
                "broken-jira": {"type": "jira", "url": fake.url("jira"), "api_token": "CANARY-JIRA-TOKEN"},
            }
        }
        config_path = tmp_path / "connectors.yaml"
        config_path.write_text(json.dumps(document))
        connector_set = load_connector_config(config_path, {"SN_PASSWORD": "CANARY-SN-PASSWORD"})
        assert sorted(connector_set.problems) == ["broken-jira"]

        fake.script("slack", [500, 200])
        fake.script("teams", ["hang", 200])
        fake.script("jira:create", [(503, {"Retry-After": "0"})])
        fake.script("hec", [401])
        fake.script("servicenow:create", [400])
        outcomes = [
            await deliver(
                connector,
                make_notification(),
                client=client,
                policy=FAST,
                idempotency_key=f"plan-1:route-1:{name}",
                sleep=RecordingSleep(),
            )
            for name, connector in sorted(connector_set.connectors.items())
        ]
        assert fake.requests_for("hec")[0].headers["authorization"] == "Splunk CANARY-HEC-TOKEN"
        assert "CANARY-PATH-SECRET" in fake.requests_for("webhook")[0].path

    assert {o.outcome for o in outcomes} == {"delivered", "failed", "permanent_failure"}
    surfaces: list[str] = [repr(connector_set), str(connector_set), json.dumps(connector_set.problems)]
    surfaces += [repr(c) + str(c) for c in connector_set.connectors.values()]
    surfaces += [repr(o) + str(asdict(o)) + json.dumps(o.as_evidence()) for o in outcomes]
    for broken in ('{"token": "CANARY-JIRA-TOKEN"', "token: 'CANARY-HEC-TOKEN"):
        suffix = ".json" if broken.startswith("{") else ".yml"
        bad = tmp_path / f"bad{suffix}"
        bad.write_text(broken)
        with pytest.raises(ConnectorConfigError) as raised:
            load_connector_config(bad, {})
        surfaces += [str(raised.value), repr(raised.value)]

    for canary in canaries:
        assert not any(canary in surface for surface in surfaces), canary
    secrets = secret_values(connector_set)
    assert all(any(canary in value for value in secrets) for canary in canaries)
    for outcome in outcomes:
        assert_clean(asdict(outcome), secrets)
