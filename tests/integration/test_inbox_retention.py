"""An inbox claim outlives every message a stream can still hold, so a recreated consumer that
re-reads from sequence 1 never applies a command twice."""

from __future__ import annotations

import asyncpg

from cavra_contracts.subjects import STREAMS
from cavra_runtime.db import create_pool
from cavra_runtime.inbox import RETENTION
from cavra_runtime.outbox import OutboxRelay


async def test_prune_keeps_inbox_claims_as_long_as_the_longest_stream_keeps_messages(
    database_url: str,
) -> None:
    longest = max(spec.max_age_days for spec in STREAMS)
    assert RETENTION.days > longest
    pool = await create_pool(database_url, schema="scheduler", application="test")
    try:
        ages = {
            "fresh": 0,
            "past-outbox-retention": 8,
            "past-command-stream": 31,
            "past-every-stream": longest + 2,
        }
        async with pool.acquire() as conn:
            for message_id, days in ages.items():
                await conn.execute(
                    "INSERT INTO inbox (consumer, message_id, subject, processed_at) "
                    "VALUES ('c', $1, 's', now() - make_interval(days => $2))",
                    message_id,
                    days,
                )
        await OutboxRelay(pool, None, schema="scheduler").prune()  # type: ignore[arg-type]
        async with pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch("SELECT message_id FROM inbox ORDER BY message_id")
        assert [r["message_id"] for r in rows] == ["fresh", "past-command-stream", "past-outbox-retention"]
    finally:
        await pool.close()
