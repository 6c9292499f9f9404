"""Two acknowledgement replicas on real NATS and PostgreSQL: one unbroken chain, each scheduled
delivery made once.

Appends serialise on the chain's head row, and due audit schedules are claimed with SKIP LOCKED,
so the replicas cooperate without a leader (the style's multi-replica equivalence).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cavra_acknowledgement.audit import chain, dsse, keys
from cavra_contracts.audit import (
    AuditChainQueryV1,
    AuditDeliveryPlannedV1,
    AuditPackageGeneratedV1,
    DeliverAuditPackageV1,
    GenerateAuditPackageV1,
)
from cavra_contracts.envelope import make_envelope
from cavra_runtime.bus import Bus
from tests.support.acks import OPERATOR, plan_event
from tests.support.harness import FakeClock, eventually, running_service, stored_events

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


async def events(nats_url: str, contract: type[Any]) -> list[dict[str, Any]]:
    return [e.payload for e in await stored_events(nats_url, contract.MESSAGE.subject)]


async def tracked(database_url: str) -> bool:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "acknowledgement"})
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM latest_plans"))
    finally:
        await conn.close()


async def test_two_replicas_append_one_chain_and_deliver_each_due_schedule_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    clock = FakeClock(NOW)
    config = tmp_path / "connectors.json"
    config.write_text(json.dumps({"connectors": {"webhook": {"url": "http://127.0.0.1:9/audit"}}}))
    replica = {"audit_signing_key": keys.private_pem(KEY).decode(), "audit_tick_seconds": 0.05}
    bus = await Bus.connect(nats_url, name="test-gateway")
    try:
        async with (
            running_service(
                "delivery", nats_url, database_url, connector_config=str(config), delivery_retries=0
            ),
            running_service(
                "acknowledgement", nats_url, database_url, clock=clock, instance_id="a-1", **replica
            ),
            running_service(
                "acknowledgement", nats_url, database_url, clock=clock, instance_id="a-2", **replica
            ),
        ):
            await bus.publish(
                make_envelope(plan_event("s1", "gordn-0000000000000f01", NOW), producer="router")
            )
            await eventually(lambda: tracked(database_url), what="the plan tracked")
            commands = [GenerateAuditPackageV1(actor=OPERATOR) for _ in range(12)]
            commands += [
                DeliverAuditPackageV1(delivery_provider="webhook", cadence="every_10_minutes", actor=OPERATOR)
                for _ in range(4)
            ]
            await asyncio.gather(*(bus.publish(make_envelope(c, producer="gateway")) for c in commands))

            async def all_answered() -> bool:
                return len(await events(nats_url, AuditPackageGeneratedV1)) == 16

            await eventually(all_answered, timeout=30, what="16 packages")
            clock.advance(minutes=10)

            async def scheduled_once() -> bool:
                planned = await events(nats_url, AuditDeliveryPlannedV1)
                return len(planned) == 8

            await eventually(scheduled_once, timeout=30, what="each schedule delivered at its due time")
            await asyncio.sleep(0.5)  # both timers keep ticking: nothing more is due
            reply = await bus.request(make_envelope(AuditChainQueryV1(), producer="test"), timeout=5)
    finally:
        await bus.close()
    planned = await events(nats_url, AuditDeliveryPlannedV1)
    assert len(planned) == 8, "4 on demand + each of the 4 schedules once"
    scheduled = [p for p in planned if p["actor"]["method"] == "system"]
    assert sorted(p["schedule_ref_id"] for p in scheduled) == sorted({p["schedule_ref_id"] for p in planned})
    generated = await events(nats_url, AuditPackageGeneratedV1)
    assert sorted(g["sequence"] for g in generated) == list(range(1, 21))
    assert reply.ok and reply.result is not None and reply.result["complete"]
    trusted = {dsse.key_id(KEY.public_key()): chain.TrustedKey(KEY.public_key())}
    envelopes = [item["envelope"] for item in reply.result["packages"]]
    report = chain.verify_chain(envelopes, trusted, reply.result["statement"])
    assert report.ok, report.problems
    assert len(report.verified) == 20
