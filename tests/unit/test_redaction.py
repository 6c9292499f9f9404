"""Host-only targets, text redaction and the leak detector."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import pytest

from cavra_delivery.connectors import REDACTED, SecretLeakError, assert_clean, redact, target_host


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
