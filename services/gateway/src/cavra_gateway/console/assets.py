"""The console's static files (its CSS and JavaScript, and the vendored libraries in ``static/vendor``,
each at a pinned version with its licence), served with caching and ``nosniff``."""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

MAX_AGE_SECONDS = 3600


class StaticAssets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
