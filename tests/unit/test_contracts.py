"""Contracts: the envelope round-trips as CloudEvents, the registry is consistent, snapshots match."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cavra_cli.contracts_docs import committed_schemas, expected_files
from cavra_contracts import compatibility, registry
from cavra_contracts.envelope import Envelope, make_envelope
from cavra_contracts.scheduler import ScheduleReportQueryV1, UpsertScheduleV1
from cavra_contracts.schedules import RollbackDrillScheduleV1

SCHEDULE = {
    "schema_version": "cavra.go-backend-rollback-drill-schedule.v1",
    "schedule_id": "go_backend_python_fallback_monthly",
    "interval_days": 30,
    "next_due_at": "2026-06-20T15:40:00Z",
    "owners": ["release-governance"],
    "notification_providers": ["slack", "teams"],
    "runbook_ref": "docs/go-backend-rollback-drill-scheduling.md",
}


def test_committed_snapshots_match_the_code() -> None:
    stale = [
        str(path) for path, text in expected_files().items() if not path.exists() or path.read_text() != text
    ]
    assert stale == [], f"run `make contracts` and commit: {stale}"


def test_envelope_is_cloudevents_structured_json_and_round_trips() -> None:
    envelope = make_envelope(
        ScheduleReportQueryV1(schedule_id="monthly"),
        producer="gateway",
        subject="schedule/monthly",
        correlation_id="corr-1",
        occurred_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    )
    wire = json.loads(envelope.to_json())
    assert wire["specversion"] == "1.0"
    assert wire["id"] == envelope.message_id
    assert wire["type"] == "cavra.qry.scheduler.schedule_report.v1"
    assert wire["source"] == "/cavra/gateway"
    assert wire["time"] == "2026-11-23T12:00:00Z"
    assert wire["data"] == {"schedule_id": "monthly"}
    assert wire["correlationid"] == "corr-1"
    assert Envelope.from_json(envelope.to_json()) == envelope
    headers = envelope.nats_headers()
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == envelope.message_id


def test_every_subject_follows_the_grammar_and_is_unique() -> None:
    subjects = [spec.subject for spec in registry.messages() if spec.channel]
    assert len(subjects) == len(set(subjects))
    for subject in subjects:
        parts = subject.split(".")
        assert parts[0] == "cavra" and parts[1] in {"cmd", "evt", "qry"} and parts[-1].startswith("v"), (
            subject
        )
        assert registry.contract_for_subject(subject).MESSAGE.subject == subject


def test_schedule_document_normalises_aliases_and_rejects_bad_fields() -> None:
    schedule = RollbackDrillScheduleV1.model_validate(
        SCHEDULE
        | {
            "routing_rules": [{"owners": ["release-governance"], "providers": ["slack"]}],
            "suppression_windows": [
                {"id": "freeze", "starts_at": "2026-05-21T18:00:00Z", "ends_at": "2026-05-21T20:00:00"}
            ],
            "calendars": {
                "release-governance": {
                    "blackout_windows": [
                        {"start_at": "2026-05-22T00:00:00Z", "end_at": "2026-05-22T08:00:00Z"}
                    ]
                }
            },
        }
    )
    document = schedule.as_json_dict()
    assert document["owner_routes"] == [{"owners": ["release-governance"], "providers": ["slack"]}]
    assert document["maintenance_windows"][0]["window_id"] == "freeze"
    assert document["maintenance_windows"][0]["end_at"] == "2026-05-21T20:00:00Z", "naive timestamps are UTC"
    assert document["owner_calendars"]["release-governance"]["unavailable_windows"][0]["reason"] is None
    with pytest.raises(ValidationError) as caught:
        RollbackDrillScheduleV1.model_validate(SCHEDULE | {"interval_days": True, "owners": ["", "x"]})
    assert {e["loc"] for e in caught.value.errors()} == {("interval_days",), ("owners", 0)}


def test_commands_are_frozen_and_consumers_ignore_fields_they_do_not_know() -> None:
    command = UpsertScheduleV1(schedule=RollbackDrillScheduleV1.model_validate(SCHEDULE))
    with pytest.raises(ValidationError):
        command.requested_by = "someone"  # type: ignore[misc]
    newer = UpsertScheduleV1.model_validate({"schedule": SCHEDULE, "added_by_a_newer_producer": 1})
    assert newer.schedule.schedule_id == SCHEDULE["schedule_id"]


def test_every_contract_is_compatible_with_its_committed_snapshot() -> None:
    problems = compatibility.compare_all(committed_schemas(), registry.json_schemas())
    assert problems == [], "a contract may only gain optional fields; add a V2 contract instead"


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


TEXT = {"type": "string"}
NUMBER = {"type": "integer"}


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        (_schema({"b": TEXT}, ["b"]), "v1.a: removed or renamed"),
        (_schema({"a": NUMBER, "b": TEXT}, ["b"]), "v1.a: type changed"),
        (_schema({"a": TEXT, "b": TEXT}, ["a", "b"]), "v1.a: became required"),
        (_schema({"a": TEXT, "b": TEXT, "c": TEXT}, ["b", "c"]), "v1.c: became required"),
    ],
)
def test_the_compatibility_check_names_each_breaking_change(new: dict[str, Any], problem: str) -> None:
    old = _schema({"a": TEXT, "b": TEXT}, ["b"])
    assert problem in compatibility.incompatibilities(old, new, name="v1")


def test_adding_an_optional_field_or_a_description_is_compatible() -> None:
    old = _schema({"a": TEXT}, [])
    new = _schema({"a": TEXT | {"description": "now documented"}, "b": TEXT}, [])
    assert compatibility.incompatibilities(old, new, name="v1") == []
    assert compatibility.compare_all({"v1": old}, {}) == ["v1: contract removed"]
