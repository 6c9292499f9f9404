"""Run the delivery service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

import asyncio

from cavra_delivery import MIGRATIONS, SERVICE
from cavra_delivery.bootstrap import bootstrap
from cavra_delivery.settings import DeliverySettings
from cavra_runtime.logging import configure_logging
from cavra_runtime.service import Runtime, run_until_signalled


async def serve(stop: asyncio.Event) -> None:
    settings = DeliverySettings.from_env()
    configure_logging(SERVICE, settings.log_level)
    async with Runtime.open(SERVICE, settings, MIGRATIONS) as runtime, bootstrap(runtime, settings) as wiring:
        await runtime.run(wiring, stop)


def main() -> None:
    run_until_signalled(serve)


if __name__ == "__main__":
    main()
