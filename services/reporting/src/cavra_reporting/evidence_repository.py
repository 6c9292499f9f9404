"""The reporting service's SQL for recorded events (``$n`` parameters only): replaceable history items,
recovery rows and approvals (writes, in the applier's transaction), and the dashboard figures read from
them at query time (open and breached recoveries, pending approvals).

A recorded event's item is replaced by a newer announcement of the same record (by created_at, stream
sequence): the older one's counters (``counted``) are taken back and the newer one's added, so every
counter is the sum over the items as they finally stand, whatever order the events came in. The
caller holds the advisory lock ``item:<session_id>`` (and ``recovery:<playbook_id>``), so two
announcements of one record, or a playbook and its closures, apply one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from cavra_contracts.timestamps import iso
from cavra_reporting.domain.evidence import OPEN_RECOVERIES, UNDECIDED_APPROVALS
from cavra_reporting.domain.model import CounterDeltas, EvidenceChange, Item

_COLUMNS = """item_id, metadata_kind, created_at, seq, ordinal, schedule_id, plan_id, acknowledgement_state,
    source_key, delivery_success, alert_level, document, audit_id, delivery_id, cadence, counted"""


async def upsert_items(
    conn: asyncpg.Connection, items: Sequence[Item], sequence: int, deltas: CounterDeltas
) -> None:
    """Store each item unless a newer announcement of the same record is stored already."""
    for item in items:
        old = await conn.fetchrow(
            """SELECT created_at, seq, ordinal,
                      coalesce((SELECT array_agg(key ORDER BY key) FROM jsonb_each_text(counted)),
                               '{}') AS names,
                      coalesce((SELECT array_agg(value::bigint ORDER BY key) FROM jsonb_each_text(counted)),
                               '{}') AS amounts
               FROM history_items WHERE item_id = $1 FOR UPDATE""",
            item.item_id,
        )
        if old is not None and (old["created_at"], old["seq"], old["ordinal"]) >= (
            item.created_at,
            sequence,
            item.ordinal,
        ):
            continue  # this announcement is the stored one, or older than it
        counted = item.counted()
        audit_id, delivery_id, cadence = item.lookups()
        values = (
            item.item_id,
            item.metadata_kind,
            item.created_at,
            sequence,
            item.ordinal,
            item.schedule_id,
            item.plan_id,
            item.acknowledgement_state,
            item.source_key,
            item.delivery_success,
            item.alert_level,
            item.document,
            audit_id,
            delivery_id,
            cadence,
            counted,
        )
        await conn.execute(
            f"""INSERT INTO history_items ({_COLUMNS})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                ON CONFLICT (item_id) DO UPDATE SET
                  metadata_kind = excluded.metadata_kind, created_at = excluded.created_at,
                  seq = excluded.seq, ordinal = excluded.ordinal, schedule_id = excluded.schedule_id,
                  plan_id = excluded.plan_id,
                  acknowledgement_state = excluded.acknowledgement_state, source_key = excluded.source_key,
                  delivery_success = excluded.delivery_success, alert_level = excluded.alert_level,
                  document = excluded.document, audit_id = excluded.audit_id,
                  delivery_id = excluded.delivery_id, cadence = excluded.cadence,
                  counted = excluded.counted""",
            *values,
        )
        if old is not None:
            await conn.execute("DELETE FROM item_providers WHERE item_id = $1", item.item_id)
            for name, amount in zip(old["names"], old["amounts"], strict=True):
                deltas.add(name, -int(amount))
        if item.providers:
            await conn.execute(
                """INSERT INTO item_providers (item_id, provider, created_at, seq, ordinal)
                   SELECT $1, p, $2, $3, $4 FROM unnest($5::text[]) AS p""",
                item.item_id,
                item.created_at,
                sequence,
                item.ordinal,
                list(item.providers),
            )
        for name, amount in counted.items():
            deltas.add(name, amount)


async def apply(
    conn: asyncpg.Connection, change: EvidenceChange, sequence: int, deltas: CounterDeltas
) -> None:
    """Recovery rows and closures, approval plans and decisions of one recorded event."""
    if change.recoveries or change.closures:
        await _apply_recoveries(conn, change, sequence, deltas)
    if change.approval_plan is not None:
        plan = change.approval_plan
        await conn.execute(
            """INSERT INTO approval_plans (approval_plan_id, created_at, seq, required_count)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (approval_plan_id) DO UPDATE
               SET created_at = excluded.created_at, seq = excluded.seq,
                   required_count = excluded.required_count
               WHERE (approval_plans.created_at, approval_plans.seq) < (excluded.created_at, excluded.seq)""",
            plan.approval_plan_id,
            plan.created_at,
            sequence,
            plan.required_count,
        )
    if change.decision is not None:
        decision = change.decision
        await conn.execute(
            """INSERT INTO approval_decisions (decision_id, approval_plan_id, decision_key, approval_state)
               VALUES ($1, $2, $3, $4) ON CONFLICT (decision_id) DO NOTHING""",
            decision.decision_id,
            decision.approval_plan_id,
            decision.decision_key,
            decision.state,
        )


async def _apply_recoveries(
    conn: asyncpg.Connection, change: EvidenceChange, sequence: int, deltas: CounterDeltas
) -> None:
    keys = sorted(
        {(r.playbook_id, r.provider) for r in change.recoveries}
        | {(c.playbook_id, c.provider) for c in change.closures}
    )
    was_open = await conn.fetchval(
        """SELECT count(*) FILTER (WHERE is_open) FROM (
             SELECT is_open FROM recoveries r
             JOIN unnest($1::text[], $2::text[]) AS k(playbook_id, provider)
               ON r.playbook_id = k.playbook_id AND r.provider = k.provider
             ORDER BY r.playbook_id, r.provider FOR UPDATE OF r) locked""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    if change.recoveries:
        # A playbook's time never changes; LEAST keeps any replay order giving the same row.
        await conn.execute(
            """INSERT INTO recoveries (playbook_id, provider, generated_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ORDER BY 1, 2
               ON CONFLICT (playbook_id, provider) DO UPDATE
               SET generated_at = LEAST(coalesce(recoveries.generated_at, excluded.generated_at),
                                        excluded.generated_at)""",
            [r.playbook_id for r in change.recoveries],
            [r.provider for r in change.recoveries],
            [r.generated_at for r in change.recoveries],
        )
    for closure in change.closures:
        await conn.execute(
            """INSERT INTO recoveries (playbook_id, provider, closure_state, closed_at, closure_seq)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (playbook_id, provider) DO UPDATE
               SET closure_state = excluded.closure_state, closed_at = excluded.closed_at,
                   closure_seq = excluded.closure_seq
               WHERE (coalesce(recoveries.closed_at, '-infinity'), recoveries.closure_seq)
                     < (excluded.closed_at, excluded.closure_seq)""",
            closure.playbook_id,
            closure.provider,
            closure.state,
            closure.closed_at,
            sequence,
        )
    is_open = await conn.fetchval(
        """SELECT count(*) FILTER (WHERE is_open) FROM recoveries r
           JOIN unnest($1::text[], $2::text[]) AS k(playbook_id, provider)
             ON r.playbook_id = k.playbook_id AND r.provider = k.provider""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    deltas.add(OPEN_RECOVERIES, int(is_open) - int(was_open))


@dataclass(frozen=True)
class EvidenceState:
    """The dashboard figures of recorded events that are not counters."""

    open_recoveries_within_slo: int
    """Open recovery rows not yet older than the SLO (breached = open - these)."""
    approvals_pending: int
    breached: list[dict[str, Any]]
    """The oldest breached rows: ``{playbook_id, provider, generated_at, closure_state}``."""


def breach_cutoff(now: datetime, slo_minutes: int) -> datetime:
    """Rows generated at or before this are breached at ``now``: ``floor(age in minutes) > slo``
    (strict, spec §8.6 case 56) is ``age >= slo + 1`` whole minutes."""
    return now - timedelta(minutes=slo_minutes + 1)


async def evidence_state(
    conn: asyncpg.Connection, now: datetime, slo_minutes: int, listed: int = 0
) -> EvidenceState:
    """Open recoveries within the SLO (an index range over the recent open rows only), the ``listed``
    oldest breached ones (the other end of that index) and the approvals the newest approval plan
    still waits for."""
    row = await conn.fetchrow(
        """SELECT
             (SELECT count(*) FROM recoveries WHERE is_open AND generated_at > $1) AS within_slo,
             (SELECT greatest(p.required_count - (
                        SELECT count(DISTINCT d.decision_key) FROM approval_decisions d
                        WHERE d.approval_plan_id = p.approval_plan_id
                          AND NOT (d.approval_state = ANY($2::text[]))), 0)
              FROM (SELECT approval_plan_id, required_count FROM approval_plans
                    ORDER BY created_at DESC, seq DESC LIMIT 1) p) AS pending""",
        breach_cutoff(now, slo_minutes),
        sorted(UNDECIDED_APPROVALS),
    )
    assert row is not None
    breached = await conn.fetch(
        """SELECT playbook_id, provider, generated_at, closure_state FROM recoveries
           WHERE is_open AND generated_at <= $1 ORDER BY generated_at, playbook_id, provider LIMIT $2""",
        breach_cutoff(now, slo_minutes),
        listed,
    )
    return EvidenceState(
        int(row["within_slo"]),
        int(row["pending"] or 0),
        [{**dict(r), "generated_at": iso(r["generated_at"])} for r in breached],
    )
