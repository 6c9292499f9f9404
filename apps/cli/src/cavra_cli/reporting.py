"""``cavra reporting rebuild``: rebuild the reporting read models by replaying CAVRA_EVENTS from the start."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.progress import Progress

reporting_app = typer.Typer(help="Reporting read models (notification history and dashboard).")
console = Console(highlight=False)


@reporting_app.command("rebuild")
def rebuild(
    timeout: float = typer.Option(3600.0, min=1, help="Give up after this many seconds."),
) -> None:
    """Drop the reporting schema, re-create it and replay every stored event into it.

    Stop every reporting replica first (the command refuses while one answers); start them again after.
    The answers afterwards are byte-identical to those before (the read models are a function of the
    events). Uses CAVRA_NATS_URL and CAVRA_DATABASE_URL like the services.
    """
    from cavra_reporting.rebuild import StillRunning
    from cavra_reporting.rebuild import rebuild as run_rebuild
    from cavra_reporting.settings import ReportingSettings

    settings = ReportingSettings.from_env()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("replaying CAVRA_EVENTS", total=None)

        def progress(applied: int, total: int) -> None:
            bar.update(task, completed=applied, total=total)

        try:
            rebuilt = asyncio.run(run_rebuild(settings, timeout=timeout, progress=progress))
        except StillRunning as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
        except TimeoutError as exc:
            console.print(f"[red]rebuild did not finish: {exc}[/red]")
            raise typer.Exit(1) from exc
    console.print(f"reporting rebuilt: {rebuilt.events} stored events replayed in {rebuilt.seconds:.1f}s")
