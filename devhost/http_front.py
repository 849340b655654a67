"""The HTTP side of the Functions host: routes ``/api/<route>`` to the app's HTTP functions.

It lets the emulator deliver its webhooks over real HTTP to the real ingress function: requests
become ``func.HttpRequest`` objects (raw body bytes, headers, route parameters) and are handed to
:meth:`DurableTestHost.call_http`, which binds the durable client as the worker does. Tests serve
it alone on an ephemeral port; ``devhost.server`` mounts :meth:`HttpFront.handle` beside the
Durable API and checks function keys first.
"""

from __future__ import annotations

import json
import re
from types import TracebackType
from typing import Self

import azure.functions as func
from aiohttp import web
from azure.functions.decorators.function_app import Function

from .durable_host import DurableTestHost
from .loopback import serve_on_loopback

ROUTE_PREFIX = "/api/"


class HttpFront:
    """Serves the HTTP-triggered ``functions`` through ``host`` on an ephemeral loopback port."""

    def __init__(
        self,
        host: DurableTestHost,
        functions: list[Function],
        max_body_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self._host = host
        self._max_body_bytes = max_body_bytes
        self._routes: list[tuple[re.Pattern[str], frozenset[str], str]] = []
        self.auth_levels: dict[str, str] = {}
        """Each HTTP function's ``authLevel`` (``anonymous``, ``function`` or ``admin``)."""
        for function in functions:
            name = function.get_function_name()
            assert name is not None
            for binding in json.loads(function.get_function_json())["bindings"]:
                if binding["type"] == "httpTrigger":
                    methods = frozenset(m.upper() for m in binding.get("methods") or ())
                    self._routes.append((_pattern(binding["route"]), methods, name))
                    self.auth_levels[name] = str(binding.get("authLevel", "function")).lower()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=self._max_body_bytes)
        app.router.add_route("*", ROUTE_PREFIX + "{tail:.*}", self.handle)
        self._runner, self.base_url = await serve_on_loopback(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def route(self, method: str, path: str) -> tuple[str, dict[str, str]] | None:
        """The function serving ``method`` on ``path`` (after ``/api/``) and its route params."""
        for pattern, methods, name in self._routes:
            match = pattern.fullmatch(path)
            if match and (not methods or method in methods):
                return name, match.groupdict()
        return None

    async def handle(self, request: web.Request) -> web.Response:
        """Serve ``/api/{tail}``: the matching HTTP function's response, or 404."""
        found = self.route(request.method, request.match_info["tail"])
        if found is None:
            return web.Response(status=404)
        name, route_params = found
        req = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query),
            route_params=route_params,
            body=await request.read(),
        )
        response = await self._host.call_http(name, req)
        return web.Response(
            body=response.get_body(),
            status=response.status_code,
            content_type=response.mimetype,
            headers=dict(response.headers),
        )


def _pattern(route: str) -> re.Pattern[str]:
    """``calls/{call_id}/transfer`` → a regex with a named group per route parameter."""
    parts = re.split(r"(\{[^}]+\})", route)
    regex = "".join(
        f"(?P<{part[1:-1].split(':')[0]}>[^/]+)" if part.startswith("{") else re.escape(part)
        for part in parts
    )
    return re.compile(regex)
