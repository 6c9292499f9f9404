"""Delivery jobs (pure): a plan and a DeliverMessageV1 become the same Job shape; a job's target
becomes a Notification; ack links reach the payloads that show them, and only those."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from cavra_contracts import ack_links
from cavra_contracts.deliveries import ESCALATION_SOURCE, MAX_JOB_DATA_BYTES, DeliverMessageV1
from cavra_contracts.notifications import NOTIFICATION_SOURCE
from cavra_delivery import jobs, records
from cavra_delivery.connectors import parse_connector_config, providers
from cavra_delivery.links import AckLinks, ack_links_from
from cavra_delivery.settings import DeliverySettings
from tests.support.plans import planned

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
SECRET = "unit-ack-link-secret-0123456789"
LINKS = AckLinks(SecretStr(SECRET), "https://cavra.example", timedelta(hours=24))
CONNECTORS = parse_connector_config(
    {
        "slack": {"url": "https://hooks.slack.com/services/T/B/x"},
        "teams": {"url": "https://teams.example/workflows/1"},
        "jira": {"url": "https://acme.atlassian.net", "token": "t", "project_key": "OPS"},
        "servicenow": {"url": "https://acme.service-now.com", "token": "t"},
        "webhook": {"url": "https://hooks.acme.test/drill"},
        "siem": {"url": "https://splunk.acme.test:8088", "token": "t"},
    },
    environ={},
)


def command(**changes: Any) -> DeliverMessageV1:
    body: dict[str, Any] = {
        "job_id": "esc-gordroute-1",
        "source": ESCALATION_SOURCE,
        "content": {
            "kind": "rollback_drill_escalation",
            "event_type": "cavra.go_backend.rollback_drill.escalation",
            "title": "Rollback drill route escalated",
            "text": "No acknowledgement within 30 min",
            "severity": "critical",
            "facts": [{"title": "Owner", "value": "platform"}],
            "data": {"breach_minutes": 31, "route_id": "spoofed"},
        },
        "targets": [
            {
                "target_key": "platform-lead:slack",
                "provider": "slack",
                "owner": "platform-lead",
                "route_id": "gordroute-1",
                "schedule_id": "payments",
                "plan_id": "gordn-1",
            },
            {"target_key": "audit:webhook", "provider": "webhook", "owner": "audit"},
        ],
        "ack_links": True,
    }
    body.update(changes)
    return DeliverMessageV1.model_validate(body)


def test_a_plan_is_a_job_whose_id_is_the_plan_and_whose_targets_are_its_deliverable_routes() -> None:
    event = planned(1, owners=("team-0", "team-1"), providers=("hook_a",))
    job = jobs.plan_job(event)
    deliverable = event.plan.deliverable()
    assert (job.job_id, job.source, job.record_plan_id) == (
        event.plan.plan_id,
        NOTIFICATION_SOURCE,
        event.plan.plan_id,
    )
    assert [t.key for t in job.targets] == [d.route_key for d in deliverable]
    assert all(t.ack_link and t.plan_id == event.plan.plan_id for t in job.targets)
    note = job.message.notification(job.targets[0], delivery="d-1", now=NOW, ack_url=None)
    assert note.route_id == deliverable[0].route_id and note.event["data"]["plan_id"] == event.plan.plan_id


def test_a_command_is_a_job_its_targets_with_a_route_get_links_and_its_record_names_it() -> None:
    job = jobs.message_job(command())
    first, second = job.targets
    assert (job.job_id, job.source, job.record_plan_id) == ("esc-gordroute-1", ESCALATION_SOURCE, None)
    assert first.ack_link and not second.ack_link, "no route, no link"
    assert not any(t.ack_link for t in jobs.message_job(command(ack_links=False)).targets)
    assert job.ids == {"job_id": "esc-gordroute-1", "kind": "rollback_drill_escalation"}, "targets differ"

    note = job.message.notification(first, delivery="esc-gordroute-1:platform-lead:slack:slack", now=NOW)
    assert (note.title, note.severity, note.facts) == (
        "Rollback drill route escalated",
        "critical",
        (("Owner", "platform"),),
    )
    assert note.event["type"] == "cavra.go_backend.rollback_drill.escalation"
    assert note.event["subject"] == "job/esc-gordroute-1/route/gordroute-1"
    data = note.event["data"]
    assert data["breach_minutes"] == 31 and data["route_id"] == "gordroute-1", "target ids win"
    assert (data["plan_id"], data["schedule_id"], data["target_key"]) == (
        "gordn-1",
        "payments",
        "platform-lead:slack",
    )
    other = job.message.notification(second, delivery="x", now=NOW)
    assert other.dedup_key != note.dedup_key, "one ticket per job target"

    record = records.delivery_record(
        job.ids, [], source=job.source, generated_at=NOW.isoformat(), event_type=job.event_type
    )
    assert (record["job_id"], record["connector_delivery_source"], record["event_type"]) == (
        "esc-gordroute-1",
        ESCALATION_SOURCE,
        "cavra.go_backend.rollback_drill.escalation",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"targets": []}, "targets"),
        ({"job_id": ""}, "job_id"),
        (
            {"targets": [{"target_key": "a", "provider": "slack"}, {"target_key": "a", "provider": "jira"}]},
            "",
        ),
    ],
)
def test_a_command_that_cannot_be_delivered_does_not_decode(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        command(**changes)
    assert field in str(caught.value)


def test_a_jobs_data_is_bounded() -> None:
    content = command().content.model_dump() | {"data": {"blob": "x" * MAX_JOB_DATA_BYTES}}
    with pytest.raises(ValidationError, match="at most"):
        command(content=content)


def requests_for(ack_url: str | None) -> dict[str, str]:
    job = jobs.message_job(command())
    note = job.message.notification(job.targets[0], delivery="d-1", now=NOW, ack_url=ack_url)
    return {
        name: "".join(
            json.dumps(step.json_body) + (step.content or b"").decode() + step.url
            for step in providers.build_requests(connector, note, "d-1", NOW)
        )
        for name, connector in CONNECTORS.connectors.items()
    }


def test_the_ack_link_reaches_webhook_teams_jira_and_servicenow_but_not_slack_or_the_siem() -> None:
    job = jobs.message_job(command())
    url = LINKS.for_target(job.targets[0], NOW)
    assert url is not None and LINKS.for_target(job.targets[1], NOW) is None
    token = url.rsplit("/", 1)[1]
    claims = ack_links.verify(token, SECRET, NOW + timedelta(hours=23))
    assert (claims.route_id, claims.plan_id, claims.provider, claims.state) == (
        "gordroute-1",
        "gordn-1",
        "slack",
        "acknowledged",
    )
    with pytest.raises(ack_links.AckLinkError, match="expired"):
        ack_links.verify(token, SECRET, NOW + timedelta(hours=24))
    assert LINKS.for_target(job.targets[0], NOW) != url, "a fresh link per notification"

    sent = requests_for(url)
    assert {name for name, text in sent.items() if token in text} == {
        "webhook",
        "teams",
        "jira",
        "servicenow",
    }
    assert all(token not in text for text in requests_for(None).values())

    note = job.message.notification(job.targets[0], delivery="d-1", now=NOW, ack_url=url)
    webhook = providers.build_requests(CONNECTORS.connectors["webhook"], note, "d-1", NOW)[0]
    assert json.loads(webhook.content or b"")["data"]["ack_url"] == url
    teams = providers.build_requests(CONNECTORS.connectors["teams"], note, "d-1", NOW)[0].json_body
    [action] = teams["attachments"][0]["content"]["actions"]
    assert action == {"type": "Action.OpenUrl", "title": "Acknowledge", "url": url}
    slack = providers.build_requests(CONNECTORS.connectors["slack"], note, "d-1", NOW)[0].json_body
    [button] = [e for b in slack["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["value"] == "gordroute-1", "Slack keeps its Ack button"
    assert token not in repr(note) and "ack_url" not in note.event["data"], "nothing to log or store"


def test_links_need_both_the_secret_and_the_public_url() -> None:
    assert ack_links_from(DeliverySettings()) is None
    assert ack_links_from(DeliverySettings(ack_link_secret=SECRET)) is None
    links = ack_links_from(DeliverySettings(ack_link_secret=SECRET, public_base_url="https://ops.example/"))
    assert links is not None and links.base_url == "https://ops.example" and SECRET not in repr(links)
    assert links.ttl == timedelta(hours=24)
    with pytest.raises(ValidationError, match="ack_link_secret"):
        DeliverySettings(ack_link_secret="short")
    with pytest.raises(ValidationError, match="public_base_url"):
        DeliverySettings(public_base_url="https://ops.example/?token=x")


def test_a_slack_message_about_no_route_has_no_ack_button() -> None:
    job = jobs.message_job(command())
    unrouted = job.message.notification(job.targets[1], delivery="d-2", now=NOW)
    routed = job.message.notification(job.targets[0], delivery="d-1", now=NOW)
    slack = CONNECTORS.connectors["slack"]
    kinds = [
        [block["type"] for block in providers.build_requests(slack, note, "d", NOW)[0].json_body["blocks"]]
        for note in (routed, unrouted)
    ]
    assert "actions" in kinds[0] and "actions" not in kinds[1]
