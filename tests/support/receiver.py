"""A business's webhook receiver on loopback: verifies Standard Webhooks and de-duplicates.

Verification uses the independent ``standardwebhooks`` package, so the app's signing is checked
by someone else's implementation. ``fail_next`` makes the next deliveries answer 500.
"""

from __future__ import annotations

import asyncio
import json
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook

from devhost.loopback import serve_on_loopback

SECRET = "whsec_" + "dGVzdC1jYWxsLWV2ZW50cy1zZWNyZXQtMDEyMzQ1Njc4OQ=="


@dataclass
class Receiver:
    """Every attempt it saw (verified or not) and each event once, by ``webhook-id``."""

    secret: str = SECRET
    fail_next: int = 0
    delay_seconds: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/events", self._receive)
        self._runner, origin = await serve_on_loopback(app)
        self.url = f"{origin}/events"
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay_seconds)
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except Exception:
            verified = False
        self.attempts.append({"id": headers.get("webhook-id"), "verified": verified})
        if not verified:
            return web.Response(status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500)
        self.events.setdefault(headers["webhook-id"], json.loads(body))  # a repeat is dropped
        return web.Response(status=204)


def closed_port_url() -> str:
    """A loopback URL where nothing listens (the receiver is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/events"
