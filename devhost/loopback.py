"""Serving an aiohttp app on a loopback port: the host's HTTP endpoints."""

from __future__ import annotations

import socket

from aiohttp import web


async def serve_on_loopback(app: web.Application, port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on 127.0.0.1 at ``port`` (0: a free one); the runner and the origin URL.

    Binding happens first, so a port in use raises ``OSError`` before anything is started.
    """
    sock = socket.socket()
    if port:
        # A fixed port must be reusable right after a previous run's sockets (TIME_WAIT).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"
