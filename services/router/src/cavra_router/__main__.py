"""Run the router service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

from cavra_router import MIGRATIONS, SERVICE
from cavra_router.bootstrap import bootstrap
from cavra_router.settings import RouterSettings
from cavra_runtime.service import serve_forever


def main() -> None:
    serve_forever(SERVICE, RouterSettings.from_env(), MIGRATIONS, bootstrap)


if __name__ == "__main__":
    main()
