"""Run the reporting service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

from cavra_reporting import MIGRATIONS, SERVICE
from cavra_reporting.bootstrap import bootstrap
from cavra_reporting.settings import ReportingSettings
from cavra_runtime.service import serve_forever


def main() -> None:
    serve_forever(SERVICE, ReportingSettings.from_env(), MIGRATIONS, bootstrap)


if __name__ == "__main__":
    main()
