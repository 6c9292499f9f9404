"""What the gateway refuses at its edge, before anything is published: bodies past the size or
nesting limit, commands the bus could not carry, and ids that would become a header or subject."""

from __future__ import annotations

import nats
import pytest

from cavra_contracts.scheduler import UpsertScheduleV1
from cavra_contracts.schedules import RollbackDrillScheduleV1
from cavra_contracts.subjects import COMMAND_STREAM
from cavra_gateway.deps import GatewayState
from cavra_gateway.messaging import ENVELOPE_HEADROOM, Command, CommandTooLarge, send
from cavra_gateway.outcomes import OutcomeWaiter
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.testing import InMemoryBus
from tests.integration.test_scheduler_api import BASE, schedule
from tests.support.harness import gateway_client

MIB = 1_048_576


async def stored_commands(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(COMMAND_STREAM)).state.messages)
    finally:
        await nc.close()


async def test_a_12_mb_body_is_413_naming_the_limit_and_nothing_is_published(
    nats_url: str, database_url: str
) -> None:
    huge = schedule(owners=[f"owner-{i:07d}" for i in range(800_000)])
    async with gateway_client(nats_url, database_url) as api:
        response = await api.put(f"{BASE}/rollback-drill-schedules/huge", json=huge)
        assert response.status_code == 413, response.text[:300]
        assert "1048576 bytes (1 MiB)" in response.json()["detail"]
        deep = {"routing_policy": {"owner_routes": {}}}
        inner = deep["routing_policy"]["owner_routes"]
        for _ in range(40):
            inner["x"] = {}
            inner = inner["x"]
        nested = await api.post(f"{BASE}/rollback-drill-notifications/deliver", json=deep)
        assert nested.status_code == 422
        assert nested.json()["errors"] == [{"field": "body", "message": "JSON nested deeper than 32 levels"}]
    assert await stored_commands(nats_url) == 0


async def test_a_command_past_the_buss_max_payload_is_413_and_not_published() -> None:
    # A valid command fits a stock 1 MiB server (the body and route limits see to it); a bus with a
    # smaller max_payload shows the last guard: refused before publishing, never a 503.
    bus = InMemoryBus("gateway", max_payload=ENVELOPE_HEADROOM + 4096)
    state = GatewayState(GatewaySettings(), bus, OutcomeWaiter(), idempotency=None)  # type: ignore[arg-type]
    owners = [f"owner-{i:04d}-{'x' * 40}" for i in range(250)]
    big = RollbackDrillScheduleV1.model_validate(schedule(schedule_id="big", owners=owners))
    command = Command(UpsertScheduleV1(schedule=big), outcomes=(), subject="schedule/big")
    with pytest.raises(CommandTooLarge) as refused:
        await send(state, command)
    assert refused.value.response.status_code == 413
    assert b"the message bus takes 4096" in bytes(refused.value.response.body)
    assert bus.messages(COMMAND_STREAM) == []


async def test_ids_and_keys_that_would_become_headers_are_validated(nats_url: str, database_url: str) -> None:
    async with gateway_client(nats_url, database_url) as api:
        bad_id = await api.post(
            f"{BASE}/rollback-drill-notifications/deliver", json={"schedule_id": "x\r\nce-type: forged"}
        )
        assert bad_id.status_code == 422
        assert [e["field"] for e in bad_id.json()["errors"]] == ["schedule_id"]
        for key in (b"", b"k" * 256, "caf\u00e9".encode(), b"tab\tkey"):
            response = await api.put(
                f"{BASE}/rollback-drill-schedules/monthly",
                json=schedule(),
                headers={"Idempotency-Key": key},
            )
            assert response.status_code == 422, key
            assert [e["field"] for e in response.json()["errors"]] == ["header.idempotency-key"]
        too_long = await api.get(f"{BASE}/rollback-drill-notifications/routes", params={"owner": "o" * 201})
        assert too_long.status_code == 422
    assert await stored_commands(nats_url) == 0
