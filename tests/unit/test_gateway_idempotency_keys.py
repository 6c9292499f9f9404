"""Idempotency-Key rules without servers: parsing, scope, fingerprint, records and verdicts."""

from __future__ import annotations

import json
import random

import pytest

from cavra_gateway.idempotency_keys import Record, Scope, caller_of, fingerprint, message_id_for, parse_key

PUT = ("PUT", "/runtime/go-pilot/rollback-drill-schedules/{schedule_id}")


@pytest.mark.parametrize(
    ("raw", "key"),
    [("abc-1", "abc-1"), ('"abc-1"', "abc-1"), ('"a\\"b"', 'a"b'), (" k ", "k"), ("x" * 255, "x" * 255)],
)
def test_a_key_is_a_bare_token_or_a_structured_field_string(raw: str, key: str) -> None:
    assert parse_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ('""', "empty"),
        ("x" * 256, "at most 255"),
        ("caf\u00e9", "printable ASCII"),
        ("a\tb", "printable"),
    ],
)
def test_a_key_is_1_to_255_printable_ascii_characters(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_key(raw)


def test_a_key_is_scoped_to_method_route_path_parameters_and_caller() -> None:
    anonymous = caller_of(None)
    base = Scope.of(anonymous, *PUT, {"schedule_id": "monthly"}).record_key("k")
    others = {
        Scope.of(anonymous, *PUT, {"schedule_id": "weekly"}).record_key("k"),
        Scope.of(anonymous, "POST", "/runtime/go-pilot/rollback-drill-notifications/deliver", {}).record_key(
            "k"
        ),
        Scope.of(caller_of("Bearer alice"), *PUT, {"schedule_id": "monthly"}).record_key("k"),
        Scope.of(anonymous, *PUT, {"schedule_id": "monthly"}).record_key("k2"),
    }
    assert base not in others and len(others) == 4
    assert base == Scope.of(anonymous, "put", PUT[1], {"schedule_id": "monthly"}).record_key("k")
    assert len(base) == 64 and base.isalnum(), "a valid KV key"
    assert "alice" not in caller_of("Bearer alice"), "credentials are hashed, never kept"


def test_the_fingerprint_ignores_key_order_and_whitespace_but_not_content_or_query() -> None:
    body = {"interval_days": 30, "owners": ["a"]}
    same = fingerprint(json.dumps(body).encode(), [])
    assert same == fingerprint(b'{ "owners": ["a"],\n "interval_days": 30 }', [])
    assert same != fingerprint(json.dumps({**body, "interval_days": 31}).encode(), [])
    assert same != fingerprint(json.dumps(body).encode(), [("requested_by", "bob")])


def test_message_ids_differ_per_record() -> None:
    ids = {message_id_for("k", "f", 1), message_id_for("k", "f", 2), message_id_for("k2", "f", 1)}
    assert len(ids) == 3
    assert message_id_for("k", "f", 1) == message_id_for("k", "f", 1)


def record(**changes: object) -> Record:
    fields: dict[str, object] = {
        "fingerprint": "f",
        "state": "in_progress",
        "message_id": "m",
        "started_at": 100.0,
    }
    return Record.model_validate(fields | changes)


def test_a_record_keeps_the_response_compressed_and_drops_a_body_too_large_to_keep() -> None:
    body = json.dumps({"plan": ["route"] * 50_000}).encode()
    kept = record().answered(200, body, max_bytes=64 * 1024)
    assert kept.state == "done" and kept.status == 200
    assert len(kept.encode()) < len(body) / 10
    assert Record.decode(kept.encode()).response_body() == body
    noise = random.Random(7).randbytes(200_000)  # incompressible
    dropped = record().answered(200, noise, max_bytes=64 * 1024)
    assert dropped.body is None and dropped.body_bytes == len(noise) and dropped.status == 200


@pytest.mark.parametrize(
    ("stored", "fingerprint_", "now", "verdict"),
    [
        (record(state="done", status=201), "f", 10_000.0, "replay"),
        (record(state="done", status=201), "other", 100.0, "mismatch"),
        (record(), "f", 110.0, "busy"),
        (record(), "f", 100.0 + 60, "take_over"),  # the first request was abandoned
        (record(state="failed"), "f", 101.0, "take_over"),
        (record(), "other", 101.0, "mismatch"),
    ],
)
def test_verdicts(stored: Record, fingerprint_: str, now: float, verdict: str) -> None:
    assert stored.verdict(fingerprint_, now=now, lease_seconds=60) == verdict
