"""The app served on one loopback port, as ``func start`` serves it.

One aiohttp server answers the app's HTTP functions under ``/api/``, the Durable HTTP management
API under ``/runtime/webhooks/durabletask/``, ``GET /admin/host/status``, and
``POST /admin/functions/<name>`` (run a non-HTTP function now, as Core Tools allows for timers).
Orchestrations, activities and entities run in :class:`DurableTestHost` (the same host the tests
use); timer functions fire on their schedules.

Keys, as in Azure: an ``anonymous`` function is open; a ``function`` one needs the function key or
the master key, an ``admin`` one, the Durable API and ``/admin/functions`` need the master key.
A key is sent as ``?code=<key>`` or in the ``x-functions-key`` header; a request without a valid
one gets 401.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from azure.functions.decorators.function_app import Function

from .durable_api import create_api
from .durable_host import DurableTestHost
from .executions import logged, trigger_type
from .functions import call_timer
from .http_front import ROUTE_PREFIX, HttpFront
from .loopback import serve_on_loopback
from .timers import Schedule, run_timer

logger = logging.getLogger("devhost")

DURABLE_PREFIX = "/runtime/webhooks/durabletask/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Keys:
    """The keys requests are checked against (without keys nothing is checked, as in func start)."""

    function: str
    master: str

    def allows(self, request: web.Request, level: str) -> bool:
        """Whether ``request`` carries a key good enough for auth level ``level``."""
        if level == "anonymous":
            return True
        sent = request.query.get("code") or request.headers.get("x-functions-key") or ""
        accepted = [self.master] if level == "admin" else [self.function, self.master]
        return any(hmac.compare_digest(sent.encode(), key.encode()) for key in accepted)


class DevHost:
    """Serves ``functions`` on 127.0.0.1:``port`` (0: a free port) until the context exits."""

    def __init__(
        self,
        functions: Sequence[Function],
        *,
        port: int,
        keys: Keys | None,
        task_hub: str = "TestHubName",
    ) -> None:
        """Wrap the functions for execution logs, read the timer schedules; nothing runs yet."""
        self.functions = logged(functions)
        self.host = DurableTestHost(self.functions, task_hub=task_hub, raise_on_problems=False)
        self.front = HttpFront(self.host, self.functions)
        self.keys = keys
        self.port = port
        self.base_url = ""
        self._schedules = {
            function.get_function_name() or "?": Schedule.parse(
                _binding(function, "timerTrigger")["schedule"]
            )
            for function in self.functions
            if trigger_type(function) == "timerTrigger"
        }
        self._runner: web.AppRunner | None = None
        self._timers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        """Start the Durable host, bind the port, start the timers."""
        app = create_api(self.host)  # the management API, on the public port as in Azure
        app.middlewares.append(self._check_key)
        app.router.add_route("*", ROUTE_PREFIX + "{tail:.*}", self.front.handle)
        app.router.add_get("/admin/host/status", self._host_status)
        app.router.add_post("/admin/functions/{name}", self._run_function)
        await self.host.__aenter__()
        try:
            self._runner, self.base_url = await serve_on_loopback(app, self.port)
        except BaseException:
            await self.host.__aexit__(None, None, None)
            raise
        for name, schedule in self._schedules.items():
            self._timers.append(asyncio.create_task(run_timer(self.host, name, schedule)))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the timers, the server and the Durable host (running instances are dropped)."""
        for task in self._timers:
            task.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.host.__aexit__(exc_type, exc, tb)

    def function_lines(self) -> list[str]:
        """The function list ``func start`` prints: HTTP routes first, then the other triggers."""
        http, other = [], []
        for function in self.functions:
            name = function.get_function_name()
            kind = trigger_type(function)
            if kind == "httpTrigger":
                binding = _binding(function, kind)
                methods = ",".join(m.upper() for m in binding.get("methods") or ["GET", "POST"])
                url = f"{self.base_url}{ROUTE_PREFIX}{binding['route']}"
                http.append(f"{name}: [{methods}] {url}  ({self.front.auth_levels[str(name)]})")
            else:
                other.append(f"{name}: {kind}")
        return http + other

    @web.middleware
    async def _check_key(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        level = self._auth_level(request)
        if self.keys is not None and not self.keys.allows(request, level):
            logger.warning("401 for %s %s: no valid key", request.method, request.path)
            return web.Response(status=401)
        return await handler(request)

    def _auth_level(self, request: web.Request) -> str:
        path = request.path
        if path.startswith(ROUTE_PREFIX):
            found = self.front.route(request.method, path.removeprefix(ROUTE_PREFIX))
            # An unknown route is 404 whatever the key; let the handler say so.
            return "anonymous" if found is None else self.front.auth_levels[found[0]]
        if path == "/admin/host/status":
            return "anonymous"
        return "admin"  # the Durable API and the admin API

    async def _host_status(self, request: web.Request) -> web.Response:
        return web.json_response({"state": "Running", "processUptime": 0})

    async def _run_function(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        function = self.host.functions.get(name)
        if function is None or trigger_type(function) != "timerTrigger":
            return web.json_response({"error": f"no timer function named {name!r}"}, status=404)
        await call_timer(self.host, name)
        return web.Response(status=202)


def _binding(function: Function, kind: str) -> dict[str, Any]:
    bindings = json.loads(function.get_function_json())["bindings"]
    found: dict[str, Any] = next(b for b in bindings if b["type"] == kind)
    return found
