"""Run the delivery service: settings -> logging -> bootstrap -> run until SIGTERM."""

from __future__ import annotations

import gc

from cavra_delivery import MIGRATIONS, SERVICE
from cavra_delivery.bootstrap import bootstrap
from cavra_delivery.settings import DeliverySettings
from cavra_runtime.service import serve_forever

GC_THRESHOLDS = (50_000, 20, 100)
"""Every route allocates a few dozen short-lived objects (tasks, futures, dicts): with Python's
default (700, 10, 10) the collector ran hundreds of times per burst and took 11-15% of the
process's CPU in bench/bench_delivery.py; with these it runs a few times (<1%)."""


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()  # what the imports built lives as long as the process: never scan it again
    serve_forever(SERVICE, DeliverySettings.from_env(), MIGRATIONS, bootstrap)


if __name__ == "__main__":
    main()
