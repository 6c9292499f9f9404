"""Jira Cloud REST v3: search open issues by a stable label first, create one only if none is open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cavra_delivery.connectors.model import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest, base_headers, clip, first_text, url_of
from cavra_delivery.connectors.providers.base import EntryProblem, Provider, auth_header, one_auth
from cavra_delivery.connectors.providers.keys import stable_hash

LABEL = "cavra-drillops"
BASIC = ("email", "api_token")


def jira_label(dedup_key: str) -> str:
    """The Jira label that marks every issue of one dedup key (searched before creating)."""
    return f"cavra-drill-{stable_hash(dedup_key)}"


def check(secrets: Mapping[str, str], options: Mapping[str, str]) -> None:
    if "project_key" not in options:
        raise EntryProblem("must configure project_key (or project_key_env)")
    one_auth(secrets, bearer="token", basic=BASIC)


def build(
    connector: ConnectorConfig, notification: Notification, idempotency_key: str, now: datetime
) -> list[HttpRequest]:
    """Search open issues by the stable label (REST v3 ``search/jql``), then create one if none."""
    base = url_of(connector).rstrip("/")
    headers = {
        **base_headers(idempotency_key),
        "Accept": "application/json",
        "Authorization": auth_header(connector, BASIC),
    }
    project = connector.options["project_key"]
    label = jira_label(notification.dedup_key)
    jql = f"project = {_jql_string(project)} AND labels = {_jql_string(label)} AND statusCategory != Done"
    search = {"jql": jql, "fields": ["key"], "maxResults": 1}
    create = {
        "fields": {
            "project": {"key": project},
            "issuetype": {"name": connector.options.get("issue_type", "Task")},
            "summary": clip(" ".join(notification.title.split()), 255),
            "description": _adf(notification),
            "labels": [LABEL, label],
        }
    }
    return [
        HttpRequest("POST", f"{base}/rest/api/3/search/jql", headers, json_body=search, step="lookup"),
        HttpRequest("POST", f"{base}/rest/api/3/issue", headers, json_body=create, step="create"),
    ]


def existing_ref(body: Any) -> str | None:
    """The key of the first open issue the search found, else None; ``ValueError`` on another shape."""
    issues = body.get("issues") if isinstance(body, Mapping) else None
    if not isinstance(issues, Sequence) or isinstance(issues, str):
        raise ValueError("unexpected search response shape")
    return next((ref for item in issues if (ref := first_text(item, ("key", "id"))) is not None), None)


def created_ref(body: Any) -> str | None:
    """The new issue's key."""
    return first_text(body, ("key", "id"))


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _adf_text(text: str, **marks: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text or "-"}
    if marks.get("strong"):
        node["marks"] = [{"type": "strong"}]
    if marks.get("href"):
        node["marks"] = [{"type": "link", "attrs": {"href": marks["href"]}}]
    return node


def _adf(notification: Notification) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {"type": "paragraph", "content": [_adf_text(line)]} for line in notification.text.splitlines() if line
    ] or [{"type": "paragraph", "content": [_adf_text(notification.title)]}]
    facts = [("Severity", notification.severity), *notification.facts]
    content.append(
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {
                            "type": "paragraph",
                            "content": [_adf_text(f"{title}: ", strong=True), _adf_text(value)],
                        }
                    ],
                }
                for title, value in facts
            ],
        }
    )
    links = [*notification.links]
    if notification.ack_url is not None:
        links.insert(0, ("Acknowledge this alert (one-time link)", notification.ack_url))
    for label, url in links:
        content.append({"type": "paragraph", "content": [_adf_text(label, href=url)]})
    return {"type": "doc", "version": 1, "content": content}


PROVIDER = Provider(
    type="jira",
    build=build,
    check=check,
    base_url=True,
    option_keys=("project_key", "issue_type"),
    option_defaults={"issue_type": "Task"},
    existing_ref=existing_ref,
    created_ref=created_ref,
)
