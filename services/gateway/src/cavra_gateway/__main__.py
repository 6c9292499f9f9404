"""Run the gateway: settings -> logging -> uvicorn until SIGTERM."""

from __future__ import annotations

import uvicorn

from cavra_gateway import SERVICE
from cavra_gateway.app import create_app
from cavra_gateway.server import GatewayServer
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.logging import configure_logging


def main() -> None:
    settings = GatewaySettings.from_env()
    configure_logging(SERVICE, settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_level="warning", access_log=False
    )
    GatewayServer(config, app).run()


if __name__ == "__main__":
    main()
