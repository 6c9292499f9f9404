"""Host-only targets, text redaction, in-place scrubbing of evidence and the leak detector."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

import pytest

from cavra_delivery.connectors import (
    REDACTED,
    SecretLeakError,
    assert_clean,
    redact,
    scrub,
    secret_pattern,
    target_host,
)
from cavra_delivery.evidence import RouteOutcome, scrub_outcome, scrub_record


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://user:pw@Hooks.Slack.com/services/T/B/X?token=y#frag", "hooks.slack.com"),
        ("https://splunk.acme.test:8088/services/collector/event", "splunk.acme.test:8088"),
        ("http://127.0.0.1:9/cavra", "127.0.0.1:9"),
        ("http://[::1]:8080/x", "[::1]:8080"),
        ("not a url", "unknown-host"),
        ("https://host.test:99999/x", "unknown-host"),
    ],
)
def test_target_host_keeps_host_and_port_only(url: str, host: str) -> None:
    assert target_host(url) == host


def test_redact_replaces_raw_and_url_encoded_forms() -> None:
    secret = "s3cr/t+key=&"
    text = f"raw {secret} | quoted {quote(secret, safe='')} | plus {quote_plus(secret)} | lower %2f"
    text += " " + quote(secret, safe="").lower()

    redacted = redact(text, [secret])

    assert redacted.count(REDACTED) == 4
    assert "s3cr" not in redacted


def test_redact_replaces_a_whole_url_before_the_token_inside_it() -> None:
    url = "https://hooks.example/hooks/PATH-SECRET?token=Q"

    assert redact(f"POST {url} failed", ["PATH-SECRET", url]) == f"POST {REDACTED} failed"


def test_redact_ignores_empty_secrets_and_leaves_clean_text_alone() -> None:
    assert redact("nothing to hide", ["", "absent"]) == "nothing to hide"


@dataclass(frozen=True)
class Evidence:
    host: str
    notes: tuple[str, ...]


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        ({"attempts": [{"error": "at TOKEN-1"}]}, "$.attempts[0].error"),
        ({"TOKEN-1": 1}, "$.<key>"),
        (("fine", b"bytes TOKEN-1"), "$[1]"),
        (Evidence("h", ("x", "TOKEN-1")), "$"),
        ({"e": RuntimeError("GET https://h/?t=TOKEN-1")}, "$.e"),
        ({"url": "https://h/?t=" + quote("TOKEN-1/x", safe="")}, "$.url"),
    ],
)
def test_assert_clean_finds_secrets_anywhere_and_does_not_repeat_them(obj: object, where: str) -> None:
    with pytest.raises(SecretLeakError) as raised:
        assert_clean(obj, ["TOKEN-1/x", "TOKEN-1"])

    assert str(raised.value) == f"a secret occurs in {where}"
    assert "TOKEN" not in str(raised.value)


def test_assert_clean_passes_clean_evidence() -> None:
    assert_clean(
        {"host": "hooks.slack.com", "attempts": [{"status_code": 500, "latency_ms": 1.5}]}, ["TOKEN-1", ""]
    )


def test_scrub_redacts_secrets_in_place_says_where_and_never_raises() -> None:
    pattern = secret_pattern(["/hook/jira", "TOKEN-1"])
    record = {
        "schedule_id": "payments",
        "deliveries": [{"owner": "ops/hook/jira", "status_code": 200}, {"owner": "platform"}],
        "notes": ("fine", "has TOKEN-1 inside"),
    }

    scrubbed, places = scrub(record, pattern)

    assert scrubbed["deliveries"][0]["owner"] == f"ops{REDACTED}"
    assert scrubbed["notes"] == ("fine", f"has {REDACTED} inside")
    assert places == ["$.deliveries[0].owner", "$.notes[1]"]
    assert scrubbed["deliveries"][1] is record["deliveries"][1], "clean parts are not copied"
    assert record["deliveries"][0]["owner"] == "ops/hook/jira", "the input is left alone"
    assert_clean(scrubbed, ["/hook/jira", "TOKEN-1"])


def test_scrub_without_secrets_returns_the_document_itself() -> None:
    record = {"owner": "ops/hook/jira"}
    assert scrub(record, secret_pattern([])) == (record, [])
    assert scrub(record, secret_pattern(["absent"]))[0] is record


def test_an_outcome_keeps_its_key_and_loses_the_secret_in_its_chosen_strings() -> None:
    outcome = RouteOutcome(
        delivery_id="gordn-1:gordrk-1:jira",
        plan_id="gordn-1",
        route_id="gordroute-1",
        route_key="gordrk-1",
        schedule_id="payments",
        provider="jira",
        owner="ops/hook/jira",
        connector="jira",
        connector_type="jira",
        target_host="jira.example",
        status="delivered",
        completed_at=datetime(2026, 11, 1, tzinfo=UTC),
        external_ref="OPS-1 /hook/jira",
    )

    scrubbed, fields = scrub_outcome(outcome, secret_pattern(["/hook/jira"]))

    assert (scrubbed.owner, scrubbed.external_ref) == (f"ops{REDACTED}", f"OPS-1 {REDACTED}")
    assert fields == ["external_ref", "owner"]
    assert scrubbed.delivery_id == outcome.delivery_id
    assert scrub_outcome(outcome, None) == (outcome, [])


def test_a_record_with_an_earlier_redaction_is_reported_even_when_now_clean() -> None:
    pattern = secret_pattern(["/hook/jira"])
    record = {"schedule_id": "s-1", "delivery": {"deliveries": [{"owner": f"ops{REDACTED}"}]}}

    kept, text, places = scrub_record(record, pattern)

    assert kept is record and json.loads(text) == record
    assert places == ["$.delivery.deliveries[0].owner"]
    assert scrub_record({"schedule_id": "s-1"}, pattern)[2] == []
