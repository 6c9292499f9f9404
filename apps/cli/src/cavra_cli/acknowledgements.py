"""``cavra runtime go-rollback-drill-notification-ack``: an acknowledgement record built locally.

Like the original CLI it talks to no server and stores nothing: it prints the record
(``cavra.go-backend-pilot.rollback-drill-notification-ack.v1``) and its evidence metadata as the API
would store them. The name given with ``--acknowledged-by`` is not verified, so the record says so
(actor method ``system``, subject ``cli:unverified``); only the API records verified actors.
A missing provider or acknowledged-by, or an unknown state, exits 2 with the message.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import typer
from pydantic import ValidationError
from rich.console import Console

from cavra_contracts.acknowledgements import (
    ACKNOWLEDGEMENT_STATES,
    OUTSTANDING,
    STATE_PROBLEM,
    AcknowledgementV1,
    ack_metadata,
    acknowledgement_id,
    normalize_state,
)
from cavra_contracts.actors import ActorV1
from cavra_contracts.timestamps import iso
from cavra_contracts.vocabulary import normalize_provider

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(2)


def go_rollback_drill_notification_ack(
    schedule_id: str = typer.Argument(..., help="The schedule the notification was about"),
    provider: str = typer.Option("", "--provider", help="Provider the notification went to (required)"),
    acknowledged_by: str = typer.Option("", "--acknowledged-by", help="Who acknowledges (required)"),
    acknowledgement_state: str = typer.Option(
        "acknowledged", "--acknowledgement-state", help="acknowledged | dismissed | escalated | resolved"
    ),
    plan_id: str = typer.Option("", "--plan-id", help="The plan acknowledged"),
    external_ref: str = typer.Option("", "--external-ref", help="Change or incident reference"),
    notes: str = typer.Option("", "--notes"),
    as_json: bool = typer.Option(False, "--json", help="Print {acknowledgement, metadata} as JSON"),
) -> None:
    """Build a notification acknowledgement record (nothing is sent or stored)."""
    for name, value in (
        ("schedule_id", schedule_id),
        ("provider", provider),
        ("acknowledged_by", acknowledged_by),
    ):
        if not value.strip():
            _fail(f"{name} is required")
    state = normalize_state(acknowledgement_state)
    if state not in ACKNOWLEDGEMENT_STATES:
        _fail(STATE_PROBLEM)
    now = datetime.now(UTC)
    try:
        actor = ActorV1(
            actor=acknowledged_by.strip(), role="operator", method="system", subject="cli:unverified"
        )
        ack = AcknowledgementV1.model_validate(
            {
                "acknowledgement_id": acknowledgement_id(f"cli-{uuid.uuid4()}", schedule_id),
                "route_id": "",
                "schedule_id": schedule_id.strip(),
                "plan_id": plan_id.strip(),
                "provider": normalize_provider(provider),
                "owner": "",
                "acknowledged_by": actor.actor,
                "acknowledgement_state": state,
                "previous_state": OUTSTANDING,
                "acknowledged_at": iso(now),
                "external_ref": external_ref,
                "notes": notes,
                "actor": actor,
            }
        )
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        raise AssertionError("unreachable") from exc
    if as_json:
        out.print_json(
            json.dumps({"acknowledgement": ack.model_dump(mode="json"), "metadata": ack_metadata(ack)})
        )
        return
    out.print(f"Go rollback drill notification acknowledgement: {state} ({ack.schedule_id} / {ack.provider})")


def register(app: typer.Typer) -> None:
    """Add the command to ``cavra runtime``."""
    app.command("go-rollback-drill-notification-ack")(go_rollback_drill_notification_ack)
