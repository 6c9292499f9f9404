"""Run the acknowledgement service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

from cavra_acknowledgement import MIGRATIONS, SERVICE
from cavra_acknowledgement.bootstrap import bootstrap
from cavra_acknowledgement.settings import AcknowledgementSettings
from cavra_runtime.service import serve_forever


def main() -> None:
    serve_forever(SERVICE, AcknowledgementSettings.from_env(), MIGRATIONS, bootstrap)


if __name__ == "__main__":
    main()
