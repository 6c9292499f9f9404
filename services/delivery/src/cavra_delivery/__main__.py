"""Run the delivery service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

from cavra_delivery import MIGRATIONS, SERVICE
from cavra_delivery.bootstrap import bootstrap
from cavra_delivery.settings import DeliverySettings
from cavra_runtime.service import serve_forever


def main() -> None:
    serve_forever(SERVICE, DeliverySettings.from_env(), MIGRATIONS, bootstrap)


if __name__ == "__main__":
    main()
