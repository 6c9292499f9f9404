"""The service registry is the one list: every folder is an entry, every reader derives from it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cavra_cli import supervisor
from cavra_cli.main import app
from cavra_gateway.settings import GatewaySettings
from cavra_runtime import services
from cavra_runtime.settings import RuntimeSettings
from tests.support.harness import service_settings

ROOT = Path(__file__).resolve().parents[2]
NAMES = set(services.names())
MESSAGE_DRIVEN = {service.name for service in services.SERVICES if not service.http}


def test_every_service_folder_is_a_registry_entry_and_every_entry_a_folder() -> None:
    folders = {path.name for path in (ROOT / "services").iterdir() if path.is_dir()}
    assert folders == NAMES
    for service in services.SERVICES:
        assert service.src_dir() == ROOT / "services" / service.name / "src", service.name
        assert (service.src_dir() / service.package / "__init__.py").is_file(), service.name


def test_every_package_describes_itself_under_the_same_names() -> None:
    for service in services.SERVICES:
        package = service.module()
        assert package.SERVICE == service.name
        assert issubclass(service.settings_class(), RuntimeSettings), service.name
        assert importlib.util.find_spec(f"{service.package}.__main__") is not None, service.name
        if service.http:
            assert service.migrations() is None, f"{service.name} is an HTTP app: it owns no tables"
            with pytest.raises(ValueError, match="HTTP app"):
                service.bootstrap()
        else:
            migrations = service.migrations()
            assert migrations == ROOT / "services" / service.name / "migrations", service.name
            assert sorted(migrations.glob("0001_*.sql")), service.name
            assert callable(service.bootstrap()), service.name


def test_cavra_up_starts_every_entry_and_the_replicas_each_one_asks_for() -> None:
    started = supervisor.processes({})
    assert [service.name for service, _ in started] == list(services.names())
    scaled = supervisor.processes({"CAVRA_DELIVERY_REPLICAS": "2", "CAVRA_GATEWAY_REPLICAS": "3"})
    assert [log for _, log in scaled] == [
        "scheduler",
        "router",
        "delivery-1",
        "delivery-2",
        "acknowledgement",
        "gateway",
    ]


def test_replicas_come_from_one_variable_per_message_driven_service() -> None:
    delivery = services.get("delivery")
    assert delivery.replicas_variable == "CAVRA_DELIVERY_REPLICAS"
    assert delivery.replicas({"CAVRA_DELIVERY_REPLICAS": "3"}) == 3
    assert delivery.replicas({"CAVRA_DELIVERY_REPLICAS": "0"}) == 1
    assert delivery.replicas({}) == 1
    with pytest.raises(ValueError, match="CAVRA_DELIVERY_REPLICAS must be a whole number"):
        delivery.replicas({"CAVRA_DELIVERY_REPLICAS": "two"})
    gateway = services.get("gateway")
    assert gateway.replicas_variable is None
    assert gateway.replicas({"CAVRA_GATEWAY_REPLICAS": "3"}) == 1, "one API port, one process"


def test_migrate_and_the_test_template_apply_every_message_driven_schema() -> None:
    assert list(services.owned_schemas()) == [n for n in services.names() if n in MESSAGE_DRIVEN]


def test_readiness_asks_every_message_driven_service_by_default() -> None:
    assert set(GatewaySettings().services) == MESSAGE_DRIVEN
    assert set(services.health_checked()) == MESSAGE_DRIVEN
    assert GatewaySettings(services=("scheduler",)).services == ("scheduler",)


def test_readiness_refuses_a_name_that_is_not_a_message_driven_service() -> None:
    with pytest.raises(ValueError, match="not a message-driven service: schedular, gateway"):
        GatewaySettings(services=("schedular", "gateway"))


def test_cavra_service_accepts_exactly_the_registry_names() -> None:
    runner = CliRunner(env={"COLUMNS": "300"})  # rich would wrap the message inside its box
    result = runner.invoke(app, ["service", "nope"])
    assert result.exit_code == 2
    assert f"known: {', '.join(services.names())}" in result.output
    assert " | ".join(services.names()) in runner.invoke(app, ["service", "--help"]).output


def test_the_harness_runs_any_message_driven_service() -> None:
    for name in MESSAGE_DRIVEN:
        settings = service_settings(name, "nats://x:4222", "postgresql://x/db", log_level="debug")
        assert isinstance(settings, services.get(name).settings_class()), name
        assert (settings.nats_url, settings.database_url, settings.log_level) == (
            "nats://x:4222",
            "postgresql://x/db",
            "debug",
        )


def test_compose_runs_every_entry_under_its_name_and_nothing_else() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    running = {
        name: spec["command"]
        for name, spec in compose.items()
        if spec.get("command", [None])[0] == "cavra" and spec["command"][1] in ("service", "api")
    }
    assert set(running) == NAMES
    for service in services.SERVICES:
        expected = ["cavra", "api"] if service.http else ["cavra", "service", service.name]
        assert running[service.name] == expected, service.name


def test_lint_type_checks_every_service_source_folder() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "cavra_runtime.services", "--src-dirs"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert printed == [f"services/{name}/src" for name in services.names()]
    makefile = (ROOT / "Makefile").read_text()
    assert "-m cavra_runtime.services --src-dirs" in makefile
    assert "services/" not in makefile.split("\nlint:")[1].split("\n\n")[0], "a second list in make lint"


def test_packaging_names_no_service() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    for service in services.SERVICES:
        assert service.package not in pyproject, f"pyproject.toml lists {service.package}"
