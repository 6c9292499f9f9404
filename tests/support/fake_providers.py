"""Fake Slack, Teams, Jira, ServiceNow, Splunk HEC and webhook receivers on 127.0.0.1 (real sockets).

    async with FakeProviders(webhook_secret=SECRET) as fake:
        fake.script("slack", [500, 200])
        url = fake.url("slack", "/services/T/B/X")

Every request is recorded and its payload checked against the provider's shape. Anything the fake
did not expect (unknown path, bad shape, missing auth or ``Idempotency-Key``, a bad webhook
signature, a webhook id delivered successfully twice, a second open Jira issue / ServiceNow
incident for one dedup key) lands in ``fake.unexpected``, and leaving the block raises
``AssertionError`` when that list is not empty. Scripts are consumed per request: an int status
(2xx means "behave normally"), ``(status, headers)``, ``("delay", seconds)`` (then behave normally),
or ``"hang"`` (answer only after the client has given up). Scripts keyed ``"jira:create"`` apply to
one step and win over ``"jira"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ScriptItem = int | tuple[int, Mapping[str, str]] | tuple[Literal["delay"], float] | Literal["hang"]

STABLE_LABEL = re.compile(r"^cavra-drill-[0-9a-f]{16}$")
_RESERVED: list[socket.socket] = []


def unused_url(path: str = "/") -> str:
    """An http URL on 127.0.0.1 where nothing listens (the port stays bound, so connections are refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _RESERVED.append(sock)
    return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it, and the status it answered."""

    provider: str
    step: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: Any
    raw: bytes
    status: int


@dataclass
class _Exchange:
    provider: str
    step: str
    request: Request
    raw: bytes
    body: Any
    headers: dict[str, str]
    problems: list[str] = field(default_factory=list)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test process keeps its own signal handlers.
        yield


class FakeProviders:
    """All six fake providers behind one local server; see the module docstring."""

    def __init__(
        self,
        *,
        webhook_secret: str | None = None,
        allow_unsigned_webhooks: bool = False,
        auth: Mapping[str, str] | None = None,
        hang_seconds: float = 10.0,
        mount: str = "",
    ) -> None:
        self.webhook_secret = webhook_secret
        self.allow_unsigned_webhooks = allow_unsigned_webhooks
        self.auth = dict(auth or {})
        self.hang_seconds = hang_seconds
        self.mount = mount.rstrip("/")
        """A path prefix every provider is served under (``/hook`` gives ``/hook/jira/...``)."""
        self.requests: list[RecordedRequest] = []
        self.unexpected: list[str] = []
        self.jira_issues: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []
        self.delivered_webhook_ids: set[str] = set()
        self._scripts: dict[str, deque[ScriptItem]] = {}
        self._closing = asyncio.Event()
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.base_url = ""

    # --- test API -------------------------------------------------------------------------

    def script(self, target: str, responses: Sequence[ScriptItem] | Literal["hang"]) -> None:
        """Queue answers for ``target`` (``"slack"`` or ``"jira:search"``); afterwards it behaves normally."""
        items: Sequence[ScriptItem] = ["hang"] if responses == "hang" else responses
        self._scripts.setdefault(target, deque()).extend(items)

    def url(self, provider: str, path: str = "") -> str:
        """The base URL of one fake provider (under ``mount``), plus ``path``."""
        return f"{self.base_url}{self.mount}/{provider}{path}"

    def requests_for(self, provider: str, step: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.provider == provider and (step is None or r.step == step)]

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FakeProviders:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
        )
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("fake provider server stopped during startup")
            await asyncio.sleep(0.005)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._closing.set()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=10)
        if exc_type is None and self.unexpected:
            raise AssertionError("fake providers saw unexpected requests:\n  " + "\n  ".join(self.unexpected))

    # --- dispatch -------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        path = request.url.path
        routed = path.removeprefix(self.mount) if path.startswith(f"{self.mount}/") else path
        provider, step = _route(request.method, routed)
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        exchange = _Exchange(provider, step, request, raw, body, headers)
        response = await self._respond(exchange)
        self.requests.append(
            RecordedRequest(
                provider,
                step,
                request.method,
                path,
                request.url.query,
                headers,
                body,
                raw,
                response.status_code,
            )
        )
        self.unexpected.extend(f"{provider} {step} {request.method} {path}: {p}" for p in exchange.problems)
        return response

    async def _respond(self, exchange: _Exchange) -> Response:
        if exchange.provider == "unknown":
            exchange.problems.append("no fake provider serves this path")
            return PlainTextResponse("not found", status_code=404)
        if not exchange.headers.get("idempotency-key"):
            exchange.problems.append("missing Idempotency-Key header")
        scripted = self._next_script(exchange.provider, exchange.step)
        if scripted == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=self.hang_seconds)
            return PlainTextResponse("gave up", status_code=504)
        status: int | None = None
        extra_headers: Mapping[str, str] = {}
        if isinstance(scripted, int):
            status = scripted
        elif isinstance(scripted, tuple) and scripted[0] == "delay":
            await asyncio.sleep(scripted[1])
        elif (
            isinstance(scripted, tuple) and isinstance(scripted[0], int) and isinstance(scripted[1], Mapping)
        ):
            status, extra_headers = scripted[0], scripted[1]
        handler = getattr(self, f"_{exchange.provider}")
        response: Response = handler(exchange, refused=status is not None and not 200 <= status < 300)
        if status is not None and not 200 <= status < 300:
            return JSONResponse(
                {"error": "scripted failure"}, status_code=status, headers=dict(extra_headers)
            )
        response.headers.update(dict(extra_headers))
        return response

    def _next_script(self, provider: str, step: str) -> ScriptItem | None:
        for key in (f"{provider}:{step}", provider):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return None

    # --- providers ------------------------------------------------------------------------
    # Each validates the request, records problems, and answers as the provider would. With
    # ``refused`` the caller answers with a scripted failure, so no state may change.

    def _slack(self, ex: _Exchange, *, refused: bool) -> Response:
        ex.problems.extend(_slack_problems(ex))
        if ex.problems:
            return PlainTextResponse("invalid_payload", status_code=400)
        return PlainTextResponse("ok")

    def _teams(self, ex: _Exchange, *, refused: bool) -> Response:
        ex.problems.extend(_teams_problems(ex))
        if ex.problems:
            return JSONResponse({"error": "invalid card"}, status_code=400)
        return Response(status_code=202)

    def _jira(self, ex: _Exchange, *, refused: bool) -> Response:
        if not self._authorised(ex, "jira", ("Basic ", "Bearer ")):
            return JSONResponse({"errorMessages": ["unauthorised"]}, status_code=401)
        if ex.step == "search":
            return self._jira_search(ex)
        ex.problems.extend(_jira_create_problems(ex.body))
        if ex.problems:
            return JSONResponse({"errorMessages": ["invalid issue"]}, status_code=400)
        fields = ex.body["fields"]
        label = next(label for label in fields["labels"] if STABLE_LABEL.match(label))
        project = fields["project"]["key"]
        if not refused and self._open_issues(project, label):
            ex.problems.append(f"a second open issue for label {label}")
        if refused:
            return Response(status_code=500)
        key = f"{project}-{len(self.jira_issues) + 1}"
        self.jira_issues.append({"id": str(10000 + len(self.jira_issues)), "key": key, "fields": fields})
        return JSONResponse({"id": self.jira_issues[-1]["id"], "key": key, "self": f"/issue/{key}"}, 201)

    def _jira_search(self, ex: _Exchange) -> Response:
        jql = ex.body.get("jql") if isinstance(ex.body, dict) else None
        match = re.fullmatch(
            r'project = "([^"]+)" AND labels = "([^"]+)" AND statusCategory != Done', jql or ""
        )
        if match is None:
            ex.problems.append("search JQL is not project + stable label + not Done")
            return JSONResponse({"errorMessages": ["bad jql"]}, status_code=400)
        found = self._open_issues(match.group(1), match.group(2))
        return JSONResponse({"issues": [{"id": i["id"], "key": i["key"]} for i in found], "isLast": True})

    def _open_issues(self, project: str, label: str) -> list[dict[str, Any]]:
        return [
            issue
            for issue in self.jira_issues
            if issue["fields"]["project"]["key"] == project
            and label in issue["fields"]["labels"]
            and issue.get("status") != "Done"
        ]

    def _servicenow(self, ex: _Exchange, *, refused: bool) -> Response:
        if not self._authorised(ex, "servicenow", ("Basic ", "Bearer ")):
            return JSONResponse({"error": {"message": "User Not Authenticated"}}, status_code=401)
        if ex.step == "query":
            query = ex.request.query_params.get("sysparm_query", "")
            terms = dict(term.split("=", 1) for term in query.split("^") if "=" in term)
            if "correlation_id" not in terms or terms.get("active") != "true":
                ex.problems.append("query is not correlation_id + active=true")
            found = self._active_incidents(terms.get("correlation_id", ""))
            return JSONResponse({"result": [{"sys_id": i["sys_id"], "number": i["number"]} for i in found]})
        ex.problems.extend(_servicenow_problems(ex.body))
        if ex.problems:
            return JSONResponse({"error": {"message": "invalid incident"}}, status_code=400)
        if not refused and self._active_incidents(ex.body["correlation_id"]):
            ex.problems.append(f"a second active incident for {ex.body['correlation_id']}")
        if refused:
            return Response(status_code=500)
        number = f"INC{len(self.incidents) + 1:07d}"
        incident = {**ex.body, "sys_id": uuid.uuid4().hex, "number": number, "active": True}
        self.incidents.append(incident)
        return JSONResponse({"result": incident}, status_code=201)

    def _active_incidents(self, correlation_id: str) -> list[dict[str, Any]]:
        return [i for i in self.incidents if i["correlation_id"] == correlation_id and i["active"]]

    def _hec(self, ex: _Exchange, *, refused: bool) -> Response:
        if not self._authorised(ex, "hec", ("Splunk ",)):
            return JSONResponse({"text": "Invalid authorization", "code": 3}, status_code=401)
        ex.problems.extend(_hec_problems(ex))
        if ex.problems:
            return JSONResponse({"text": "Invalid data format", "code": 6}, status_code=400)
        return JSONResponse({"text": "Success", "code": 0})

    def _webhook(self, ex: _Exchange, *, refused: bool) -> Response:
        if ex.headers.get("content-type", "").split(";")[0] != "application/cloudevents+json":
            ex.problems.append("content type is not application/cloudevents+json")
        event = ex.body if isinstance(ex.body, dict) else {}
        if event.get("specversion") != "1.0" or not all(event.get(k) for k in ("id", "source", "type")):
            ex.problems.append("body is not a structured CloudEvent")
        signed = "webhook-signature" in ex.headers
        if self.webhook_secret is not None and (signed or not self.allow_unsigned_webhooks):
            try:
                Webhook(self.webhook_secret).verify(ex.raw, ex.headers, json_parse=False)
            except WebhookVerificationError as exc:
                ex.problems.append(f"Standard Webhooks signature rejected: {exc}")
                return PlainTextResponse("bad signature", status_code=401)
        elif not signed and not self.allow_unsigned_webhooks:
            ex.problems.append("unsigned webhook")
        if ex.problems:
            return PlainTextResponse("bad request", status_code=400)
        if refused:
            return Response(status_code=500)
        message_id = ex.headers.get("webhook-id") or ex.headers.get("idempotency-key", "")
        if message_id in self.delivered_webhook_ids:
            ex.problems.append(f"webhook id {message_id} delivered successfully twice")
        self.delivered_webhook_ids.add(message_id)
        return Response(status_code=204)

    def _authorised(self, ex: _Exchange, provider: str, schemes: tuple[str, ...]) -> bool:
        value = ex.headers.get("authorization", "")
        expected = self.auth.get(provider)
        if expected is not None and value != expected:
            ex.problems.append("Authorization header does not match the configured credential")
            return False
        if not value.startswith(schemes) or not value.split(" ", 1)[1].strip():
            ex.problems.append(f"missing {' or '.join(s.strip() for s in schemes)} Authorization")
            return False
        return True


def _route(method: str, path: str) -> tuple[str, str]:
    routes = {
        ("POST", "/jira/rest/api/3/search/jql"): ("jira", "search"),
        ("POST", "/jira/rest/api/3/issue"): ("jira", "create"),
        ("GET", "/servicenow/api/now/table/incident"): ("servicenow", "query"),
        ("POST", "/servicenow/api/now/table/incident"): ("servicenow", "create"),
        ("POST", "/hec/services/collector/event"): ("hec", "event"),
    }
    if (method, path) in routes:
        return routes[(method, path)]
    for provider in ("slack", "teams", "webhook"):
        if method == "POST" and path.startswith(f"/{provider}/"):
            return provider, "post"
    return "unknown", "unknown"


def _json_content(ex: _Exchange) -> list[str]:
    if ex.headers.get("content-type", "").split(";")[0] != "application/json":
        return ["content type is not application/json"]
    return [] if isinstance(ex.body, dict) else ["body is not a JSON object"]


def _slack_problems(ex: _Exchange) -> list[str]:
    problems = _json_content(ex)
    if problems:
        return problems
    body = ex.body
    if not isinstance(body.get("text"), str) or not body["text"].strip():
        problems.append("no fallback text")
    blocks = body.get("blocks")
    if not isinstance(blocks, list) or not blocks or len(blocks) > 50:
        return [*problems, "blocks must be a list of 1..50 blocks"]
    known = {"header", "section", "context", "actions", "divider"}
    if any(not isinstance(b, dict) or b.get("type") not in known for b in blocks):
        problems.append("unknown block type")
    for block in blocks:
        if block.get("type") == "header" and len(block.get("text", {}).get("text", "")) > 150:
            problems.append("header longer than 150 characters")
        if block.get("type") == "section" and not (block.get("text") or block.get("fields")):
            problems.append("section without text or fields")
    buttons = [
        element
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]
    if not any(b.get("action_id") == "ack" and b.get("value") for b in buttons):
        problems.append("no Ack button carrying the route id")
    return problems


def _teams_problems(ex: _Exchange) -> list[str]:
    problems = _json_content(ex)
    if problems:
        return problems
    body = ex.body
    if "@type" in body or body.get("type") != "message":
        return ["not a Workflows message (legacy MessageCard?)"]
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return ["expected exactly one attachment"]
    attachment = attachments[0]
    card = attachment.get("content") or {}
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("attachment is not an Adaptive Card")
    if card.get("type") != "AdaptiveCard" or card.get("version") != "1.4":
        problems.append("card is not an AdaptiveCard of version 1.4")
    if card.get("$schema") != "http://adaptivecards.io/schemas/adaptive-card.json":
        problems.append("card has no Adaptive Card $schema")
    kinds = [element.get("type") for element in card.get("body", [])]
    if "TextBlock" not in kinds or "FactSet" not in kinds:
        problems.append("card body lacks a TextBlock title and a FactSet")
    if card.get("msteams") != {"width": "Full"}:
        problems.append("card is not msteams width Full")
    return problems


def _adf_problems(node: Any) -> list[str]:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return ["ADF node is not an object with a type"]
    if node["type"] == "text":
        return [] if isinstance(node.get("text"), str) and node["text"] else ["empty ADF text node"]
    children = node.get("content", [])
    if not isinstance(children, list):
        return ["ADF content is not a list"]
    return [problem for child in children for problem in _adf_problems(child)]


def _jira_create_problems(body: Any) -> list[str]:
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        return ["no fields object"]
    problems = []
    if not isinstance(fields.get("project"), dict) or not fields["project"].get("key"):
        problems.append("no fields.project.key")
    if not isinstance(fields.get("issuetype"), dict) or not fields["issuetype"].get("name"):
        problems.append("no fields.issuetype.name")
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary or len(summary) > 255 or "\n" in summary:
        problems.append("summary must be one line of 1..255 characters")
    description = fields.get("description")
    if (
        not isinstance(description, dict)
        or description.get("type") != "doc"
        or description.get("version") != 1
    ):
        problems.append("description is not an ADF doc (v3)")
    else:
        problems.extend(_adf_problems(description))
    labels = fields.get("labels")
    if not isinstance(labels, list) or not any(isinstance(x, str) and STABLE_LABEL.match(x) for x in labels):
        problems.append("labels lack the stable cavra-drill-<16 hex> label")
    elif any(" " in label for label in labels):
        problems.append("a label contains a space")
    return problems


def _servicenow_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = []
    for key in ("short_description", "description", "correlation_id", "correlation_display", "category"):
        if not isinstance(body.get(key), str) or not body[key]:
            problems.append(f"no {key}")
    if not str(body.get("correlation_id", "")).startswith("cavra:"):
        problems.append("correlation_id is not cavra:-prefixed")
    if body.get("urgency") not in ("1", "2", "3") or body.get("impact") not in ("1", "2", "3"):
        problems.append("urgency/impact must be '1'..'3'")
    return problems


def _hec_problems(ex: _Exchange) -> list[str]:
    problems = _json_content(ex)
    if problems:
        return problems
    body = ex.body
    try:
        uuid.UUID(ex.headers.get("x-splunk-request-channel", ""))
    except ValueError:
        problems.append("X-Splunk-Request-Channel is not a UUID")
    if not isinstance(body.get("event"), dict) or body["event"].get("specversion") != "1.0":
        problems.append("event is not a CloudEvent object")
    if not isinstance(body.get("time"), int | float):
        problems.append("time is not epoch seconds")
    for key in ("host", "source", "sourcetype"):
        if not isinstance(body.get(key), str) or not body[key]:
            problems.append(f"no {key}")
    fields = body.get("fields")
    if not isinstance(fields, dict) or not {"owner", "severity", "route_id"} <= set(fields):
        problems.append("fields lack owner, severity, route_id")
    return problems
