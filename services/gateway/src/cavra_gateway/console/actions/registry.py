"""Every console action by name, and which of them a viewer is offered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cavra_gateway.console.actions import audit, executive, recovery, retries, route_actions
from cavra_gateway.console.actions.base import Action
from cavra_gateway.console.actions.retries import may_approve

ACTIONS: Final[dict[str, Action]] = {
    action.name: action
    for group in (route_actions, audit, retries, recovery, executive)
    for action in group.ACTIONS
}


def toolbar_of(view: str) -> list[Action]:
    return [action for action in ACTIONS.values() if action.view == view and not action.row]


def offered(
    action: Action | None, permissions: Mapping[str, bool], actor: str, record: Mapping[str, Any]
) -> bool:
    """Is ``action`` shown to this viewer (on this row)? The API decides anyway; a control the viewer may
    not use is absent rather than refused on click."""
    if action is None or not permissions.get(action.permission, False):
        return False
    return action.name != "approve_retry" or may_approve(actor, record)
