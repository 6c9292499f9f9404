"""Executive request bodies and settings refuse what the reporting command refuses (422, not 500)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cavra_contracts.actors import system_actor
from cavra_contracts.executive import RunExecutiveReportV1
from cavra_gateway.routes.executive import ScheduleRunRequest
from cavra_reporting.executive.settings import ExecutiveSettings


@pytest.mark.parametrize("name", ["slaçk", "web hook", "x" * 65])
def test_a_provider_name_the_command_refuses_is_refused_by_the_body(name: str) -> None:
    with pytest.raises(ValidationError):
        ScheduleRunRequest(providers=[name])


def test_the_body_passes_on_the_names_the_command_keeps() -> None:
    body = ScheduleRunRequest(providers=[" Slack", "slack", "web-hook"])
    assert body.providers == ["slack", "web_hook"]
    command = RunExecutiveReportV1(providers=body.providers, actor=system_actor("test"))
    assert command.providers == body.providers


def test_the_default_providers_setting_is_normalised_as_a_request_and_a_bad_name_stops_the_start() -> None:
    settings = ExecutiveSettings(executive_report_providers=" Web-Hook, slack,web_hook,")
    assert settings.default_providers() == ["web_hook", "slack"]
    with pytest.raises(ValidationError):
        ExecutiveSettings(executive_report_providers="web hook")
