"""``cavra runtime go-rollback-drill-escalation-plan``: the escalation plan template, computed locally.

Like the original CLI it reads no history and no server: the plan is built over an empty history
(alert ``healthy``, no routes) from the flags and the routing policy file, with the same pure code
as the escalation service, and nothing is stored. Bad input exits 2 with the message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from cavra_contracts.limits import MAX_ACKNOWLEDGEMENT_MINUTES
from cavra_contracts.schedules import RoutingPolicy
from cavra_escalation import domain

escalation_app = typer.Typer()
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

_POLICY: TypeAdapter[dict[str, Any]] = TypeAdapter(RoutingPolicy)


def _fail(title: str, problems: list[str]) -> None:
    err.print(f"[bold red]{title}[/]")
    for problem in problems:
        err.print(f"  {problem}")
    raise typer.Exit(2)


def load_policy(path: Path | None, acknowledgement_minutes: int) -> dict[str, Any]:
    """The routing policy file (JSON, or YAML by suffix), its ``acknowledgement_minutes`` defaulting
    to the flag's; every value bounded as the API bounds it."""
    loaded: Any = {}
    if path is not None:
        try:
            text = path.read_text()
            loaded = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            _fail(f"routing policy unusable: {path}", [str(exc)])
        if not isinstance(loaded, dict):
            _fail(f"routing policy unusable: {path}", ["must be an object"])
    policy = {"acknowledgement_minutes": acknowledgement_minutes, **loaded}
    try:
        return _POLICY.validate_python(policy)
    except ValidationError as exc:
        where = f" {path}" if path else ""
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()]
        _fail(f"invalid routing policy{where}:", problems)
        raise AssertionError("unreachable") from exc


@escalation_app.command("go-rollback-drill-escalation-plan")
def go_rollback_drill_escalation_plan(
    acknowledgement_minutes: int = typer.Option(
        60,
        "--acknowledgement-minutes",
        min=1,
        max=MAX_ACKNOWLEDGEMENT_MINUTES,
        help="Default SLO when the policy names none",
    ),
    routing_policy: Path | None = typer.Option(
        None, "--routing-policy", help="Routing policy file (JSON, or YAML by suffix)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the full plan as JSON"),
) -> None:
    """Escalation plan template (cavra.go-backend-pilot.rollback-drill-notification-escalation-plan.v1)."""
    policy = load_policy(routing_policy, acknowledgement_minutes)
    plan = domain.build_escalation_plan([], policy, generated_by="cli", now=datetime.now(UTC)).document()
    if as_json:
        out.print_json(json.dumps(plan))
        return
    out.print(f"Go rollback drill escalation plan: {plan['alert_level']} ({plan['route_count']} routes)")
