"""``cavra tokens create | list | revoke``: API tokens in the ``CAVRA_API_TOKENS`` bucket, over NATS
(``CAVRA_NATS_URL``) like ``cavra migrate``; and the local admin token ``cavra up`` keeps under
``$CAVRA_HOME``. A token is printed once, when it is created; ``list`` never shows one.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from cavra_contracts.actors import ROLES, Role
from cavra_contracts.envelope import utc_now
from cavra_gateway.auth.tokens import MAX_EXPIRES_IN_DAYS, TokenRecord, TokenStore, UnknownToken
from cavra_runtime.bus import Bus
from cavra_runtime.settings import RuntimeSettings

tokens_app = typer.Typer(
    help="API tokens: create, list, revoke (talks to NATS directly).", no_args_is_help=True
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

ADMIN_TOKEN_FILE = "admin-token"
LOCAL_ADMIN_NAME = "local-admin"
CONNECT_SECONDS = 10.0
T = TypeVar("T")


def _creator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"[:200]


def _with_store(nats_url: str, work: Callable[[TokenStore], Awaitable[T]]) -> T:
    async def run() -> T:
        bus = await asyncio.wait_for(Bus.connect(nats_url, name="cavra-tokens"), CONNECT_SECONDS)
        try:
            return await work(await TokenStore.open(bus))
        finally:
            await bus.close()

    try:
        return asyncio.run(run())
    except UnknownToken:
        raise
    except Exception as exc:  # no traceback for an unreachable or refusing server
        err.print(f"[red]NATS at {nats_url} failed: {type(exc).__name__}: {exc}[/]")
        raise typer.Exit(1) from exc


def _nats_url() -> str:
    return RuntimeSettings.from_env().nats_url


def _public(record: TokenRecord) -> dict[str, Any]:
    return {**record.model_dump(mode="json"), "state": record.state(utc_now())}


@tokens_app.command("create")
def create(
    role: str = typer.Option(..., "--role", help=" | ".join(ROLES)),
    name: str = typer.Option(..., "--name", help="Who or what uses it; recorded as the actor"),
    expires_in_days: float | None = typer.Option(
        None, "--expires-in-days", help=f"Expire after this many days (at most {MAX_EXPIRES_IN_DAYS})"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the token and its record as JSON"),
) -> None:
    """Create a token and print it once (it is stored only as its SHA-256)."""
    if role not in ROLES:
        err.print(f"[red]unknown role {role!r}: one of {', '.join(ROLES)}[/]")
        raise typer.Exit(2)
    checked = cast(Role, role)
    try:
        TokenRecord(token_id="tok_check", name=name, role=checked, created_at=utc_now(), created_by="")
    except ValidationError as exc:
        err.print(f"[red]invalid name: {exc.errors()[0]['msg']}[/]")
        raise typer.Exit(2) from exc
    if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRES_IN_DAYS:
        err.print(f"[red]--expires-in-days must be more than 0 and at most {MAX_EXPIRES_IN_DAYS}[/]")
        raise typer.Exit(2)

    async def work(store: TokenStore) -> tuple[str, TokenRecord]:
        return await store.create(
            name=name, role=checked, created_by=_creator(), expires_in_days=expires_in_days
        )

    token, record = _with_store(_nats_url(), work)
    if as_json:
        out.print_json(json.dumps({"token": token, **_public(record)}))
        return
    out.print(f"created {record.token_id} ({record.role}) for {record.name}")
    expiry = record.expires_at.isoformat() if record.expires_at else "never"
    out.print(f"  expires: {expiry}")
    out.print("  token (shown once, keep it secret):")
    out.print(token)


@tokens_app.command("list")
def list_tokens(as_json: bool = typer.Option(False, "--json", help="Print the records as JSON")) -> None:
    """Every token's record and state (active, expired, revoked); never a token."""

    async def work(store: TokenStore) -> list[TokenRecord]:
        return [record for _, record in await store.records()]

    records = _with_store(_nats_url(), work)
    if as_json:
        out.print_json(json.dumps([_public(record) for record in records]))
        return
    table = Table("token id", "name", "role", "state", "created", "expires")
    for record in records:
        table.add_row(
            record.token_id,
            record.name,
            record.role,
            record.state(utc_now()),
            record.created_at.isoformat(timespec="seconds"),
            record.expires_at.isoformat(timespec="seconds") if record.expires_at else "never",
        )
    out.print(table)


@tokens_app.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="The token's id (see `cavra tokens list`)")) -> None:
    """Revoke a token: every gateway refuses it within about a second."""

    async def work(store: TokenStore) -> TokenRecord:
        return await store.revoke(token_id, revoked_by=_creator())

    try:
        record = _with_store(_nats_url(), work)
    except UnknownToken as exc:
        err.print(f"[red]no token has the id {token_id!r}[/]")
        raise typer.Exit(1) from exc
    out.print(f"revoked {record.token_id} ({record.role}) of {record.name}")


async def local_admin_token(home: Path, bus: Bus) -> tuple[Path, bool]:
    """``$CAVRA_HOME/admin-token`` holding a valid admin token: the one there when it is still
    active, else a new one (mode 0600). Returns the path and whether the token is new."""
    path = home / ADMIN_TOKEN_FILE
    store = await TokenStore.open(bus)
    if path.exists():
        token = path.read_text().strip()
        record = await store.find(token) if token else None
        if record is not None and record.role == "admin" and record.state(utc_now()) == "active":
            os.chmod(path, 0o600)
            return path, False
    token, _ = await store.create(name=LOCAL_ADMIN_NAME, role="admin", created_by="cavra up")
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    os.replace(path.with_suffix(".tmp"), path)
    os.chmod(path, 0o600)
    return path, True
