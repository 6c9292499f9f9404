"""The console's pages: sign-in and sign-out, and ``GET /console`` — one view (tab) with its cards and
tables rendered on the server from the API, filters and paging taken from the URL."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from cavra_gateway.auth.tokens import MAX_TOKEN_LENGTH
from cavra_gateway.console import cards
from cavra_gateway.console.current import Mutating, SignedIn, find_session, session_store
from cavra_gateway.console.filters import (
    CATEGORIES,
    KINDS,
    PROVIDERS,
    SOURCES,
    STATES,
    ConsoleFilters,
    Paging,
)
from cavra_gateway.console.render import page
from cavra_gateway.console.sessions import COOKIE, COOKIE_PATH, SIGN_IN_COOKIE
from cavra_gateway.console.tables.base import Table, TablePage
from cavra_gateway.console.tables.registry import VIEWS, tables_of
from cavra_gateway.deps import state_of

router = APIRouter(prefix="/console", include_in_schema=False)

DEFAULT_VIEW = "notifications"
VIEW_CARDS: dict[str, tuple[str, ...]] = {
    "notifications": ("drills", "audit"),
    "routes": ("drills",),
    "routing": ("routing",),
    "retries": ("retries",),
    "recovery": ("recovery",),
    "executive": ("executive",),
}
"""The card groups each view shows above its tables."""


def _safe_next(target: str) -> str:
    """Only a console path of this origin (never ``//host`` or another scheme)."""
    if target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _cookie_secure(request: Request) -> bool:
    configured = state_of(request).settings.console_cookie_secure
    return request.url.scheme == "https" if configured is None else configured


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str = Query(default="/console", max_length=2000)) -> Response:
    if await find_session(request) is not None:
        return RedirectResponse(_safe_next(next), 303)
    return _sign_in_page(request, _safe_next(next))


def _sign_in_page(request: Request, next_url: str, *, error: str = "", status_code: int = 200) -> Response:
    form_token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    state = state_of(request)
    response = page(
        "console/sign_in.html",
        status_code,
        next_url=next_url,
        form_token=form_token,
        error=error,
        oidc=state.auth is not None and state.auth.oidc_enabled,
        demo=state.settings.console_demo,
    )
    response.set_cookie(
        SIGN_IN_COOKIE, form_token, httponly=True, samesite="strict", path=COOKIE_PATH,
        secure=_cookie_secure(request), max_age=3600,
    )  # fmt: skip
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/console",
) -> Response:
    next_url = _safe_next(next)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        return _sign_in_page(request, next_url, error="The sign-in form expired: try again.", status_code=403)
    if not token.strip():
        return _sign_in_page(
            request, next_url, error="token: enter an API token or an OIDC token.", status_code=422
        )
    auth = state_of(request).auth
    if auth is None:
        raise HTTPException(503, "authentication is not available")
    try:
        actor = auth.authenticate(token.strip())
    except HTTPException as exc:
        return _sign_in_page(
            request, next_url, error=f"{exc.status_code}: {exc.detail}", status_code=exc.status_code
        )
    session_id, session = await session_store(request).open(
        actor, token.strip(), not_after=_jwt_expiry(actor.method, token)
    )
    response = RedirectResponse(next_url, 303)
    lifetime = max(int((session.expires_at - session.created_at).total_seconds()), 1)
    response.set_cookie(
        COOKIE, session_id, httponly=True, samesite="strict", path=COOKIE_PATH,
        secure=_cookie_secure(request), max_age=lifetime,
    )  # fmt: skip
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


def _jwt_expiry(method: str, token: str) -> datetime | None:
    """A verified JWT's ``exp``: its console session ends with it."""
    if method != "oidc":
        return None
    claims = jwt.decode(token.strip(), options={"verify_signature": False})
    return datetime.fromtimestamp(float(claims["exp"]), UTC)


@router.post("/sign-out")
async def sign_out(request: Request, _: Mutating) -> Response:
    await session_store(request).close(request.cookies.get(COOKIE))
    response = RedirectResponse("/console/sign-in", 303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


async def table_page(
    table: Table, viewer: SignedIn, filters: ConsoleFilters, query: Any
) -> tuple[Paging, TablePage]:
    paging = Paging.from_query(table.name, query, table.sorts)
    return paging, await table.page(viewer.api, filters, paging)


def page_context(request: Request, viewer: SignedIn, filters: ConsoleFilters, view: str) -> dict[str, Any]:
    """What every console template needs: who, what they may do, the filters and their choices."""
    session = viewer.session
    return {
        "request": request,
        "session": session,
        "actor": session.actor,
        "permissions": viewer.permissions,
        "csrf": session.csrf_token,
        "filters": filters,
        "view": view,
        "choices": {
            "provider": PROVIDERS,
            "state": STATES,
            "kind": KINDS,
            "source": SOURCES,
            "action": ("deliver", "suppress"),
            "category": CATEGORIES,
        },
        "demo": state_of(request).settings.console_demo,
        "query": dict(request.query_params),
    }


@router.get("")
async def console(
    request: Request, viewer: SignedIn, view: str = Query(default=DEFAULT_VIEW, max_length=32)
) -> Response:
    if view not in VIEWS:
        raise HTTPException(422, f"view: not a view of the console; views: {', '.join(VIEWS)}")
    filters = ConsoleFilters.from_query(request.query_params)
    tables = tables_of(view)
    groups = [cards.GROUPS[name] for name in VIEW_CARDS[view]]
    rendered_cards, *pages = await asyncio.gather(
        cards.render_groups(viewer.api, filters, groups),
        *(table_page(table, viewer, filters, request.query_params) for table in tables),
    )
    return page(
        "console/console.html",
        **page_context(request, viewer, filters, view),
        card_groups=rendered_cards,
        tables=[(table, paging, result) for table, (paging, result) in zip(tables, pages, strict=True)],
    )
