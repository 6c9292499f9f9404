"""The bus's key/value buckets against real JetStream: first writer wins, compare-and-set, limits."""

from __future__ import annotations

import pytest

from cavra_runtime.bus import BucketSpec, Bus, KeyExistsError, ensure_bucket

SPEC = BucketSpec(
    name="CAVRA_TEST", description="test", ttl_seconds=60, max_value_bytes=1024, max_bytes=1 << 20
)


async def test_create_is_the_atomic_first_writer_and_update_compares_revisions(nats_url: str) -> None:
    bus = await Bus.connect(nats_url, name="test")
    try:
        bucket = await ensure_bucket(bus, SPEC)
        first = await bucket.create("k", b"one")
        with pytest.raises(KeyExistsError):
            await bucket.create("k", b"two")
        entry = await bucket.get("k")
        assert entry is not None
        assert (entry.value, entry.revision) == (b"one", first)
        second = await bucket.update("k", b"two", revision=first)
        with pytest.raises(KeyExistsError):
            await bucket.update("k", b"three", revision=first)
        await bucket.delete("k")
        assert await bucket.get("k") is None
        assert await bucket.create("k", b"again") > second
        assert await bucket.get("missing") is None

        changed = BucketSpec(**{**SPEC.__dict__, "ttl_seconds": 120, "max_value_bytes": 2048})
        reopened = await ensure_bucket(bus, changed)
        info = await bus.js.stream_info("KV_CAVRA_TEST")
        assert (info.config.max_age, info.config.max_msg_size) == (120, 2048)
        assert (await reopened.get("k")) is not None, "re-provisioning keeps the data"
    finally:
        await bus.js.delete_key_value("CAVRA_TEST")
        await bus.close()
