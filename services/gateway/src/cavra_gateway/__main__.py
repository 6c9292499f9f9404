"""Run the gateway: settings -> logging -> uvicorn until SIGTERM."""

from __future__ import annotations

import uvicorn

from cavra_gateway import SERVICE
from cavra_gateway.app import create_app
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.logging import configure_logging


def main() -> None:
    settings = GatewaySettings.from_env()
    configure_logging(SERVICE, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
