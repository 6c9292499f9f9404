"""docker-compose.yml runs what `cavra up` runs, with real entry points, health checks and replicas.

Which services it runs is held to the registry in tests/unit/test_service_registry.py; this file
checks how each one is deployed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cavra_cli.main import app
from cavra_runtime import services

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return loaded


def test_every_compose_service_runs_a_real_cavra_command() -> None:
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    for name, service in compose().items():
        command = service.get("command")
        if not command or command[0] != "cavra":
            continue
        assert command[1] in commands, f"{name}: `cavra {command[1]}` does not exist"
        if command[1] == "service":
            assert services.get(command[2]).name == command[2], name


def test_servers_and_migrations_come_first_with_health_checks() -> None:
    deployed = compose()
    assert deployed["migrate"]["command"] == ["cavra", "migrate"]
    assert "nats" in deployed["nats"]["image"]
    assert "postgres" in deployed["postgres"]["image"]
    for name in ("nats", "postgres"):
        assert "healthcheck" in deployed[name], name
        assert deployed["migrate"]["depends_on"][name] == {"condition": "service_healthy"}


def test_message_driven_services_scale_with_the_same_variable_as_cavra_up() -> None:
    deployed = compose()
    for service in services.message_services():
        spec = deployed[service.name]
        assert spec["deploy"]["replicas"] == f"${{{service.replicas_variable}:-1}}", service.name
        assert spec["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_gateway_starts_after_every_service_its_readiness_asks() -> None:
    deployed = compose()
    for service in services.SERVICES:
        if not service.http:
            continue
        spec = deployed[service.name]
        assert "healthcheck" in spec and "/readyz" in str(spec["healthcheck"]["test"])
        assert "deploy" not in spec, "an HTTP app binds one port: it runs once"
        assert set(spec["depends_on"]) == {"migrate", *services.health_checked()}
