"""The executive report as documents for the signed-in browser: ``/console/documents/...`` fetches the
API's HTML or PDF as the session's actor (the API wants a bearer token a new browser tab does not
send) and answers its bytes — HTML to open in a tab, PDF as a download. A failed API answer is shown
as its status and message."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from cavra_gateway.console.api import ApiAnswer
from cavra_gateway.console.current import SignedIn
from cavra_gateway.console.render import SECURITY_HEADERS
from cavra_gateway.console.tables.paths import EXECUTIVE

router = APIRouter(prefix="/console/documents", include_in_schema=False)

RUN_ID: Final = Path(max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")
FORMAT: Final = Path(pattern="^(html|pdf)$")
MEDIA: Final = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
REPORT_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
"""The API's report is a self-contained page with its own styles and inline SVG charts, and no script."""


def _document(answer: ApiAnswer, fmt: str, name: str) -> Response:
    if not answer.ok:
        raise HTTPException(answer.status, answer.message)
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": REPORT_CSP}
    if fmt == "pdf":
        headers["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    return Response(answer.content, media_type=MEDIA[fmt], headers=headers)


@router.get("/executive-runs/{run_id}.{fmt}")
async def executive_run(viewer: SignedIn, run_id: str = RUN_ID, fmt: str = FORMAT) -> Response:
    """A stored schedule run's report."""
    answer = await viewer.api.get(f"{EXECUTIVE}/schedule-runs/{quote(run_id, safe='')}", {"format": fmt})
    return _document(answer, fmt, run_id)


@router.get("/executive-report.{fmt}")
async def executive_report(viewer: SignedIn, fmt: str = FORMAT) -> Response:
    """The executive report now (the API computes it and stores nothing)."""
    answer = await viewer.api.get(EXECUTIVE, {"format": fmt})
    return _document(answer, fmt, "executive-recovery-report")
