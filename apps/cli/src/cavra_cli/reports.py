"""``cavra runtime go-rollback-drill*``: the reports computed locally from files, no server.

The same pure domain code as the scheduler service; like the original CLI, flags only (the
``CAVRA_GO_*`` environment variables are not read) and nothing is persisted. A malformed
schedule prints every offending field and exits 2.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import ValidationError
from rich.console import Console

from cavra_contracts.schedules import RollbackDrillScheduleV1
from cavra_router import domain as routing
from cavra_scheduler import domain

runtime_app = typer.Typer(help="Rollback drill reports computed locally from files.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

MODE = typer.Option("disabled", "--mode", help="disabled | shadow | enforce | promoted")
HISTORY_PATH = typer.Option("", "--rollback-drill-history-path", help="Drill history JSON file")
SCHEDULE_PATH = typer.Option("", "--rollback-drill-schedule-path", help="Schedule JSON file (one or a list)")
MAX_AGE = typer.Option(90.0, "--rollback-drill-max-age-days", help="Drill freshness window")
DUE_SOON = typer.Option(14.0, "--rollback-drill-due-soon-days", help="Due-soon horizon (inclusive)")
SCHEDULE_ID = typer.Option(None, "--schedule-id", help="Pick one schedule of a list file (default: first)")
JSON = typer.Option(False, "--json", help="Print the full report as JSON")


def _print_report(title: str, report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(report))
        return
    out.print(f"{title}: {report['status']} ({report['mode']})")
    for check in report["checks"]:
        out.print(f"  {check['status']} {check['id']}: {check['message']}")


def _history(path: str, max_age_days: float, now: datetime) -> dict[str, Any]:
    loaded = domain.load_json_document(path)
    return domain.history_summary(
        loaded.as_object(), problem=loaded.problem, max_age_days=max_age_days, now=now
    )


def _pick_schedule(path: str, schedule_id: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The schedule document to evaluate (validated), or the file problem; exits 2 on bad content."""
    loaded = domain.load_json_document(path, allow_list=True)
    if loaded.problem:
        return None, loaded.problem
    entries = loaded.entries()
    for entry in entries:
        doc = entry.as_object()
        if entry.problem or doc is None:
            _fail(path, [f"{entry.problem or 'schedule must be an object'}"])
        assert doc is not None
        if schedule_id is None or doc.get("schedule_id") == schedule_id:
            try:
                RollbackDrillScheduleV1.model_validate(doc)
            except ValidationError as exc:
                _fail(path, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()])
            return doc, None
    _fail(path, [f"schedule_id: no schedule {schedule_id!r} in the file"])
    raise AssertionError("unreachable")


def _fail(path: str, problems: list[str]) -> None:
    err.print(f"[bold red]invalid rollback drill schedule[/] {path}:")
    for problem in problems:
        err.print(f"  {problem}")
    raise typer.Exit(2)


@runtime_app.command("go-rollback-drills")
def go_rollback_drills(
    mode: str = MODE,
    rollback_drill_history_path: str = HISTORY_PATH,
    rollback_drill_max_age_days: float = MAX_AGE,
    as_json: bool = JSON,
) -> None:
    """Drill history report (cavra.go-backend-pilot.rollback-drill-history.v1)."""
    now = datetime.now(UTC)
    summary = _history(rollback_drill_history_path, rollback_drill_max_age_days, now)
    report = domain.history_report(
        mode=mode,
        history_path=rollback_drill_history_path,
        max_age_days=rollback_drill_max_age_days,
        summary=summary,
    )
    _print_report("Go rollback drills", report, as_json)


@runtime_app.command("go-rollback-drill-schedule")
def go_rollback_drill_schedule(
    mode: str = MODE,
    rollback_drill_history_path: str = HISTORY_PATH,
    rollback_drill_max_age_days: float = MAX_AGE,
    rollback_drill_schedule_path: str = SCHEDULE_PATH,
    rollback_drill_due_soon_days: float = DUE_SOON,
    schedule_id: str | None = SCHEDULE_ID,
    as_json: bool = JSON,
) -> None:
    """Schedule report (cavra.go-backend-pilot.rollback-drill-schedule.v1)."""
    now = datetime.now(UTC)
    history = _history(rollback_drill_history_path, rollback_drill_max_age_days, now)
    document, problem = _pick_schedule(rollback_drill_schedule_path, schedule_id)
    summary = domain.schedule_summary(
        document, history, problem=problem, due_soon_days=rollback_drill_due_soon_days, now=now
    )
    report = domain.schedule_report(
        mode=mode,
        schedule_path=rollback_drill_schedule_path,
        due_soon_days=rollback_drill_due_soon_days,
        summary=summary,
        history=history,
    )
    _print_report("Go rollback drill schedule", report, as_json)


ROUTING_POLICY = typer.Option(None, "--routing-policy", help="Routing policy file (JSON, or YAML by suffix)")
PROVIDER = typer.Option("all", "--provider", help="all, or a comma list of providers")
FORCE = typer.Option(False, "--force/--no-force", help="Deliver even when the schedule is healthy")


def _routing_policy(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        text = path.read_text()
        loaded = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        err.print(f"[bold red]routing policy unusable[/] {path}: {exc}")
        raise typer.Exit(2) from exc
    if not isinstance(loaded, dict):
        err.print(f"[bold red]routing policy unusable[/] {path}: must be an object")
        raise typer.Exit(2)
    return loaded


@runtime_app.command("go-rollback-drill-notification-plan")
def go_rollback_drill_notification_plan(
    mode: str = MODE,
    rollback_drill_history_path: str = HISTORY_PATH,
    rollback_drill_schedule_path: str = SCHEDULE_PATH,
    routing_policy: Path | None = ROUTING_POLICY,
    provider: str = PROVIDER,
    force: bool = FORCE,
    schedule_id: str | None = SCHEDULE_ID,
    as_json: bool = JSON,
) -> None:
    """Notification plan (cavra.go-backend-pilot.rollback-drill-notification-plan.v1), sending nothing."""
    now = datetime.now(UTC)
    history = _history(rollback_drill_history_path, 90.0, now)
    document, problem = _pick_schedule(rollback_drill_schedule_path, schedule_id)
    summary = domain.schedule_summary(document, history, problem=problem, due_soon_days=14.0, now=now)
    report = domain.schedule_report(
        mode=mode,
        schedule_path=rollback_drill_schedule_path,
        due_soon_days=14.0,
        summary=summary,
        history=history,
    )
    plan = routing.build_notification_plan(
        report,
        plan_id=f"gordn-{secrets.token_hex(8)}",
        requested_provider=provider,
        generated_by="cli",
        force=force,
        routing_policy=_routing_policy(routing_policy),
        now=now,
    )
    event = routing.build_notification_event(report, plan=plan, generated_by="cli", now=now)
    if as_json:
        out.print_json(json.dumps({"schedule": report, "plan": plan, "event": event}))
        return
    out.print(f"Go rollback drill notification plan: {plan['alert_level']} ({plan['reason']})")
    out.print(f"  selected providers: {', '.join(plan['selected_providers']) or 'none'}")
    for decision in plan["route_decisions"]:
        out.print(
            f"  {decision['action']} {decision['owner']} -> {decision['provider']}: {decision['reason']}"
        )
