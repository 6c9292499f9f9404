"""``cavra runtime go-rollback-drill-executive-report-document``: a saved executive report as HTML or PDF.

Reads the JSON of ``GET …/recovery-executive-report`` (``{report, metadata}``) or of a stored run
(``{run, …}``) and renders it offline with the gateway's own documents code; nothing is asked or
stored. Bad input exits 2 with the message.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console

from cavra_gateway.documents import render

executive_app = typer.Typer()
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)
MAX_INPUT_BYTES = 4 * 1024 * 1024


def _fail(message: str) -> None:
    err.print(f"[bold red]{message}[/]")
    raise typer.Exit(2)


def _load(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            _fail(f"{path}: larger than {MAX_INPUT_BYTES} bytes")
        loaded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _fail(f"{path}: {exc}")
    if not isinstance(loaded, dict):
        _fail(f"{path}: must be an object")
    run = loaded.get("run")
    if isinstance(run, dict) and isinstance(run.get("executive_report"), dict):
        return run["executive_report"], run
    report = loaded.get("report", loaded)
    if not isinstance(report, dict) or "executive_report_id" not in report:
        _fail(f"{path}: not an executive report ({{report}}, {{run}} or the report itself)")
    return report, None


@executive_app.command("go-rollback-drill-executive-report-document")
def executive_report_document(
    source: Path = typer.Argument(..., help="JSON of GET …/recovery-executive-report or of a stored run"),
    format: Literal["html", "pdf"] = typer.Option("html", "--format", help="html or pdf"),  # noqa: A002
    output: Path = typer.Option(..., "--output", help="File to write"),
) -> None:
    """Render a saved executive recovery report as a readable document (SVG charts; PDF by WeasyPrint)."""
    report, run = _load(source)
    page = render.html(report, run=run)
    if format == "html":
        output.write_text(page)
    else:
        output.write_bytes(asyncio.run(render.pdf(page)))
    out.print(f"executive report {report['executive_report_id']} written to {output}")
