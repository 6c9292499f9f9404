"""Settings of executive reports, read once from the environment with the reporting service's own."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from cavra_contracts.executive import ExecutiveScheduleV1, normalized_providers
from cavra_runtime.settings import RuntimeSettings


class ExecutiveSettings(RuntimeSettings):
    """``CAVRA_EXECUTIVE_REPORT_*``."""

    executive_report_time_zone: str = "UTC"
    """IANA zone of report windows when a schedule names none."""
    executive_report_providers: str = Field(default="webhook", max_length=1000, pattern=r"^[A-Za-z0-9_, -]+$")
    """Comma list of providers scheduled runs and deliveries go to when none are named."""
    executive_report_tick_seconds: float = Field(default=5.0, gt=0, le=3600)
    executive_report_query_timeout_seconds: float = Field(default=4.0, gt=0, le=60)
    """Bound of each recovery report and connector query: under the gateway's query timeout (5 s)."""
    executive_report_ack_wait_seconds: float = Field(default=30.0, ge=1, le=3600)

    @field_validator("executive_report_time_zone")
    @classmethod
    def _iana(cls, value: str) -> str:
        ExecutiveScheduleV1(time_zone=value)  # the same check as a request's
        return value

    def zone(self, name: str | None) -> ZoneInfo:
        return ZoneInfo(name or self.executive_report_time_zone)

    @field_validator("executive_report_providers")
    @classmethod
    def _names(cls, value: str) -> str:
        _listed(value)  # a name a request could not carry stops the service at start
        return value

    def default_providers(self) -> list[str]:
        return _listed(self.executive_report_providers)


def _listed(names: str) -> list[str]:
    """A comma list of provider names, normalised as a request's (``normalized_providers``)."""
    return normalized_providers([part for part in names.split(",") if part.strip()]) or []
