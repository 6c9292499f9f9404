"""Render an executive report as HTML (Jinja2, autoescape on) or PDF (WeasyPrint, in a worker thread).

PDF rendering is CPU-bound: at most ``MAX_PDF_RENDERS`` run at once, each in a thread, so the event
loop keeps answering; a request that waits longer than ``PDF_WAIT_SECONDS`` for a slot gets 503.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import charts

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
MAX_PDF_RENDERS: Final = 2
PDF_WAIT_SECONDS: Final = 30.0
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


class RendererBusy(Exception):
    """Every PDF slot stayed busy for ``PDF_WAIT_SECONDS``."""


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _change_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    changes = (report.get("period_over_period") or {}).get("changes") or {}
    return [{"name": name.replace("_", " "), **values} for name, values in changes.items()]


def html(report: Mapping[str, Any], *, run: Mapping[str, Any] | None = None) -> str:
    """The report as a standalone HTML document with inline SVG charts."""
    template = _environment().get_template("executive_report.html.j2")
    return template.render(
        report=report,
        summary=report.get("executive_summary") or {},
        run=run,
        window=(run or {}).get("schedule") or {},
        statistics=report.get("closure_statistics") or {},
        changes=_change_rows(report),
        closure_chart=charts.closure_trend(report.get("closure_trends") or []),
        slo_chart=charts.slo_state(report.get("provider_summary") or []),
        outcome_chart=charts.execution_outcomes(report.get("execution_status_counts") or {}),
    )


def _pdf_now(document: str) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]  # heavy: imported on first PDF only

    pdf: bytes = HTML(string=document).write_pdf()
    return pdf


async def pdf(document: str) -> bytes:
    """``document`` (HTML) as PDF, rendered in a worker thread, a bounded number at once."""
    slots = _slots.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_PDF_RENDERS))
    try:
        await asyncio.wait_for(slots.acquire(), timeout=PDF_WAIT_SECONDS)
    except TimeoutError:
        raise RendererBusy from None
    try:
        return await asyncio.to_thread(_pdf_now, document)
    finally:
        slots.release()
