"""Connector config reloads keep the last good config when a read fails, and say so."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cavra_delivery.registry import ConnectorRegistry, connectors_for
from cavra_runtime.testing import FakeClock

GOOD = {"webhook": {"url": "https://hooks.acme.test/drill"}, "slack": {"url": "https://hooks.slack.com/x"}}


def rewrite(path: Path, text: str, *, bump: int) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump))  # a new mtime even within one tick


def test_a_half_written_file_keeps_the_last_good_connectors_and_reports_the_error(tmp_path: Path) -> None:
    path = tmp_path / "connectors.json"
    path.write_text(json.dumps(GOOD))
    clock = FakeClock()
    registry = ConnectorRegistry(str(path), environ={}, clock=clock, retry_seconds=0)
    assert registry.current().names() == ["slack", "webhook"]
    assert registry.configured and registry.error is None

    clock.advance(minutes=5)
    rewrite(path, json.dumps(GOOD)[:25], bump=1_000_000)  # caught mid-save
    kept = registry.current()
    assert kept.names() == ["slack", "webhook"], "the last good config stays in use"
    assert connectors_for(kept, "slack"), "a route is not unconfigured because of a bad read"
    assert registry.configured and registry.error and registry.error_since == clock.now
    first_error_at = clock.now

    clock.advance(seconds=30)
    registry.current()
    assert registry.error_since == first_error_at, "since when, not last seen"

    rewrite(path, json.dumps({"webhook": GOOD["webhook"]}), bump=2_000_000)
    assert registry.current().names() == ["webhook"]
    assert registry.error is None and registry.error_since is None and registry.loaded_at == clock.now


def test_a_config_that_never_loaded_is_not_configured(tmp_path: Path) -> None:
    path = tmp_path / "connectors.json"
    path.write_text("{not json")
    registry = ConnectorRegistry(str(path), environ={}, retry_seconds=0)
    assert registry.current().names() == []
    assert not registry.configured and registry.error
    path.write_text(json.dumps(GOOD))
    assert registry.current().names() == ["slack", "webhook"], (
        "a failed read is retried even at the same size"
    )
    assert registry.configured
