"""``Wiring.merged``: a service's packages (delivery's health, recovery, retries) wired as one."""

from __future__ import annotations

import asyncio

import pytest

from cavra_contracts.queries import QueryReplyV1
from cavra_runtime.service import Wiring


async def _answer(_envelope: object) -> QueryReplyV1:
    return QueryReplyV1(ok=True)


async def _worker(_stop: asyncio.Event) -> None:
    return None


def test_every_consumer_query_and_worker_of_every_part_is_kept() -> None:
    spec: object = object()
    merged = Wiring(consumers=[(spec, {})], queries={"a": _answer}).merged(  # type: ignore[list-item]
        Wiring(queries={"b": _answer}, workers=[_worker]), Wiring(workers=[_worker])
    )
    assert [consumer for consumer, _ in merged.consumers] == [spec]
    assert sorted(merged.queries) == ["a", "b"]
    assert list(merged.workers) == [_worker, _worker]


def test_a_query_subject_wired_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="query subjects wired twice: a"):
        Wiring(queries={"a": _answer}).merged(Wiring(queries={"a": _answer, "b": _answer}))
