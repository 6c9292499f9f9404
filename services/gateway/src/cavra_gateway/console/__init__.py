"""The Evidence Console: server-rendered pages over the REST API at ``/console``.

Sign-in sessions (:mod:`.sessions`), the in-process API client (:mod:`.api`), the filters in the URL
(:mod:`.filters`), cards (:mod:`.cards`), tables (:mod:`.tables`), actions (:mod:`.actions`), the live
feed (:mod:`.live`), and the pages and fragments that render them (:mod:`.pages`, :mod:`.fragments`).
:func:`install` adds all of it to the gateway app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from cavra_gateway.console.assets import StaticAssets
from cavra_gateway.console.current import SignInRequired
from cavra_gateway.console.filters import InvalidFilter
from cavra_gateway.console.render import page

EVENTS_PATH: Final = "/console/events"
STATIC: Final = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Mount the console's routes and static files on ``app``."""
    from cavra_gateway.console import documents, fragments, pages
    from cavra_gateway.console.actions import routes as actions_routes
    from cavra_gateway.console.current import signed_in
    from cavra_gateway.console.live import live_router

    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(InvalidFilter, _invalid_filter)
    app.add_exception_handler(HTTPException, _http_problem)
    app.include_router(pages.router)
    app.include_router(fragments.router)
    app.include_router(documents.router)
    app.include_router(live_router(signed_in))
    app.include_router(actions_routes.router)
    app.mount("/console/static", StaticAssets(directory=STATIC), name="console-static")


def _is_console(request: Request) -> bool:
    path = request.url.path
    return path == "/console" or (path.startswith("/console/") and path != "/console/session")


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if request.url.path == EVENTS_PATH:  # an EventSource cannot follow a redirect to a page
        return Response("sign in first", status_code=401)
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": exc.next_url})
    return RedirectResponse(exc.next_url, 303)


async def _invalid_filter(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidFilter)
    return _problem(request, 422, "invalid filter", exc.problems)


async def _http_problem(request: Request, exc: Exception) -> Response:
    """Console paths answer their errors as HTML the page can show; the API keeps its JSON bodies."""
    assert isinstance(exc, HTTPException)
    if not _is_console(request):
        return await http_exception_handler(request, exc)
    return _problem(request, exc.status_code, str(exc.detail), [], headers=dict(exc.headers or {}))


def _problem(
    request: Request,
    status: int,
    message: str,
    problems: list[dict[str, str]],
    headers: dict[str, str] | None = None,
) -> Response:
    template = "console/problem.html" if request.headers.get("hx-request") else "console/problem_page.html"
    return page(template, status, headers=headers, status=status, message=message, problems=problems)
