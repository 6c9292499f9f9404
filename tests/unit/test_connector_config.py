"""CAVRA_CONNECTOR_CONFIG loading: shapes, env indirection, per-entry problems, hidden secrets."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from cavra_delivery.connectors import (
    ConnectorConfigError,
    load_connector_config,
    parse_connector_config,
    secret_values,
)

WHSEC = "whsec_" + base64.b64encode(b"unit-test-signing-key-000000000").decode()
GOOD: dict[str, dict[str, Any]] = {
    "slack": {"url": "https://hooks.slack.com/services/T1/B1/slack-path-secret"},
    "teams": {"url": "https://prod.workflows.example/workflows/1/run?sig=teams-sig"},
    "jira": {
        "url": "https://acme.atlassian.net",
        "email": "ops@acme.test",
        "api_token": "jira-tok",
        "project_key": "OPS",
    },
    "servicenow": {"url": "https://acme.service-now.com", "username": "svc", "password": "sn-pass"},
    "webhook": {"url": "https://hooks.acme.test/drill", "secret": WHSEC},
    "siem": {"url": "https://splunk.acme.test:8088", "token": "hec-tok"},
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("wrapper", ["connectors", "providers", None])
def test_all_three_document_shapes_load_every_type(tmp_path: Path, wrapper: str | None) -> None:
    document = {wrapper: GOOD} if wrapper else GOOD
    loaded = load_connector_config(write(tmp_path, "c.json", json.dumps(document)), {})

    assert loaded.problems == {}
    assert loaded.names() == sorted(GOOD)
    assert {c.type for c in loaded.connectors.values()} == set(GOOD)


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_yaml_is_chosen_by_suffix(tmp_path: Path, suffix: str) -> None:
    text = "connectors:\n  ops-slack:\n    type: Slack\n    url: https://hooks.slack.com/services/a/b/c\n"

    loaded = load_connector_config(write(tmp_path, f"c{suffix}", text), {})

    assert loaded.connectors["ops-slack"].type == "slack"


@pytest.mark.parametrize(
    ("name", "declared", "expected"),
    [
        ("Splunk", None, "siem"),
        ("audit", "splunk-hec", "siem"),
        ("ServiceNow", None, "servicenow"),
        ("chat", " MS-TEAMS ", None),
        ("chat", "Teams", "teams"),
    ],
)
def test_type_defaults_to_the_normalised_name_and_accepts_splunk(
    name: str, declared: str | None, expected: str | None
) -> None:
    base = GOOD[expected] if expected else GOOD["teams"]
    entry = {**base, **({"type": declared} if declared else {})}

    loaded = parse_connector_config({name: entry}, {})

    if expected is None:
        assert "unknown type 'MS-TEAMS'" in loaded.problems[name]
    else:
        assert loaded.connectors[name].type == expected


def test_several_connectors_of_one_type_are_kept_apart() -> None:
    loaded = parse_connector_config(
        {
            "team-a": {"type": "slack", "url": "https://hooks.slack.com/services/a/a/a"},
            "team-b": {"type": "slack", "url": "https://hooks.slack.com/services/b/b/b"},
        },
        {},
    )

    assert [c.name for c in loaded.of_type("slack")] == ["team-a", "team-b"]
    assert loaded.connectors["team-b"].url.get_secret_value().endswith("/b/b/b")


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("slack", "url"),
        ("jira", "email"),
        ("jira", "api_token"),
        ("jira", "project_key"),
        ("servicenow", "username"),
        ("servicenow", "password"),
        ("webhook", "secret"),
        ("siem", "token"),
        ("siem", "url"),
    ],
)
def test_every_credential_and_url_may_come_from_the_environment(kind: str, key: str) -> None:
    entry = dict(GOOD[kind])
    value = entry.pop(key)
    entry[f"{key}_env"] = "FROM_ENV"

    loaded = parse_connector_config({kind: entry}, {"FROM_ENV": value})

    connector = loaded.connectors[kind]
    found = {"url": connector.url.get_secret_value(), **connector.options}.get(key) or connector.secret(key)
    assert found == value


def test_servicenow_and_jira_accept_a_bearer_token_instead_of_basic() -> None:
    loaded = parse_connector_config(
        {
            "jira": {"url": "https://jira.acme.test", "token": "pat", "project_key": "OPS"},
            "servicenow": {"url": "https://sn.acme.test", "token": "oauth"},
        },
        {},
    )

    assert loaded.problems == {}
    assert loaded.connectors["jira"].options["issue_type"] == "Task"


def test_defaults_for_jira_and_hec_options() -> None:
    loaded = parse_connector_config({"jira": GOOD["jira"], "siem": GOOD["siem"]}, {})

    assert loaded.connectors["jira"].options == {"issue_type": "Task", "project_key": "OPS"}
    assert loaded.connectors["siem"].options == {"source": "cavra-drillops", "sourcetype": "_json"}


def test_disabled_entries_are_skipped_without_a_problem() -> None:
    loaded = parse_connector_config(
        {"slack": {**GOOD["slack"], "enabled": False}, "jira": {"enabled": False}}, {}
    )

    assert loaded.names() == [] and loaded.problems == {}


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"type": "slack"}, "url"),
        ({"type": "siem", "url": "https://splunk.acme.test"}, "token"),
        ({"type": "siem", "url": "https://splunk.acme.test", "token_env": "UNSET_TOKEN"}, "UNSET_TOKEN"),
        ({"type": "pagerduty", "url": "https://events.pagerduty.com"}, "unknown type 'pagerduty'"),
        ({"type": "jira", "url": "https://acme.atlassian.net", "token": "t"}, "project_key"),
        ({**GOOD["jira"], "type": "jira", "api_token": None}, "'api_token'"),
        ({"type": "jira", "url": "https://j.test", "project_key": "OPS", "email": "a@b.c"}, "'api_token'"),
        ({"type": "servicenow", "url": "https://sn.test"}, "'username' + 'password'"),
        ({"type": "servicenow", "url": "https://sn.test", "token": "t", "username": "u"}, "not both"),
        ({"type": "slack", "url": "x", "url_env": "X"}, "not both"),
        ({"type": "webhook", "url": "https://h.test", "secret": "whsec_"}, "'secret'"),
        ({"type": "teams", "url": "ftp://files.test/drop"}, "'url'"),
        ({"type": "siem", "url": "https://splunk.test?token=x", "token": "t"}, "base URL"),
        ({"type": "slack", "url": "https://h.test", "enabled": "no"}, "'enabled'"),
        ("not-an-object", "must be an object"),
    ],
)
def test_a_broken_entry_is_reported_alone(entry: Any, fragment: str) -> None:
    if isinstance(entry, dict):
        entry = {key: value for key, value in entry.items() if value is not None}

    loaded = parse_connector_config({"broken": entry, "slack": GOOD["slack"]}, {})

    assert loaded.names() == ["slack"]
    assert list(loaded.problems) == ["broken"]
    assert loaded.problems["broken"].startswith("connector broken: ")
    assert fragment in loaded.problems["broken"]


def test_problem_messages_never_quote_a_value() -> None:
    loaded = parse_connector_config(
        {
            "a": {"type": "teams", "url": "not-a-url-SECRET1"},
            "b": {"type": "jira", "url": "https://j.test", "api_token": "SECRET2", "project_key": "P"},
            "c": {"type": "webhook", "url": "https://h.test", "secret": "whsec_SECRET3!!"},
            "d": {"type": "siem", "url": "https://s.test", "token": ["SECRET4"]},
        },
        {},
    )

    assert sorted(loaded.problems) == ["a", "b", "c", "d"]
    assert "SECRET" not in json.dumps(loaded.problems)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("c.json", '{"connectors": {"x": {"token": "SECRET-IN-BAD-JSON"', "not valid JSON"),
        ("c.yaml", "connectors:\n  x: {token: 'SECRET-IN-BAD-YAML\n", "not valid YAML at line"),
        ("c.json", "[1, 2]", "must be an object"),
        ("c.yml", "", "must be an object"),
        ("c.json", '{"connectors": ["slack"]}', "'connectors' must be an object"),
    ],
)
def test_file_level_problems_raise_without_quoting_the_file(
    tmp_path: Path, name: str, text: str, fragment: str
) -> None:
    with pytest.raises(ConnectorConfigError, match=fragment) as raised:
        load_connector_config(write(tmp_path, name, text), {})

    assert "SECRET" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="connector config not found: .*nope.json"):
        load_connector_config(tmp_path / "nope.json", {})


def test_repr_and_str_hide_urls_and_credentials() -> None:
    loaded = parse_connector_config(GOOD, {})

    shown = repr(loaded) + str(loaded) + "".join(repr(c) + str(c) for c in loaded.connectors.values())

    for secret in (
        "slack-path-secret",
        "teams-sig",
        "jira-tok",
        "sn-pass",
        "hec-tok",
        WHSEC,
        "ops@acme.test",
    ):
        assert secret not in shown
    assert "splunk.acme.test:8088" in shown


def test_secret_values_cover_credentials_urls_and_derived_basic_auth() -> None:
    values = secret_values(parse_connector_config(GOOD, {}))

    for expected in (
        "jira-tok",
        "sn-pass",
        "hec-tok",
        WHSEC,
        GOOD["slack"]["url"],
        "/services/T1/B1/slack-path-secret",
        "sig=teams-sig",
        base64.b64encode(b"ops@acme.test:jira-tok").decode(),
    ):
        assert expected in values
    assert "" not in values and "ops@acme.test" not in values
