"""Run the escalation service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

from cavra_escalation import MIGRATIONS, SERVICE
from cavra_escalation.bootstrap import bootstrap
from cavra_escalation.settings import EscalationSettings
from cavra_runtime.service import serve_forever


def main() -> None:
    serve_forever(SERVICE, EscalationSettings.from_env(), MIGRATIONS, bootstrap)


if __name__ == "__main__":
    main()
