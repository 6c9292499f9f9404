"""Poisons planted straight on JetStream (as another producer, or an older gateway, could send them)
never hold up the in-order scheduler stream: each is rejected at once, announced, dead-lettered, and
the next command is applied within seconds."""

from __future__ import annotations

import time

from cavra_contracts.envelope import make_envelope
from cavra_contracts.failures import MessageRejectedV1, rejection_subject
from cavra_contracts.scheduler import UpsertScheduleV1
from cavra_contracts.schedules import RollbackDrillScheduleV1
from cavra_runtime.bus import Bus
from tests.integration.test_scheduler_api import BASE, schedule
from tests.support.harness import FakeClock, eventually, gateway_client, running_service, stored_events

POISONS = {
    "interval_days": {"interval_days": 3_000_000},
    "owner_routes.ops.acknowledgement_minutes": {
        "owner_routes": {"ops": {"acknowledgement_minutes": 99_999_999_999}}
    },
    "owners": {"owners": [f"owner-{n:04d}" for n in range(3000)], "notification_providers": ["a", "b", "c"]},
}


async def test_planted_poisons_are_rejected_at_once_and_the_next_command_applies(
    nats_url: str, database_url: str
) -> None:
    clock = FakeClock()
    bus = await Bus.connect(nats_url, name="poisoner")
    try:
        async with (
            running_service("scheduler", nats_url, database_url, clock=clock),
            gateway_client(nats_url, database_url, services=("scheduler",)) as api,
        ):
            good = UpsertScheduleV1(
                schedule=RollbackDrillScheduleV1.model_validate(schedule(schedule_id="planted"))
            )
            planted: dict[str, str] = {}
            for field, changes in POISONS.items():
                envelope = make_envelope(good, producer="older-gateway", subject="schedule/planted")
                payload = envelope.payload | {"schedule": envelope.payload["schedule"] | changes}
                poisoned = envelope.model_copy(update={"payload": payload})
                await bus.publish(poisoned)
                planted[poisoned.message_id] = field
            started = time.monotonic()
            after = await api.put(f"{BASE}/rollback-drill-schedules/after", json=schedule())
            elapsed = time.monotonic() - started
        assert after.status_code == 201, after.text
        assert elapsed < 5, f"the next command waited {elapsed:.1f}s behind the poisons"

        async def all_rejected() -> bool:
            return len(await stored_events(nats_url, rejection_subject("scheduler"))) == len(POISONS)

        await eventually(all_rejected, what="a rejection event per poison")
        rejections = await stored_events(nats_url, rejection_subject("scheduler"))
        assert sorted(e.causation_id or "" for e in rejections) == sorted(planted)
        for event in rejections:
            rejected = MessageRejectedV1.model_validate(event.payload)
            assert rejected.reason == "undecodable" and rejected.delivery_attempts == 1
        assert {field for field in POISONS} <= {
            part
            for e in rejections
            for part in MessageRejectedV1.model_validate(e.payload).error.split(": ")[-1].split(", ")
        } | set(POISONS), "the rejection names the offending fields"
    finally:
        await bus.close()
