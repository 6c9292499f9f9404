"""Jobs as they are kept and rebuilt for a retry (pure): a retry re-sends the stored message to the one
provider that failed, under its own job id, with the payload hash of the original."""

from __future__ import annotations

from cavra_contracts.deliveries import MessageDeliveredV1
from cavra_contracts.notifications import NotificationDeliveredV1
from cavra_contracts.retries import sha256_hex
from cavra_delivery import jobs
from tests.integration.test_retry_governed import audit_job
from tests.support.plans import planned

RECORD = {"delivery_success": False, "record_id": "rcd-x-000000000000", "schedule_id": "s-001"}


def test_a_message_job_is_kept_with_the_hash_of_what_it_sends() -> None:
    command = audit_job()
    job = jobs.message_job(command)
    assert job.stored is not None
    assert (job.stored.origin_job_id, job.stored.attempt) == (command.job_id, 0)
    assert job.stored.payload_hash == sha256_hex(command.content.model_dump(mode="json"))
    assert job.stored.message == command.model_dump(mode="json")


def test_a_message_retry_keeps_the_payload_and_only_the_failed_provider() -> None:
    command = audit_job().model_copy(
        update={
            "targets": [
                *audit_job().targets,
                audit_job().targets[0].model_copy(update={"target_key": "s", "provider": "slack"}),
            ]
        }
    )
    original = jobs.message_job(command)
    retry = jobs.message_job(command, retry=("retry-0000000000000001", "slack", command.job_id, 1))
    assert [t.provider for t in original.targets] == ["webhook", "slack"]
    assert [t.provider for t in retry.targets] == ["slack"] and retry.job_id == "retry-0000000000000001"
    assert retry.stored is not None and original.stored is not None
    assert (retry.stored.origin_job_id, retry.stored.attempt) == (command.job_id, 1)
    assert retry.stored.payload_hash == original.stored.payload_hash
    assert retry.ids["job_id"] == "retry-0000000000000001"


def test_a_plan_retry_is_a_job_of_its_own_that_never_speaks_for_the_plan() -> None:
    event = planned(1, providers=("hook_a", "hook_b"))
    plan_id = event.plan.plan_id
    original = jobs.plan_job(event)
    retry = jobs.plan_job(event, retry=("retry-0000000000000002", "hook_b", plan_id, 1))
    assert original.record_plan_id == plan_id and retry.record_plan_id is None
    assert "job_id" not in original.ids and retry.ids["job_id"] == "retry-0000000000000002", (
        "its own record id"
    )
    assert {t.provider for t in original.targets} == {"hook_a", "hook_b"}
    assert {t.provider for t in retry.targets} == {"hook_b"}
    assert retry.stored is not None and original.stored is not None
    assert retry.stored.payload_hash == original.stored.payload_hash
    assert isinstance(original.announce(RECORD, []), NotificationDeliveredV1)
    announced = retry.announce(RECORD, [])
    assert isinstance(announced, MessageDeliveredV1) and announced.job_id == "retry-0000000000000002"
