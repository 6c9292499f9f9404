"""The demo sink answers like each provider, opens one Jira issue / ServiceNow incident per key, and
its ``/down/`` connector always fails."""

from __future__ import annotations

import httpx

from cavra_cli.demo_sink import DemoSink

LABEL = "cavra-drill-0123456789abcdef"


def test_each_provider_answers_as_it_would_and_down_fails() -> None:
    with DemoSink() as sink, httpx.Client(base_url=sink.url, timeout=5) as http:
        assert http.post("/slack/services/DEMO", json={"text": "x"}).text == "ok"
        assert http.post("/teams/workflows/run", json={}).status_code == 202
        assert http.post("/webhook/drill", json={}).status_code == 204
        assert http.post("/hec/services/collector/event", json={}).json() == {"text": "Success", "code": 0}
        assert http.post("/down/hec/services/collector/event", json={}).status_code == 503
        assert http.post("/nowhere", json={}).status_code == 404
        assert sink.requests["down"] == 1 and sink.requests["slack"] == 1


def test_jira_and_servicenow_find_what_they_opened_instead_of_opening_another() -> None:
    with DemoSink() as sink, httpx.Client(base_url=sink.url, timeout=5) as http:
        jql = {"jql": f'project = "DEMO" AND labels = "{LABEL}" AND statusCategory != Done'}
        assert http.post("/jira/rest/api/3/search/jql", json=jql).json()["issues"] == []
        created = http.post("/jira/rest/api/3/issue", json={"fields": {"labels": [LABEL]}})
        assert created.status_code == 201
        found = http.post("/jira/rest/api/3/search/jql", json=jql).json()["issues"]
        assert [issue["key"] for issue in found] == [created.json()["key"]]

        query = {"sysparm_query": "correlation_id=cavra:demo^active=true"}
        table = "/servicenow/api/now/table/incident"
        assert http.get(table, params=query).json()["result"] == []
        incident = http.post(table, json={"correlation_id": "cavra:demo"}).json()["result"]
        assert http.get(table, params=query).json()["result"] == [incident]
