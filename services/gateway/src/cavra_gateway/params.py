"""Rules for query and path parameters: every one bounded in length, ids held to the schedule id
pattern, free text without control characters (PostgreSQL cannot store NUL)."""

from __future__ import annotations

from typing import get_args

from cavra_contracts.schedules import Identifier

ID_PATTERN: str = next(m.pattern for m in get_args(Identifier)[1:] if getattr(m, "pattern", None))
"""``^[A-Za-z0-9._:@-]+$``: schedule, drill and plan ids (they become subjects and headers)."""
ID_OR_EMPTY = f"^(?:{ID_PATTERN.removeprefix('^').removesuffix('$')})?$"
TEXT = r"^[^\x00-\x1f\x7f]*$"
"""Free text (owner, provider, requested_by): any printable character."""
