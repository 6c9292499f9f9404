"""Who is using the console: the signed-in session of a request, the CSRF check of every mutation,
and the API client that acts as that session's actor.

A page without a session redirects to the sign-in page; an htmx request without one answers 401 with
``HX-Redirect`` so the browser goes there too. A session whose credential no longer verifies (a
revoked or expired API token, a changed bootstrap token) is closed on first sight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from cavra_gateway.auth.permissions import permissions_of
from cavra_gateway.console.api import ConsoleApi
from cavra_gateway.console.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, ConsoleSession, SessionStore
from cavra_gateway.deps import state_of

SIGN_IN: str = "/console/sign-in"


class SignInRequired(Exception):
    """The request has no live console session."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def session_store(request: Request) -> SessionStore:
    store = state_of(request).console_sessions
    if store is None:
        raise HTTPException(503, "console sessions are not available")
    return store


async def find_session(request: Request) -> ConsoleSession | None:
    """The live session of the request's cookie, or None."""
    store = session_store(request)
    session_id = request.cookies.get(COOKIE)
    session = await store.find(session_id)
    if session is None:
        return None
    auth = state_of(request).auth
    if auth is None or not auth.still_valid(session.method, session.credential_hash):
        await store.close(session_id)
        return None
    return session


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not target.startswith("/console") or target.startswith("/console/fragments"):
        target = "/console"
    return f"{SIGN_IN}?next={quote(target, safe='')}"


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a console request: the session, its permissions, and its API client."""

    session: ConsoleSession
    api: ConsoleApi

    @property
    def permissions(self) -> dict[str, bool]:
        return permissions_of(self.session.actor.role)

    def may(self, permission: str) -> bool:
        return self.permissions.get(permission, False)


async def signed_in(request: Request) -> Viewer:
    session = await find_session(request)
    if session is None:
        raise SignInRequired(sign_in_url(request))
    settings = state_of(request).settings
    timeout = (
        settings.command_wait_seconds + settings.delivery_wait_seconds + 3 * settings.query_timeout_seconds
    )
    return Viewer(session, ConsoleApi(request.app, session.actor, timeout_seconds=timeout))


async def csrf_checked(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    """``signed_in``, and the session's CSRF token in the ``X-CSRF-Token`` header or the form; a request
    the browser marks cross-site is refused whatever it carries."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "cross-site request refused")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not viewer.session.csrf_matches(presented):
        raise HTTPException(403, "missing or wrong CSRF token: reload the console and try again")
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in)]
Mutating = Annotated[Viewer, Depends(csrf_checked)]
