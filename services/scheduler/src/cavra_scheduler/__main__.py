"""Run the scheduler service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

from cavra_runtime.service import serve_forever
from cavra_scheduler import MIGRATIONS, SERVICE
from cavra_scheduler.bootstrap import bootstrap
from cavra_scheduler.settings import SchedulerSettings


def main() -> None:
    serve_forever(SERVICE, SchedulerSettings.from_env(), MIGRATIONS, bootstrap)


if __name__ == "__main__":
    main()
