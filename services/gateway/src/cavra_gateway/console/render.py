"""Rendering of the console's templates (Jinja2, autoescape on) and the headers every console answer
carries (a strict Content-Security-Policy: scripts and styles from this origin only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cavra_gateway.console.tables.registry import VIEWS

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
STATIC: Final = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def merged(query: Mapping[str, str], **changes: str | int | None) -> str:
    """``query`` with ``changes`` applied (None or "" removes a key), as a query string; how page,
    sort and view links keep every other parameter of the URL (filters, other tables' pages)."""
    values = {k: v for k, v in query.items() if k not in changes}
    values |= {k: str(v) for k, v in changes.items() if v not in (None, "")}
    return urlencode(values)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def vendored(prefix: str) -> str:
    """The path under /console/static of the vendored file whose name starts with ``prefix``."""
    found = sorted((STATIC / "vendor").glob(f"{prefix}*.js"))
    return f"/console/static/vendor/{found[-1].name}" if found else ""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty_json"] = pretty_json
    env.globals["views"] = VIEWS
    env.globals["merged"] = merged
    # The actions import the console's session and API modules, which import this one.
    from cavra_gateway.console.actions.base import new_key
    from cavra_gateway.console.actions.registry import ACTIONS, offered, toolbar_of

    env.globals.update(
        console_actions=ACTIONS, action_offered=offered, toolbar_of=toolbar_of, new_key=new_key
    )
    env.globals["htmx_path"] = vendored("htmx")
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def page(
    template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """An HTML answer of ``template`` with the console's security headers."""
    return HTMLResponse(
        render(template, **context), status_code, headers={**SECURITY_HEADERS, **(headers or {})}
    )
