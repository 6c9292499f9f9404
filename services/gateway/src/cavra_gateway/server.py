"""The gateway's HTTP server: uvicorn, ending the console's live streams when it stops (a graceful
shutdown waits for open responses, and a live stream would otherwise keep it waiting for ever)."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from cavra_gateway.console.live import LiveFeed


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: Any = None) -> None:
        feed: LiveFeed | None = getattr(self._app.state, "live", None)
        if feed is not None:
            feed.end_streams()
        await super().shutdown(sockets)
