"""Response models of the HTTP API, for the OpenAPI document (routes build the JSON themselves).

API models are the gateway's own, separate from the message contracts; they are tolerant
(unknown fields allowed) where the body echoes a document another service owns.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cavra_contracts.scheduler import ScheduleStateV1
from cavra_contracts.schedules import DrillRunV1


class Accepted(BaseModel):
    """202: the command is stored and will be applied; its outcome is not known yet."""

    status: Literal["accepted"]
    message_id: str
    poll: str | None = None


class ScheduleWritten(BaseModel):
    """PUT of a schedule: the schedule's state after the write."""

    schedule: ScheduleStateV1
    created: bool
    message_id: str
    event_id: str


class DrillRecorded(BaseModel):
    """POST of a drill."""

    drill: DrillRunV1
    created: bool
    advanced_schedule_id: str | None
    next_due_at: str | None
    message_id: str
    event_id: str


class Delivered(BaseModel):
    """POST .../deliver: the plan and, once known, its delivery; ``poll`` while it is under way."""

    model_config = ConfigDict(extra="allow")

    schedule: dict[str, Any]
    plan: dict[str, Any]
    delivery: dict[str, Any] | None
    plan_metadata: dict[str, Any] | None
    metadata: dict[str, Any] | None
    success: bool | None
    event_id: str
    poll: str | None = None


class Readiness(BaseModel):
    """GET /readyz: ready or degraded (200), or not ready (503)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ready", "degraded", "not_ready"]
    nats: str
    database: str
    services: dict[str, dict[str, Any]]


def body_schema(model: type[BaseModel], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON request body of a route that reads a raw
    dict (to word its own errors): the schema inlined, ``optional`` fields not required."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"$ref"}:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    schema = inline(schema)
    schema["required"] = [name for name in schema.get("required", []) if name not in optional]
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
