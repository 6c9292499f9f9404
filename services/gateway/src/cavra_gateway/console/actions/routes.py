"""``POST /console/actions/{name}`` (CSRF checked) runs one action; ``GET /console/actions/{name}/preview``
asks a bulk action's question. Answers are fragments for ``#status``: the success message with an
``HX-Trigger: {"cavra:changed": {"topics": [...]}}`` header (the page refreshes what changed), or the
API's status and message with that same HTTP status — and a fresh form key swapped out of band, so the
next click is a new request while a double submit stays one."""

from __future__ import annotations

import json
from typing import Final

import structlog
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response

from cavra_gateway.console.actions.base import ActionForm, InvalidActionForm, Outcome, new_key
from cavra_gateway.console.actions.registry import ACTIONS
from cavra_gateway.console.current import Mutating, SignedIn
from cavra_gateway.console.filters import InvalidFilter
from cavra_gateway.console.render import SECURITY_HEADERS, page

router = APIRouter(prefix="/console/actions", include_in_schema=False)
log = structlog.get_logger("cavra_gateway.console.actions")
MAX_FORM_FIELDS: Final = 32
NAME: Final = Path(max_length=40, pattern=r"^[a-z_]+$")


def _action(name: str) -> None:
    if name not in ACTIONS:
        raise HTTPException(404, f"action: no console action named {name!r}")


def _answer(request: Request, name: str, outcome: Outcome) -> Response:
    headers: dict[str, str] = {}
    if outcome.ok and outcome.topics:
        headers["HX-Trigger"] = json.dumps({"cavra:changed": {"topics": list(outcome.topics)}})
    if outcome.download is not None and outcome.ok:
        content, file_name = outcome.download
        return Response(
            content,
            media_type="application/json",
            headers={
                **SECURITY_HEADERS,
                **headers,
                "Content-Disposition": f'attachment; filename="{file_name}"',
            },
        )
    if not outcome.ok and not request.headers.get("hx-request"):
        return page(
            "console/problem_page.html", outcome.status, headers=headers,
            status=outcome.status, message=outcome.message, problems=list(outcome.problems),
        )  # fmt: skip
    return page(
        "console/action_result.html", outcome.status, headers=headers,
        outcome=outcome, action=ACTIONS[name], fresh_key=new_key(),
    )  # fmt: skip


async def _form(request: Request) -> ActionForm:
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    return ActionForm.parse(values, request.query_params)


def _invalid(request: Request, name: str, problems: list[dict[str, str]]) -> Response:
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return _answer(
        request, name, Outcome(422, f"invalid request: {message}", ok=False, problems=tuple(problems))
    )


@router.post("/{name}")
async def run_action(request: Request, viewer: Mutating, name: str = NAME) -> Response:
    _action(name)
    try:
        form = await _form(request)
    except (InvalidActionForm, InvalidFilter) as exc:
        return _invalid(request, name, exc.problems)
    outcome = await ACTIONS[name].run(viewer, form)
    log.info("console.action", action=name, actor=viewer.session.actor.actor, status=outcome.status)
    return _answer(request, name, outcome)


@router.get("/{name}/preview")
async def preview_action(request: Request, viewer: SignedIn, name: str = NAME) -> Response:
    _action(name)
    action = ACTIONS[name]
    if action.preview is None:
        raise HTTPException(404, f"action: {name} has no preview")
    try:
        form = ActionForm.parse({}, request.query_params)
    except (InvalidActionForm, InvalidFilter) as exc:
        return _invalid(request, name, exc.problems)
    return _answer(request, name, await action.preview(viewer, form))
