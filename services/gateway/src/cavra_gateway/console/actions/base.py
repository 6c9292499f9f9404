"""What a console action is (spec §7.5): a name, a label, the permission it needs, the view that offers it,
and ``run(viewer, form)`` — one or more requests to the REST API as the signed-in actor — answering an
:class:`Outcome`: the §7.5 success message, or the API's own status and message, never a fallback.

The form is read once and bounded here (:class:`ActionForm`); a value out of bounds is a 422 naming
the field. The browser sends only the mutation inputs, the filters and, for a row action, the table and
record id: every id an action sends to the API comes from the API's own answer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cavra_contracts.acknowledgements import MAX_BULK_ROUTES, MAX_NOTES_LENGTH
from cavra_contracts.limits import MAX_ID_LENGTH, MAX_REF_LENGTH
from cavra_gateway.console.api import ApiAnswer
from cavra_gateway.console.current import Viewer
from cavra_gateway.console.filters import ConsoleFilters

DESTINATIONS: Final = ("webhook", "splunk", "sentinel", "datadog", "slack", "teams", "jira", "servicenow")
"""Audit delivery destinations of the mutation inputs row (spec §7.1)."""
KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
RECORD_ID_PATTERN: Final = re.compile(r"^[^\x00-\x1f\x7f/]{1,256}$")
TABLE_PATTERN: Final = re.compile(r"^[a-z_]{1,32}$")
TEXT_PATTERN: Final = re.compile(r"^[^\x00-\x1f\x7f]*$")
MAX_SELECTED: Final = MAX_BULK_ROUTES
"""Routes "Ack selected" acknowledges at once: one atomic bulk request of the API holds at most this."""
MAX_EXPECTED_COUNT: Final = 1_000_000


class InvalidActionForm(ValueError):
    """A form field of an action outside its bounds; names the field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.problems = [{"field": field_name, "message": message}]


def new_key() -> str:
    """A fresh form key (rendered into the mutation inputs; renewed after every answer)."""
    return secrets.token_urlsafe(24)


def _text(form: Mapping[str, Any], name: str, limit: int, *, pattern: re.Pattern[str] = TEXT_PATTERN) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise InvalidActionForm(name, "must be text")
    value = value.strip()
    if len(value) > limit:
        raise InvalidActionForm(name, f"at most {limit} characters")
    if value and not pattern.fullmatch(value):
        raise InvalidActionForm(name, "contains characters that are not allowed")
    return value


@dataclass(frozen=True)
class ActionForm:
    """The fields an action may read, bounded."""

    key: str = ""
    external_ref: str = ""
    notes: str = ""
    destination: str = ""
    table: str = ""
    record_id: str = ""
    selected: tuple[str, ...] = ()
    expected_count: int | None = None
    filters: ConsoleFilters = field(default_factory=ConsoleFilters)

    @classmethod
    def parse(cls, form: Mapping[str, Any], query: Mapping[str, str]) -> ActionForm:
        key = _text(form, "idempotency_key", 64)
        if key and not KEY_PATTERN.fullmatch(key):
            raise InvalidActionForm("idempotency_key", "16-64 letters, digits, - or _")
        destination = _text(form, "destination", 32)
        if destination and destination not in DESTINATIONS:
            raise InvalidActionForm("destination", f"one of {', '.join(DESTINATIONS)}")
        table = _text(form, "table", 32)
        if table and not TABLE_PATTERN.fullmatch(table):
            raise InvalidActionForm("table", "not a table name")
        record_id = _text(form, "record_id", 256, pattern=RECORD_ID_PATTERN)
        selected_text = _text(form, "selected", MAX_SELECTED * (MAX_ID_LENGTH + 1))
        selected = tuple(dict.fromkeys(part.strip() for part in selected_text.split(",") if part.strip()))
        if len(selected) > MAX_SELECTED:
            raise InvalidActionForm("selected", f"at most {MAX_SELECTED} routes at once")
        if any(len(part) > MAX_ID_LENGTH or not RECORD_ID_PATTERN.fullmatch(part) for part in selected):
            raise InvalidActionForm("selected", "not a list of route ids")
        expected_text = _text(form, "expected_count", 8)
        expected: int | None = None
        if expected_text:
            if not expected_text.isdigit() or int(expected_text) > MAX_EXPECTED_COUNT:
                raise InvalidActionForm("expected_count", f"a whole number up to {MAX_EXPECTED_COUNT}")
            expected = int(expected_text)
        filter_values = {**query, **{k: v for k, v in form.items() if isinstance(v, str)}}
        return cls(
            key=key,
            external_ref=_text(form, "external_ref", MAX_REF_LENGTH),
            notes=_text(form, "notes", MAX_NOTES_LENGTH),
            destination=destination,
            table=table,
            record_id=record_id,
            selected=selected,
            expected_count=expected,
            filters=ConsoleFilters.from_query(filter_values),
        )

    def idempotency_key(self, action: str, *parts: str) -> str | None:
        """The API's Idempotency-Key of ``action`` on these inputs: the same form key, action and target
        is the same request (a double submit is one action), another action never reuses it."""
        if not self.key:
            return None
        material = "\x1f".join((self.key, action, self.record_id, ",".join(self.selected), *parts))
        return hashlib.sha256(material.encode()).hexdigest()[:48]


@dataclass(frozen=True)
class Confirmation:
    """A bulk action's question: what it will touch, and the fields its Confirm button posts."""

    question: str
    action: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Outcome:
    """What an action answers: HTTP status, the message for ``#status``, the API's field errors, the
    live topics that changed (the ``HX-Trigger`` header), a confirmation, or a file to download."""

    status: int
    message: str
    ok: bool = True
    problems: tuple[Mapping[str, str], ...] = ()
    topics: tuple[str, ...] = ()
    confirm: Confirmation | None = None
    download: tuple[bytes, str] | None = None


def failed(answer: ApiAnswer) -> Outcome:
    """The API's answer as it is: its status, its message, its field errors."""
    return Outcome(answer.status, answer.message, ok=False, problems=tuple(answer.field_errors))


def refused(status: int, field_name: str, message: str) -> Outcome:
    """A refusal of the console itself (nothing was asked of the API)."""
    return Outcome(
        status, f"{field_name}: {message}", ok=False, problems=({"field": field_name, "message": message},)
    )


def queued(answer: ApiAnswer) -> Outcome:
    """202: the API stored the command but its service has not answered yet."""
    return Outcome(
        202, "Queued: the request was accepted and will be applied; this page refreshes when it is.", ok=True
    )


def answered(answer: ApiAnswer, message: Callable[[Any], str], topics: tuple[str, ...]) -> Outcome:
    """Success (``message`` of the API's body) or the API's failure."""
    if not answer.ok:
        return failed(answer)
    if answer.status == 202 and isinstance(answer.body, dict) and answer.body.get("status") == "accepted":
        return queued(answer)
    return Outcome(200, message(answer.body if isinstance(answer.body, dict) else {}), topics=topics)


def count(body: Any, *path: str) -> int:
    """Length of the list at ``path`` of ``body`` (0 when absent)."""
    value: Any = body
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return len(value) if isinstance(value, list) else 0


def text(body: Any, *path: str) -> str:
    value: Any = body
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


Run = Callable[[Viewer, ActionForm], Awaitable[Outcome]]
Preview = Callable[[Viewer, ActionForm], Awaitable[Outcome]]


@dataclass(frozen=True)
class Action:
    """One button of §7.5."""

    name: str
    label: str
    permission: str
    view: str
    run: Run
    row: bool = False
    """A row action (table + record id), else a toolbar button of ``view``."""
    preview: Preview | None = None
    """Bulk actions: the confirmation asked first (``GET /console/actions/{name}/preview``)."""
    hint: str = ""


Body = Callable[[ActionForm], Mapping[str, Any]]
Message = Callable[[Any], str]


def posting(path: str, body: Body, message: Message, topics: tuple[str, ...], name: str) -> Run:
    """An action that is one POST of ``body(form)`` to ``path``."""

    async def run(viewer: Viewer, form: ActionForm) -> Outcome:
        posted = await viewer.api.post(path, body(form), idempotency_key=form.idempotency_key(name))
        return answered(posted, message, topics)

    return run


def toolbar(
    name: str, label: str, permission: str, view: str, path: str, body: Body, message: Message,
    topics: tuple[str, ...], hint: str = "",
) -> Action:  # fmt: skip
    """A toolbar button of ``view`` that POSTs ``body`` to ``path``."""
    return Action(name, label, permission, view, posting(path, body, message, topics, name), hint=hint)
