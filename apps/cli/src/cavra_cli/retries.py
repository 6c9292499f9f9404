"""``cavra retries``: the retry rules computed locally, with the same code as the delivery service.

* ``digest`` — the digest an approval is bound to (family, failed delivery, provider, payload hash,
  attempt), to check an approval or an execution record offline;
* ``backoff`` — a policy's decision per failure count (retry / wait / suppress and the delay).

Nothing is read from a server and nothing is stored. Bad input exits 2 with the message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import typer
from pydantic import ValidationError
from rich.console import Console

from cavra_contracts.families import FAMILIES, family_spec
from cavra_contracts.retries import (
    MAX_BACKOFF_MINUTES,
    MAX_RETRY_ATTEMPTS,
    RetryPolicyV1,
    decide,
    retry_digest,
)

retries_app = typer.Typer(
    help="Retry rules: approval digests and backoff, computed locally.", no_args_is_help=True
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def _family(name: str) -> str:
    try:
        return family_spec(name).name
    except KeyError:
        err.print(f"[bold red]family must be one of {', '.join(FAMILIES)}[/]")
        raise typer.Exit(2) from None


@retries_app.command("digest")
def digest(
    family: str = typer.Option(..., "--family", help=f"One of {', '.join(FAMILIES)}"),
    delivery_id: str = typer.Option(
        ..., "--delivery-id", help="The failed delivery (first job of its chain)"
    ),
    provider: str = typer.Option(..., "--provider"),
    payload_hash: str = typer.Option(..., "--payload-hash", help="SHA-256 hex of what the job sends"),
    attempt: int = typer.Option(..., "--attempt", min=1, max=MAX_RETRY_ATTEMPTS),
) -> None:
    """The digest of one retry (the one an approval is bound to)."""
    out.print(retry_digest(_family(family), delivery_id, provider, payload_hash, attempt))


@retries_app.command("backoff")
def backoff(
    family: str = typer.Option("audit", "--family", help=f"One of {', '.join(FAMILIES)}"),
    policy: str = typer.Option("{}", "--policy", help="Retry policy as JSON (aliases accepted)"),
    as_json: bool = typer.Option(False, "--json", help="Print the decisions as JSON"),
) -> None:
    """Per failure count of a chain: the action and delay a retry plan decides once the delay elapsed."""
    spec = family_spec(_family(family))
    try:
        parsed = RetryPolicyV1.model_validate(json.loads(policy))
    except (ValueError, ValidationError) as exc:
        err.print(f"[bold red]invalid retry policy:[/] {exc}")
        raise typer.Exit(2) from None
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for failures in range(1, parsed.max_retry_attempts + 1):
        action, reason, delay, _ = decide(
            retry_count=failures,
            latest_failure_at=now - timedelta(minutes=MAX_BACKOFF_MINUTES),  # the delay has elapsed
            now=now,
            max_retry_attempts=parsed.max_retry_attempts,
            base_delay=parsed.base_delay(spec),
            multiplier=parsed.backoff_multiplier,
            spec=spec,
        )
        rows.append(
            {"retry_count": failures, "delay_minutes": delay, "action_once_elapsed": action, "reason": reason}
        )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for row in rows:
        wait, then = row["delay_minutes"], row["action_once_elapsed"]
        out.print(f"{row['retry_count']} failure(s): wait {wait:g} min, then {then}")
