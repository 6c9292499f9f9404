"""Actions on escalation routes (spec §7.5): row Ack / Escalate / Resolve, Ack selected, and Bulk Ack
Outstanding / Bulk Escalate Breached over the current filter scope (a preview counts the routes first;
Confirm sends that count as ``expected_count`` so a scope that changed meanwhile is refused, 409).

Each route is looked up again through the API by its id: schedule, provider, plan and owner come from
the API's answer, never from the browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from cavra_contracts.acknowledgements import MAX_SCOPE_ROUTES
from cavra_gateway.console.actions.base import (
    Action,
    ActionForm,
    Confirmation,
    Outcome,
    answered,
    failed,
    refused,
    text,
)
from cavra_gateway.console.current import Viewer
from cavra_gateway.console.tables.escalation_routes import find as find_route

NP: Final = "/runtime/go-pilot/rollback-drill-notifications"
ROUTE_STATES: Final = f"{NP}/acknowledgements/routes"
TOPICS: Final = ("acknowledgement", "route", "escalation")
ROW_STATES: Final = {"ack": "acknowledged", "escalate": "escalated", "resolve": "resolved"}
LOOKUPS_AT_ONCE: Final = 10


def _missing_route(route_id: str) -> Outcome:
    return refused(
        404, "record_id", f"no route {route_id!r} in the current plans (it may have been replaced)"
    )


def _recorded(body: Any) -> str:
    ack = body.get("acknowledgement") if isinstance(body, dict) else None
    return (
        f"Recorded {text(ack, 'acknowledgement_state')} for {text(ack, 'provider')} "
        f"as {text(ack, 'acknowledged_by')}."
    )


def row_action(verb: str) -> Any:
    async def run(viewer: Viewer, form: ActionForm) -> Outcome:
        if not form.record_id:
            return refused(
                422, "record_id", "Select a deliverable drill route before recording an acknowledgement."
            )
        route, answer = await find_route(viewer.api, form.record_id)
        if not answer.ok:
            return failed(answer)
        if route is None:
            return _missing_route(form.record_id)
        route_id = str(route["route_id"])
        body = {
            "action": verb,
            "external_ref": form.external_ref,
            "notes": form.notes or f"Console marked route {ROW_STATES[verb]}.",
        }
        posted = await viewer.api.post(
            f"{NP}/routes/{route_id}/actions", body, idempotency_key=form.idempotency_key(f"route_{verb}")
        )
        return answered(posted, _recorded, TOPICS)

    return run


def _bulk_recorded(body: Any) -> str:
    state = text(body, "acknowledgement_state")
    return f"Recorded {text(body, 'acknowledgement_count')} {state} acknowledgement(s)."


async def ack_selected(viewer: Viewer, form: ActionForm) -> Outcome:
    """Exactly the selected routes, in one atomic bulk acknowledgement."""
    if not form.selected:
        return refused(422, "selected", "select routes first (x on a route row)")
    found: list[Mapping[str, Any]] = []
    for start in range(0, len(form.selected), LOOKUPS_AT_ONCE):
        chunk = form.selected[start : start + LOOKUPS_AT_ONCE]
        results = await asyncio.gather(*(find_route(viewer.api, route_id) for route_id in chunk))
        for route_id, (route, answer) in zip(chunk, results, strict=True):
            if not answer.ok:
                return failed(answer)
            if route is None:
                return _missing_route(route_id)
            found.append(route)
    body = {
        "routes": [
            {
                "schedule_id": route["schedule_id"],
                "provider": route["provider"],
                "plan_id": route["plan_id"],
                "owner": route["owner"],
            }
            for route in found
        ],
        "acknowledgement_state": "acknowledged",
        "external_ref": form.external_ref,
        "notes": form.notes or "Console bulk marked routes acknowledged.",
    }
    posted = await viewer.api.post(
        f"{NP}/acknowledgements/bulk", body, idempotency_key=form.idempotency_key("route_ack_selected")
    )
    return answered(posted, _bulk_recorded, TOPICS)


class BulkScope:
    """Bulk Ack Outstanding (``ack``, outstanding routes) or Bulk Escalate Breached (``escalate``)."""

    def __init__(self, name: str, verb: str, word: str) -> None:
        self.name = name
        self.verb = verb
        self.word = word

    def scope(self, form: ActionForm) -> dict[str, Any]:
        scope: dict[str, Any] = {"owner": form.filters.owner, "provider": form.filters.provider}
        if self.word == "outstanding":
            scope["state"] = "outstanding"
        else:
            scope["breached"] = True
        return {k: v for k, v in scope.items() if v not in ("", None)}

    def described(self, form: ActionForm, count: int) -> str:
        where = [f"owner {form.filters.owner}" if form.filters.owner else "every owner"]
        where.append(f"provider {form.filters.provider}" if form.filters.provider else "every provider")
        doing = "Acknowledge" if self.verb == "ack" else "Escalate"
        return f"{doing} {count:,} {self.word} route{'s' if count != 1 else ''} for {', '.join(where)}?"

    async def preview(self, viewer: Viewer, form: ActionForm) -> Outcome:
        scope = self.scope(form)
        answer = await viewer.api.get(ROUTE_STATES, {**scope, "limit": 0})
        if not answer.ok:
            return failed(answer)
        total = answer.body.get("total") if isinstance(answer.body, dict) else None
        if not isinstance(total, int):
            return Outcome(502, "The route count is missing from the API's answer.", ok=False)
        if total == 0:
            return Outcome(200, f"No {self.word} drill routes match the current filters.")
        if total > MAX_SCOPE_ROUTES:
            return refused(
                409, "scope", f"{total:,} routes match: narrow the filters to at most {MAX_SCOPE_ROUTES:,}"
            )
        fields = {**form.filters.given(), "expected_count": str(total)}
        fields = {k: v for k, v in fields.items() if k in ("owner", "provider", "expected_count")}
        return Outcome(
            200,
            self.described(form, total),
            confirm=Confirmation(self.described(form, total), self.name, fields),
        )

    async def run(self, viewer: Viewer, form: ActionForm) -> Outcome:
        if form.expected_count is None:
            return refused(422, "expected_count", "preview the bulk action and confirm its count first")
        if form.expected_count == 0:
            return Outcome(200, f"No {self.word} drill routes match the current filters.")
        state = ROW_STATES[self.verb]
        body = {
            "action": self.verb,
            "scope": self.scope(form),
            "expected_count": form.expected_count,
            "external_ref": form.external_ref,
            "notes": form.notes or f"Console bulk marked routes {state}.",
        }
        posted = await viewer.api.post(
            f"{NP}/routes/actions",
            body,
            idempotency_key=form.idempotency_key(
                self.name, str(sorted(self.scope(form).items())), str(form.expected_count)
            ),
        )
        return answered(posted, _bulk_recorded, TOPICS)


BULK_ACK: Final = BulkScope("bulk_ack", "ack", "outstanding")
BULK_ESCALATE: Final = BulkScope("bulk_escalate", "escalate", "breached")

ACTIONS: Final = (
    Action("route_ack", "Ack", "acknowledge_drill_notifications", "routes", row_action("ack"), row=True),
    Action("route_escalate", "Escalate", "escalate_routes", "routes", row_action("escalate"), row=True),
    Action("route_resolve", "Resolve", "resolve_routes", "routes", row_action("resolve"), row=True),
    Action(
        "route_ack_selected",
        "Ack selected",
        "bulk_acknowledge",
        "routes",
        ack_selected,
        hint="Acknowledges exactly the routes selected with x, in one request (all or none).",
    ),
    Action(
        "bulk_ack",
        "Bulk Ack Outstanding",
        "bulk_acknowledge",
        "routes",
        BULK_ACK.run,
        preview=BULK_ACK.preview,
    ),
    Action(
        "bulk_escalate",
        "Bulk Escalate Breached",
        "bulk_acknowledge",
        "routes",
        BULK_ESCALATE.run,
        preview=BULK_ESCALATE.preview,
    ),
)
