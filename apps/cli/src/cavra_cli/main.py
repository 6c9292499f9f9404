"""The single ``cavra`` entry point."""

from __future__ import annotations

import asyncio
import runpy
from pathlib import Path

import typer

from cavra_cli import acknowledgements
from cavra_cli.audit import audit_app
from cavra_cli.escalations import escalation_app
from cavra_cli.executive import executive_app
from cavra_cli.reporting import reporting_app
from cavra_cli.reports import runtime_app
from cavra_cli.retries import retries_app
from cavra_cli.tokens import tokens_app
from cavra_runtime import services

app = typer.Typer(
    help="CAVRA Drill Ops: governed rollback drills.", no_args_is_help=True, add_completion=False
)
acknowledgements.register(runtime_app)
runtime_app.add_typer(escalation_app)
runtime_app.add_typer(executive_app)
app.add_typer(runtime_app, name="runtime")
app.add_typer(reporting_app, name="reporting")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.add_typer(retries_app, name="retries")


@app.command()
def up(
    home: Path = typer.Option(Path(".cavra"), envvar="CAVRA_HOME", help="Data folder"),
    api_port: int = typer.Option(8000, envvar="CAVRA_API_PORT", help="Gateway port"),
    demo: bool = typer.Option(
        False,
        "--demo",
        envvar="CAVRA_CONSOLE_DEMO",
        help="Demo mode: a separate system under $CAVRA_HOME/demo, filled with sample data through the API",
    ),
) -> None:
    """Start NATS + PostgreSQL (embedded unless CAVRA_NATS_URL / CAVRA_DATABASE_URL are set),
    every service and the API."""
    from cavra_cli.supervisor import up as run_up

    raise typer.Exit(run_up(home, api_port, demo=demo))


@app.command()
def api() -> None:
    """Run the HTTP gateway in this process."""
    runpy.run_module("cavra_gateway", run_name="__main__")


@app.command()
def service(name: str = typer.Argument(..., help=" | ".join(services.names()))) -> None:
    """Run one service in this process (replicas: run it again)."""
    try:
        package = services.get(name).package
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="NAME") from exc
    runpy.run_module(package, run_name="__main__")


@app.command()
def migrate() -> None:
    """Create the database, apply every service's migrations and provision the JetStream streams."""
    from cavra_cli.prepare import prepare
    from cavra_runtime.settings import RuntimeSettings

    settings = RuntimeSettings.from_env()
    applied = asyncio.run(prepare(settings.database_url, settings.nats_url))
    for name, items in applied.items():
        typer.echo(f"{name}: {', '.join(items) if items else 'up to date'}")


@app.command()
def contracts(
    allow_breaking: bool = typer.Option(
        False, "--allow-breaking", help="Overwrite snapshots even when a contract changed incompatibly."
    ),
) -> None:
    """Regenerate JSON Schema snapshots and docs/asyncapi.yaml from the contract registry.

    A contract may only gain optional fields; any other change is refused (add a V2 contract).
    """
    from cavra_cli.contracts_docs import IncompatibleContracts, write_all

    try:
        changed = write_all(allow_breaking=allow_breaking)
    except IncompatibleContracts as exc:
        typer.echo(f"incompatible contract change (add a V2 contract instead): {exc}", err=True)
        raise typer.Exit(1) from exc
    for path in changed:
        typer.echo(f"wrote {path}")


if __name__ == "__main__":
    app()
