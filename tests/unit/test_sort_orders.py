"""The ORDER BY each list builds from a sort: every allowed value maps, ``-x`` reverses every term of
``x`` (so one index walks both ways), a unique key ends every order, and the default is today's order."""

from __future__ import annotations

import re

import pytest

from cavra_acknowledgement.repository import route_states_order
from cavra_contracts.sorting import HistorySort, RouteHistorySort, RouteStatesSort, allowed
from cavra_reporting.queries import history_order
from cavra_router.repository import route_history_order

FLIP = {"ASC": "DESC", "DESC": "ASC", "ASC NULLS LAST": "DESC NULLS FIRST"}


def terms(order: str) -> list[tuple[str, str]]:
    found = []
    for term in order.split(", "):
        match = re.fullmatch(r"(.+?) (ASC NULLS LAST|DESC NULLS FIRST|ASC|DESC)", term)
        assert match, term
        found.append((match.group(1), match.group(2)))
    return found


def reversed_terms(order: list[tuple[str, str]]) -> list[tuple[str, str]]:
    back = {**FLIP, **{v: k for k, v in FLIP.items()}}
    return [(term, back[way]) for term, way in order]


def history_terms(sort: str) -> list[tuple[str, str]]:
    return history_order(sort)[1]


def test_default_orders_are_the_orders_of_before() -> None:
    assert history_terms("") == [("created_at", "DESC"), ("seq", "DESC"), ("ordinal", "DESC")]
    assert route_history_order("") == "created_at DESC, route_id ASC"
    assert route_states_order("", "") == "r.schedule_id ASC, r.provider ASC, r.owner ASC, r.route_id ASC"


@pytest.mark.parametrize("sort", [s for s in allowed(HistorySort) if not s.startswith("-")])
def test_history_minus_reverses_every_term_and_ends_in_the_position(sort: str) -> None:
    assert history_terms("-" + sort) == reversed_terms(history_terms(sort))
    assert [name for name, _ in history_terms(sort)][-3:] == ["created_at", "seq", "ordinal"]


@pytest.mark.parametrize("sort", [s for s in allowed(RouteHistorySort) if not s.startswith("-")])
def test_route_history_minus_reverses_every_term_and_ends_in_the_route_id(sort: str) -> None:
    forward = terms(route_history_order(sort))
    assert terms(route_history_order("-" + sort)) == reversed_terms(forward)
    assert forward[-1][0] == "route_id"


@pytest.mark.parametrize("sort", [s for s in allowed(RouteStatesSort) if not s.startswith("-")])
def test_route_states_minus_reverses_every_term_and_ends_in_the_route_id(sort: str) -> None:
    forward = terms(route_states_order(sort, "(breach)"))
    assert terms(route_states_order("-" + sort, "(breach)")) == reversed_terms(forward)
    assert forward[-1][0] == "r.route_id"


def test_an_unknown_sort_has_no_order() -> None:
    with pytest.raises(KeyError):
        route_history_order("route_key")
    with pytest.raises(KeyError):
        route_states_order("plan", "")
    with pytest.raises(KeyError):
        history_order("document")
