"""Signing in to the Evidence Console over HTTP, as a browser does (sign-in form, CSRF value, cookie)."""

from __future__ import annotations

import re

import httpx

from cavra_gateway.console.sessions import COOKIE

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str, next_url: str = "/console") -> httpx.Response:
    """Post the sign-in form with ``token``; the client keeps the session cookie."""
    form = await client.get("/console/sign-in", params={"next": next_url})
    assert form.status_code == 200, form.text
    return await client.post(
        "/console/sign-in", data={"token": token, "csrf_token": csrf_of(form.text), "next": next_url}
    )


async def session_cookie(base_url: str, token: str) -> dict[str, str]:
    """A ``Cookie`` header of a fresh console session of ``token`` on the gateway at ``base_url``."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        signed = await sign_in(client, token)
        assert signed.status_code == 303, signed.text
        return {"Cookie": f"{COOKIE}={client.cookies[COOKIE]}"}
