"""API tokens on the test NATS server: the watched index, ``cavra tokens`` and the local admin token
of ``cavra up``."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cavra_cli.main import app
from cavra_cli.tokens import local_admin_token
from cavra_contracts.identity import ApiTokenCreatedV1, ApiTokenRevokedV1
from cavra_gateway.auth.tokens import SPEC, TokenIndex, TokenStore, token_hash
from cavra_runtime.bus import Bus, ensure_bucket
from tests.support.auth import create_token
from tests.support.harness import eventually, stored_events

runner = CliRunner()


async def test_the_index_loads_what_is_stored_and_sees_new_revoked_and_deleted_tokens(nats_url: str) -> None:
    first, first_record = await create_token(nats_url, "operator", "first")
    bus = await Bus.connect(nats_url, name="test")
    index = TokenIndex(await ensure_bucket(bus, SPEC))
    try:
        await index.start()
        found = index.lookup(first)
        assert found is not None and found.record == first_record and found.actor.role == "operator"
        assert index.lookup("cavra_unknown") is None

        store = await TokenStore.open(bus)
        second, _ = await store.create(name="second", role="viewer", created_by="tests")

        async def second_visible() -> bool:
            return index.lookup(second) is not None

        await eventually(second_visible, timeout=5, what="a new token in the index")
        await store.revoke(first_record.token_id, revoked_by="tests")

        async def first_revoked() -> bool:
            entry = index.lookup(first)
            return entry is not None and entry.record.revoked_at is not None

        await eventually(first_revoked, timeout=5, what="a revocation in the index")
        await (await ensure_bucket(bus, SPEC)).delete(token_hash(second))

        async def second_gone() -> bool:
            return index.lookup(second) is None

        await eventually(second_gone, timeout=5, what="a deleted token to leave the index")
        assert len(index) == 1
    finally:
        await index.close()
        await bus.close()


async def test_revoking_is_idempotent_and_an_unknown_id_is_refused(nats_url: str) -> None:
    _, record = await create_token(nats_url, "admin", "ops")
    bus = await Bus.connect(nats_url, name="test")
    try:
        store = await TokenStore.open(bus)
        once = await store.revoke(record.token_id, revoked_by="a")
        twice = await store.revoke(record.token_id, revoked_by="b")
        assert once.revoked_at == twice.revoked_at and twice.revoked_by == "a"
        with pytest.raises(LookupError):
            await store.revoke("tok_nope", revoked_by="a")
    finally:
        await bus.close()
    events = await stored_events(nats_url)
    created = [e for e in events if e.type == ApiTokenCreatedV1.MESSAGE.subject]
    revoked = [e for e in events if e.type == ApiTokenRevokedV1.MESSAGE.subject]
    assert [e.payload["token_id"] for e in created] == [record.token_id]
    assert [e.payload["token_id"] for e in revoked] == [record.token_id], "one event, however often"
    assert "cavra_" not in json.dumps([e.payload for e in events])


def cli(nats_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["tokens", *args], env={"CAVRA_NATS_URL": nats_url})
    return result.exit_code, result.stdout, result.stderr


async def test_cavra_tokens_create_list_and_revoke(nats_url: str) -> None:
    code, out, _ = await asyncio.to_thread(
        cli, nats_url, "create", "--role", "operator", "--name", "ci-bot", "--expires-in-days", "7", "--json"
    )
    assert code == 0, out
    created = json.loads(out)
    assert created["token"].startswith("cavra_") and created["role"] == "operator"
    assert created["state"] == "active" and created["expires_at"]

    code, out, _ = await asyncio.to_thread(cli, nats_url, "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [(t["token_id"], t["name"], t["state"]) for t in listed] == [
        (created["token_id"], "ci-bot", "active")
    ]
    assert created["token"] not in out and "token" not in listed[0]

    code, out, _ = await asyncio.to_thread(cli, nats_url, "revoke", created["token_id"])
    assert code == 0 and created["token_id"] in out
    code, out, _ = await asyncio.to_thread(cli, nats_url, "list")
    assert code == 0 and "revoked" in out and created["token"] not in out

    code, out, _ = await asyncio.to_thread(cli, nats_url, "create", "--role", "operator", "--name", "human")
    assert code == 0 and "shown once" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--role", "root", "--name", "x"), "unknown role 'root'"),
        (("create", "--role", "viewer", "--name", ""), "invalid name"),
        (("create", "--role", "viewer", "--name", "x", "--expires-in-days", "0"), "--expires-in-days"),
        (("revoke", "tok_missing"), "no token has the id 'tok_missing'"),
    ],
)
async def test_bad_cli_input_exits_non_zero_with_the_message(
    nats_url: str, args: tuple[str, ...], message: str
) -> None:
    code, out, err = await asyncio.to_thread(cli, nats_url, *args)
    assert code != 0
    assert message in err
    assert "Traceback" not in out + err


async def test_an_unreachable_nats_is_a_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cavra_cli.tokens.CONNECT_SECONDS", 0.5)
    code, out, err = await asyncio.to_thread(cli, "nats://127.0.0.1:1", "list")
    assert code == 1 and "NATS at nats://127.0.0.1:1" in err and "Traceback" not in out + err


async def test_cavra_up_keeps_one_local_admin_token_in_a_0600_file(nats_url: str, tmp_path: Path) -> None:
    bus = await Bus.connect(nats_url, name="test")
    try:
        path, created = await local_admin_token(tmp_path, bus)
        assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
        token = path.read_text().strip()
        store = await TokenStore.open(bus)
        record = await store.find(token)
        assert record is not None and (record.role, record.name) == ("admin", "local-admin")

        again, created_again = await local_admin_token(tmp_path, bus)
        assert (again, created_again) == (path, False) and again.read_text().strip() == token

        await store.revoke(record.token_id, revoked_by="tests")
        _, replaced = await local_admin_token(tmp_path, bus)
        assert replaced and path.read_text().strip() != token
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not (tmp_path / "admin-token.tmp").exists()
    finally:
        await bus.close()
