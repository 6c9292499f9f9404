"""The reporting service's executive cadence on the in-memory bus (real PostgreSQL, no NATS): the due run
becomes one ``DeliverMessageV1`` job and one delivery-requested event; a provider no connector serves
stores the run, records why, delivers nothing and waits for the next window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cavra_contracts.actors import ActorV1
from cavra_contracts.deliveries import DeliverMessageV1
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.executive import (
    ExecutiveReportDeliveryRequestedV1,
    ExecutiveReportRunRecordedV1,
    ExecutiveScheduleV1,
    RunExecutiveReportV1,
)
from cavra_contracts.families import EXECUTIVE_REPORT_SOURCE
from cavra_contracts.notifications import ConnectorsQueryV1
from cavra_contracts.queries import QueryReplyV1
from cavra_contracts.recovery import RecoveryReportQueryV1
from cavra_contracts.subjects import COMMAND_STREAM, EVENT_STREAM
from cavra_runtime.testing import FakeClock, InMemoryBus
from tests.integration.test_executive_api import scalar
from tests.support.harness import eventually, running_service
from tests.unit.test_executive_report import recovery_answer

OPERATOR = ActorV1(actor="ops@example.test", role="operator", method="api_token", subject="token:ops")


def payloads(bus: InMemoryBus, stream: str, subject: str) -> list[dict[str, Any]]:
    return [message.envelope().payload for message in bus.messages(stream, subject)]


async def test_a_due_run_is_one_job_and_an_unserved_provider_waits_for_the_next_window(
    database_url: str,
) -> None:
    bus = InMemoryBus("reporting")
    routable = ["webhook"]

    async def recovery(envelope: Envelope) -> QueryReplyV1:
        return QueryReplyV1(ok=True, result=recovery_answer(breached=1))

    async def connectors(envelope: Envelope) -> QueryReplyV1:
        return QueryReplyV1(ok=True, result={"configured": True, "routable_providers": list(routable)})

    await bus.serve(RecoveryReportQueryV1.MESSAGE.subject, recovery, queue="delivery")
    await bus.serve(ConnectorsQueryV1.MESSAGE.subject, connectors, queue="delivery")
    clock = FakeClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    async with running_service(
        "reporting", "nats://unused", database_url, bus=bus, clock=clock, executive_report_tick_seconds=0.05
    ):
        command = RunExecutiveReportV1(
            schedule=ExecutiveScheduleV1(interval_minutes=60, time_zone="UTC"),
            providers=["webhook"],
            actor=OPERATOR,
        )
        await bus.publish(make_envelope(command, producer="gateway"))
        recorded = ExecutiveReportRunRecordedV1.MESSAGE.subject

        async def runs(count: int) -> bool:
            return len(payloads(bus, EVENT_STREAM, recorded)) == count

        await eventually(lambda: runs(1), what="the defining run")
        assert payloads(bus, EVENT_STREAM, recorded)[0]["next_run_at"] == "2026-06-01T13:00:00+00:00"

        clock.now = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
        await eventually(lambda: runs(2), what="the 13:00 run")
        jobs = payloads(bus, COMMAND_STREAM, DeliverMessageV1.MESSAGE.subject)
        assert len(jobs) == 1
        job = DeliverMessageV1.model_validate(jobs[0])
        assert job.source == EXECUTIVE_REPORT_SOURCE and [t.provider for t in job.targets] == ["webhook"]
        requested = payloads(bus, EVENT_STREAM, ExecutiveReportDeliveryRequestedV1.MESSAGE.subject)
        assert [r["job_id"] for r in requested] == [job.job_id]
        scheduled = payloads(bus, EVENT_STREAM, recorded)[1]
        assert (scheduled["window_start"], scheduled["window_end"]) == (
            "2026-06-01T12:00:00+00:00",
            "2026-06-01T13:00:00+00:00",
        )
        assert job.content.data["run_id"] == scheduled["run_id"]

        routable.clear()  # the webhook connector went away
        clock.now = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)
        await eventually(lambda: runs(3), what="the 14:00 run")

        async def problem_recorded() -> bool:
            problem = await scalar(database_url, "SELECT last_problem FROM executive_schedule")
            return bool(problem) and "webhook" in str(problem)

        await eventually(problem_recorded, what="the undelivered run's problem")
        assert len(payloads(bus, COMMAND_STREAM, DeliverMessageV1.MESSAGE.subject)) == 1
        due = await scalar(database_url, "SELECT due_at FROM executive_schedule")
        assert due == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)
