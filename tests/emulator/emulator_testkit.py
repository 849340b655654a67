"""Test helpers for the emulator: SDK validation of server events and a minimal stand-in app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web
from openai import APIStatusError, AsyncOpenAI
from openai.types.realtime import RealtimeServerEvent
from pydantic import BaseModel, TypeAdapter

SECRET = (
    "whsec_" + "dGVzdC1zZWNyZXQtZm9yLXRoZS1lbXVsYXRvcg=="
)  # base64("test-secret-for-the-emulator")
API_KEY = "test-key"

_SERVER_EVENT: TypeAdapter[RealtimeServerEvent] = TypeAdapter(RealtimeServerEvent)
# The service's session object carries these beyond the SDK's RealtimeSessionCreateRequest.
_ALLOWED_EXTRAS = {"session": {"id", "object", "expires_at"}}

TOOLS = [
    {
        "type": "function",
        "name": "transfer_call",
        "description": "Transfer the caller to a human.",
        "parameters": {"type": "object", "properties": {"department": {"type": "string"}}},
    },
    {
        "type": "function",
        "name": "end_call",
        "description": "End the call.",
        "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}},
    },
    {
        "type": "function",
        "name": "order_status",
        "description": "Look up an order.",
        "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}},
    },
]

MCP_TOOL = {
    "type": "mcp",
    "server_label": "orders",
    "server_url": "https://mcp.example.com/orders",
    "allowed_tools": ["order_status", "cancel_order"],
    "require_approval": {"never": {"tool_names": ["order_status"]}},
    "headers": {"Authorization": "Bearer not-a-real-token"},
}
"""The MCP server the `mcp` scenario's model calls (a FakeApp declares it with ``mcp=True``)."""


def _extras(model: BaseModel, path: str) -> list[str]:
    """Fields the SDK model does not declare (a typo'd field would validate otherwise)."""
    allowed = _ALLOWED_EXTRAS.get(path.rsplit(".", 1)[-1], set())
    found = [f"{path}.{key}" for key in (model.model_extra or {}) if key not in allowed]
    for name in type(model).model_fields:
        value = getattr(model, name)
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, BaseModel):
                found.extend(
                    _extras(
                        item, f"{path}.{name}" + (f"[{index}]" if isinstance(value, list) else "")
                    )
                )
    return found


def assert_server_events(payloads: Iterable[Mapping[str, Any]]) -> int:
    """Assert every payload validates as the SDK's RealtimeServerEvent, with no unknown fields."""
    count = 0
    for payload in payloads:
        model = _SERVER_EVENT.validate_python(payload)
        assert isinstance(model, BaseModel)
        assert model.type == payload["type"]
        assert _extras(model, "event") == [], (payload["type"], _extras(model, "event"))
        count += 1
    return count


def sent_events(view: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every event the emulator sent on the call, from its timeline."""
    return [entry["payload"] for entry in view["timeline"] if entry["kind"] == "event_sent"]


@dataclass
class CallLog:
    """What the fake app saw of one call."""

    call_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    reattach_status: int | None = None
    accept_error: int | None = None


class FakeApp:
    """Plays the app's part minimally: verify webhook, dedupe, accept, greet, handle tools.

    Answers webhooks at once and handles the call in a background task, like the real app.
    """

    def __init__(
        self,
        base_url: str,
        *,
        answer: Literal["accept", "reject", "ignore"] = "accept",
        auth: Literal["api-key", "bearer"] = "api-key",
        mcp: bool = False,
    ) -> None:
        self.base_url = base_url
        self.mcp = mcp
        self.approve = True
        """How the app answers MCP approval requests."""
        self._approved: set[str] = set()
        self.answer = answer
        self.auth = auth
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        self.webhook_statuses: list[int] = []
        self.calls: dict[str, CallLog] = {}
        self._seen_webhooks: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._http = aiohttp.ClientSession()
        self.sdk = AsyncOpenAI(
            base_url=base_url + "/openai/v1/", api_key=API_KEY, webhook_secret=SECRET
        )
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/calls/incoming", self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/api/calls/incoming"

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.close()
        await self.sdk.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.deliveries.append((body, headers))
        try:
            event = self.sdk.webhooks.unwrap(body, headers)
        except ValueError:
            self.webhook_statuses.append(400)
            return web.Response(status=400)
        self.webhook_statuses.append(200)
        webhook_id = request.headers["webhook-id"]
        if webhook_id in self._seen_webhooks or self.answer == "ignore":
            return web.Response(status=200)
        self._seen_webhooks.add(webhook_id)
        assert event.type == "realtime.call.incoming"
        call_id = event.data.call_id
        self.calls[call_id] = CallLog(call_id)
        task = asyncio.get_running_loop().create_task(self._handle(self.calls[call_id]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=200)

    async def _handle(self, log: CallLog) -> None:
        if self.answer == "reject":
            await self.sdk.realtime.calls.reject(log.call_id, status_code=486)
            return
        try:
            await self.sdk.realtime.calls.accept(
                log.call_id,
                type="realtime",
                model="gpt-realtime",
                instructions="You are the Contoso receptionist.",
                tools=[*TOOLS, *([MCP_TOOL] if self.mcp else [])],  # type: ignore[list-item]
            )
        except APIStatusError as exc:
            log.accept_error = exc.status_code
            return
        while await self._run_socket(log):
            pass

    def _headers(self) -> dict[str, str]:
        if self.auth == "api-key":
            return {"api-key": API_KEY}
        return {"Authorization": f"Bearer {API_KEY}"}

    async def _run_socket(self, log: CallLog) -> bool:
        """One socket's life; True if it should reconnect (the call may still be up)."""
        url = f"{self.base_url}/openai/v1/realtime?call_id={log.call_id}"
        try:
            ws = await self._http.ws_connect(url, headers=self._headers())
        except aiohttp.WSServerHandshakeError as exc:
            log.reattach_status = exc.status
            return exc.status not in (404, 410)  # a refused socket of a live call: try again
        async with ws:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(message.data)
                log.events.append(event)
                await self._on_event(log, ws, event)
        log.close_codes.append(ws.close_code)
        return True  # confirm the end by trying to reattach: an ended call answers 404

    async def _on_event(
        self, log: CallLog, ws: aiohttp.ClientWebSocketResponse, event: dict[str, Any]
    ) -> None:
        if event["type"] == "session.created":
            await ws.send_json(
                {
                    "type": "response.create",
                    "response": {
                        "instructions": 'Greet the caller: say "Thanks for calling Contoso."'
                    },
                }
            )
        elif event["type"] == "conversation.item.done" and (
            event["item"]["type"] == "mcp_approval_request"
            and event["item"]["id"] not in self._approved
        ):
            self._approved.add(event["item"]["id"])
            answer = {
                "type": "mcp_approval_response",
                "id": "appr_" + event["item"]["id"][-20:],
                "approval_request_id": event["item"]["id"],
                "approve": self.approve,
            }
            await ws.send_json({"type": "conversation.item.create", "item": answer})
            await ws.send_json({"type": "response.create"})
        elif event["type"] == "response.function_call_arguments.done":
            output = {
                "type": "function_call_output",
                "call_id": event["call_id"],
                "output": '{"ok": true}',
            }
            await ws.send_json({"type": "conversation.item.create", "item": output})
            if event["name"] == "transfer_call":
                await ws.send_json({"type": "response.create"})
                await self.sdk.realtime.calls.refer(log.call_id, target_uri="tel:+14155550199")
            elif event["name"] == "end_call":
                await self.sdk.realtime.calls.hangup(log.call_id)
            else:  # an HTTP tool: its answer, then the model speaks it
                await ws.send_json({"type": "response.create"})
