"""A small business endpoint on loopback for HTTP tool tests: it records what it got."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Endpoint:
    """Serves ``/ok`` (echo), ``/slow`` (waits ``delay``), ``/big``, ``/text``, ``/fail``."""

    url: str = ""
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append(
            {
                "path": request.path,
                "method": request.method,
                "query": dict(request.query),
                "body": json.loads(raw) if raw else None,
                "headers": dict(request.headers),
            }
        )
        kind = request.match_info["kind"]
        if kind == "slow":
            await asyncio.sleep(self.delay)
        if kind == "big":
            return web.json_response({"blob": "x" * 70_000})
        if kind == "stream":  # no Content-Length: the cap must hold while reading
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            for _ in range(10):
                await response.write(b" " * 10_000)
            await response.write(b"{}")
            return response
        if kind == "text":
            return web.Response(text="<html>hello</html>")
        if kind == "fail":
            return web.json_response({"error": "down"}, status=503)
        return web.json_response({"echo": json.loads(raw) if raw else dict(request.query)})


@asynccontextmanager
async def endpoint() -> AsyncIterator[Endpoint]:
    """An :class:`Endpoint` on an ephemeral loopback port."""
    served = Endpoint()
    app = web.Application()
    app.router.add_route("*", "/{kind}", served.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}"
    try:
        yield served
    finally:
        await runner.cleanup()
