"""Sample business endpoints the sample agent's HTTP tools call locally (not part of the service).

``/samples/order-status`` answers the ``order_status`` tool of ``agents/front_desk.toml``: GET
``?order_number=`` or POST ``{"order_number": ...}``. It keeps every request it got, so a test
can check that a tool call reached it exactly once, with what arguments.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

ORDER_NUMBER = re.compile(r"[A-Za-z0-9-]{1,20}\Z")
ORDERS: dict[str, dict[str, Any]] = {
    "A-1042": {"status": "shipped", "carrier": "DHL", "expected_delivery": "2026-12-03"},
    "1234": {"status": "being packed", "expected_delivery": "2026-12-08"},
}


class OrderStatusSample:
    """The order-status sample endpoint and the requests it received."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        """Each request: ``method``, ``query``, ``body`` (parsed JSON or None), ``status``."""

    async def order_status(self, request: web.Request) -> web.Response:
        """Look an order up; 400 for a malformed request, ``found: false`` for an unknown one."""
        body: Any = None
        if request.method == "POST":
            try:
                body = json.loads(await request.read() or b"null")
            except ValueError:
                body = None
            number = body.get("order_number") if isinstance(body, dict) else None
        else:
            number = request.query.get("order_number")
        entry = {"method": request.method, "query": dict(request.query), "body": body}
        self.requests.append(entry)
        if request.method not in {"GET", "POST"}:
            entry["status"] = 405
            return web.json_response({"error": "use GET or POST"}, status=405)
        if not isinstance(number, str) or not ORDER_NUMBER.match(number):
            entry["status"] = 400
            return web.json_response({"error": "order_number is required"}, status=400)
        entry["status"] = 200
        order = ORDERS.get(number.upper())
        if order is None:
            return web.json_response({"order_number": number, "found": False})
        return web.json_response({"order_number": number, "found": True, **order})
