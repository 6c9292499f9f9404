"""Contract evolution rule, checked: a contract may gain optional fields, nothing else.

Compares a contract's JSON Schema (as the code generates it) with its committed snapshot and names
every change that would break a consumer or producer still on the snapshot's version: a field
removed or renamed (a rename is a removal), a field whose type changed, a field that became
required (including a new required field), or a contract that disappeared. Anything else a
change needs is a new ``V2`` contract beside ``V1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SHAPE_KEYS = ("type", "$ref", "const", "format")
_NESTED_KEYS = ("anyOf", "oneOf", "allOf")


def shape(schema: Mapping[str, Any]) -> Any:
    """What a field's schema says about its type, without descriptions, defaults or bounds."""
    out: dict[str, Any] = {key: schema[key] for key in _SHAPE_KEYS if key in schema}
    for key in _NESTED_KEYS:
        if key in schema:
            out[key] = sorted(repr(shape(item)) for item in schema[key])
    if "items" in schema and isinstance(schema["items"], Mapping):
        out["items"] = shape(schema["items"])
    if isinstance(schema.get("additionalProperties"), Mapping):
        out["additionalProperties"] = shape(schema["additionalProperties"])
    return out


def _object_problems(where: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    old_fields: Mapping[str, Any] = old.get("properties", {})
    new_fields: Mapping[str, Any] = new.get("properties", {})
    for name, old_field in old_fields.items():
        if name not in new_fields:
            problems.append(f"{where}.{name}: removed or renamed")
        elif shape(old_field) != shape(new_fields[name]):
            problems.append(f"{where}.{name}: type changed")
    newly_required = set(new.get("required", ())) - set(old.get("required", ()))
    problems += [f"{where}.{name}: became required" for name in sorted(newly_required)]
    return problems


def incompatibilities(old: Mapping[str, Any], new: Mapping[str, Any], *, name: str) -> list[str]:
    """Every breaking difference between the snapshot ``old`` and the generated ``new`` schema."""
    problems = _object_problems(name, old, new)
    old_defs: Mapping[str, Any] = old.get("$defs", {})
    new_defs: Mapping[str, Any] = new.get("$defs", {})
    for def_name, old_def in old_defs.items():
        if def_name in new_defs:
            problems += _object_problems(f"{name}#{def_name}", old_def, new_defs[def_name])
    return problems


def compare_all(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Breaking changes across every contract (keyed by schema_version)."""
    problems = [f"{version}: contract removed" for version in sorted(set(old) - set(new))]
    for version in sorted(set(old) & set(new)):
        problems += incompatibilities(old[version], new[version], name=version)
    return problems
