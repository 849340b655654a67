"""A throwaway aiohttp server on loopback for one test: routes in, base URL out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from devhost.loopback import serve_on_loopback


@contextlib.asynccontextmanager
async def served(*routes: web.RouteDef) -> AsyncIterator[str]:
    """Serve ``routes`` on 127.0.0.1 (a free port) while the block runs; yields the base URL."""
    app = web.Application()
    app.add_routes(routes)
    runner, origin = await serve_on_loopback(app)
    try:
        yield origin
    finally:
        await runner.cleanup()
