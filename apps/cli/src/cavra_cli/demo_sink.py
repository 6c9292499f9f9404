"""The demo sink: one small HTTP server on 127.0.0.1 that answers like the providers ``cavra up --demo``
points its connectors at (Slack, Teams, webhook, Splunk HEC, Jira, ServiceNow), and one that is down.

It answers what each provider answers for the payloads this system sends (docs:
/work/shared/spec/connector-payloads.md; the strict test fakes are tests/support/fake_providers.py):
Slack ``200 ok``, Teams ``202``, a webhook ``204``, HEC ``{"text": "Success", "code": 0}``, Jira a
search then a created issue (an open issue per stable label is found again, never opened twice),
ServiceNow a query then a created incident (one active incident per ``correlation_id``). Every path
under ``/down/`` answers 503, so the demo's failing connector shows failed deliveries and retries
honestly. Nothing is stored but counters and the demo issues; bodies are bounded.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 2 * 1024 * 1024
DOWN_PREFIX = "/down/"


class _DemoState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.jira_issues: dict[str, str] = {}  # stable label -> issue key
        self.incidents: dict[str, dict[str, str]] = {}  # correlation_id -> incident


class _Handler(BaseHTTPRequestHandler):
    server: _DemoServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return  # the delivery service's evidence is the record of what was sent

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, {"error": "body too large"})
            self.close_connection = True
            return
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        split = urlsplit(self.path)
        path = split.path
        state = self.server.state
        provider = path.strip("/").split("/", 1)[0] or "unknown"
        with state.lock:
            state.requests[provider] += 1
        if path.startswith(DOWN_PREFIX):
            self._send(503, {"error": "demo connector is down"})
        elif method == "POST" and path.startswith("/slack/"):
            self._send(200, "ok")
        elif method == "POST" and path.startswith("/teams/"):
            self._send(202, None)
        elif method == "POST" and path.startswith("/webhook/"):
            self._send(204, None)
        elif method == "POST" and path == "/hec/services/collector/event":
            self._send(200, {"text": "Success", "code": 0})
        elif method == "POST" and path == "/jira/rest/api/3/search/jql":
            self._send(200, self._jira_search(body))
        elif method == "POST" and path == "/jira/rest/api/3/issue":
            self._send(201, self._jira_create(body))
        elif path == "/servicenow/api/now/table/incident":
            if method == "GET":
                self._send(200, self._servicenow_query(split.query))
            else:
                self._send(201, self._servicenow_create(body))
        else:
            self._send(404, {"error": "no demo provider serves this path"})

    def _jira_search(self, body: Any) -> dict[str, Any]:
        jql = body.get("jql", "") if isinstance(body, dict) else ""
        state = self.server.state
        with state.lock:
            found = [key for label, key in state.jira_issues.items() if f'labels = "{label}"' in jql]
        return {"issues": [{"id": key, "key": key} for key in found], "isLast": True}

    def _jira_create(self, body: Any) -> dict[str, Any]:
        fields = body.get("fields", {}) if isinstance(body, dict) else {}
        labels = [label for label in fields.get("labels", []) if isinstance(label, str)]
        state = self.server.state
        with state.lock:
            key = f"DEMO-{len(state.jira_issues) + 1}"
            for label in labels:
                if label.startswith("cavra-drill-"):
                    state.jira_issues[label] = key
        return {"id": key, "key": key, "self": f"/rest/api/3/issue/{key}"}

    def _servicenow_query(self, query: str) -> dict[str, Any]:
        terms = dict(
            term.split("=", 1)
            for term in parse_qs(query).get("sysparm_query", [""])[0].split("^")
            if "=" in term
        )
        state = self.server.state
        with state.lock:
            incident = state.incidents.get(terms.get("correlation_id", ""))
        return {"result": [incident] if incident else []}

    def _servicenow_create(self, body: Any) -> dict[str, Any]:
        correlation_id = str(body.get("correlation_id", "")) if isinstance(body, dict) else ""
        state = self.server.state
        with state.lock:
            incident = {"sys_id": uuid.uuid4().hex, "number": f"INC{len(state.incidents) + 1:07d}"}
            state.incidents[correlation_id] = incident
        return {"result": incident}

    def _send(self, status: int, body: Any) -> None:
        if body is None:
            data, kind = b"", "text/plain"
        elif isinstance(body, str):
            data, kind = body.encode(), "text/plain"
        else:
            data, kind = json.dumps(body).encode(), "application/json"
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    state: _DemoState


class DemoSink:
    """``with DemoSink() as sink``: ``sink.url`` (``http://127.0.0.1:<port>``), ``sink.requests``.

    Runs in a daemon thread of the process that starts it (``cavra up --demo``, or a test)."""

    def __init__(self, port: int = 0) -> None:
        self._server = _DemoServer(("127.0.0.1", port), _Handler)
        self._server.state = _DemoState()
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-sink", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> Counter[str]:
        with self._server.state.lock:
            return Counter(self._server.state.requests)

    def start(self) -> DemoSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DemoSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
