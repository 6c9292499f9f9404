"""Ids that the gateway puts into a header or subject are validated at the edge (422 naming the field)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cavra_gateway.routes.notifications import DeliverRequest


@pytest.mark.parametrize("schedule_id", ["a\r\nce-x: y", "a/b", "a b", "", "x" * 129])
def test_deliver_schedule_id_must_be_an_id_before_it_becomes_a_header(schedule_id: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DeliverRequest(schedule_id=schedule_id)
    assert [e["loc"] for e in caught.value.errors()] == [("schedule_id",)]
