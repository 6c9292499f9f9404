"""docker-compose.yml describes the same topology as `cavra up`, with real entry points."""

from __future__ import annotations

from pathlib import Path

import yaml

from cavra_cli import topology
from cavra_cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_compose_service_runs_a_real_cavra_command() -> None:
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    services = compose()["services"]
    for name, service in services.items():
        command = service.get("command")
        if not command or command[0] != "cavra":
            continue
        assert command[1] in commands, f"{name}: `cavra {command[1]}` does not exist"
        if command[1] == "service":
            assert topology.by_name(command[2]).name == command[2], name


def test_compose_runs_every_service_of_the_system_with_health_checks() -> None:
    services = compose()["services"]
    run = {tuple(s["command"]) for s in services.values() if s.get("command")}
    for process in topology.SERVICES:
        assert ("cavra", "service", process.name) in run, f"{process.name} missing from docker-compose.yml"
    assert ("cavra", "api") in run
    assert ("cavra", "migrate") in run
    assert any("nats" in (s.get("image") or "") for s in services.values())
    assert any("postgres" in (s.get("image") or "") for s in services.values())
    for name in ("nats", "postgres", "gateway"):
        assert "healthcheck" in services[name], name


def test_every_topology_module_is_importable_as_a_program() -> None:
    import importlib.util

    for process in (*topology.SERVICES, topology.GATEWAY):
        assert importlib.util.find_spec(f"{process.module}.__main__") is not None, process.module
