"""The call's realtime channel: the WebSocket and the client events it carries."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from functools import cache
from typing import get_args

from aiohttp import WSMsgType, web
from openai.types.realtime import RealtimeClientEvent
from pydantic import BaseModel, ValidationError

from . import faults, mcp
from .call import Call, Socket
from .events import JsonDict, error_event, event, new_id, session_object
from .model import DEFAULT_SESSION as DEFAULT_SESSION  # still imported from here by bench/
from .model import merge, respond
from .session_rules import Refusal, from_validation, update_refusal

logger = logging.getLogger(__name__)

AUTH_KIND = web.RequestKey("auth_kind", str)
"""How the request authenticated ("api-key", "bearer" or "none"); set by the middleware."""

MIN_COMMIT_MS = 100.0
"""The least audio `input_audio_buffer.commit` takes, as the service's error says."""
_BYTES_PER_MS = {"audio/pcmu": 8, "audio/pcma": 8, "audio/pcm": 48}
"""G.711 is 8 kHz, one byte a sample; PCM is 24 kHz, 16-bit."""


@cache
def _client_event_models() -> dict[str, type[BaseModel]]:
    """Client event models by `type`, so a bad event is reported against its own schema."""
    union = get_args(RealtimeClientEvent)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in get_args(union):
        (type_name,) = get_args(model.model_fields["type"].annotation)
        models[type_name] = model
    return models


Handler = Callable[[Call, Socket, JsonDict], Awaitable[None]]


async def _session_update(call: Call, socket: Socket, payload: JsonDict) -> None:
    current = call.session or DEFAULT_SESSION
    refusal = update_refusal(current, payload["session"], audio_played=call.audio_played)
    if refusal is not None:
        await _refuse(call, socket, refusal, payload)
        return
    call.session = merge(current, payload["session"])
    await call.broadcast(
        event("session.updated", session=session_object(call.session, call.session_id))
    )


async def _response_create(call: Call, socket: Socket, payload: JsonDict) -> None:
    if call.responding:
        await _error(
            call,
            socket,
            "Conversation already has an active response in progress.",
            "conversation_already_has_active_response",
            None,
            payload,
        )
        return
    params: JsonDict = payload.get("response") or {}
    turn = call.next_turns.popleft() if call.next_turns else None
    overrides = {
        k: params[k] for k in ("output_modalities", "audio", "tools") if params.get(k) is not None
    }
    await respond(call, turn, instructions=params.get("instructions"), overrides=overrides)


async def _item_create(call: Call, socket: Socket, payload: JsonDict) -> None:
    item: JsonDict = {"id": new_id("item_"), **payload["item"]}
    if not item["type"].startswith("mcp_"):  # MCP items carry neither (the SDK's item models)
        item.update({"object": "realtime.item", "status": "completed"})
    if item["type"] == "mcp_approval_response":
        mcp.answered(call, item)
        await call.notify()
    if item["type"] == "function_call_output":
        call.counters.tool_output += 1
        if item["call_id"] not in call.tool_calls:
            call.record(
                "warning", message=f"function_call_output for unknown call_id {item['call_id']!r}"
            )
        await call.notify()
    previous = payload.get("previous_item_id")
    await call.broadcast(event("conversation.item.added", previous_item_id=previous, item=item))
    await call.broadcast(event("conversation.item.done", previous_item_id=previous, item=item))


async def _item_retrieve(call: Call, socket: Socket, payload: JsonDict) -> None:
    item_id = payload["item_id"]
    item = call.items.get(item_id)
    if item is None:
        message = f"Error retrieving item: the item with id '{item_id}' does not exist."
        await _error(call, socket, message, "item_retrieve_invalid_item_id", None, payload)
        return
    await call.send_to([socket], event("conversation.item.retrieved", item=item))


async def _audio_append(call: Call, socket: Socket, payload: JsonDict) -> None:
    try:
        audio = base64.b64decode(payload["audio"], validate=True)
    except (binascii.Error, ValueError):
        message = "Invalid 'audio': expected base64-encoded audio."
        await _error(call, socket, message, "invalid_value", "audio", payload)
        return
    call.input_audio_bytes += len(audio)


async def _audio_commit(call: Call, socket: Socket, payload: JsonDict) -> None:
    audio_format = (call.session or DEFAULT_SESSION)["audio"]["input"].get("format") or {}
    buffered_ms = call.input_audio_bytes / _BYTES_PER_MS.get(str(audio_format.get("type")), 8)
    if buffered_ms < MIN_COMMIT_MS:
        message = (
            "Error committing input audio buffer: buffer too small. Expected at least "
            f"{MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio."
        )
        await _error(call, socket, message, "input_audio_buffer_commit_empty", None, payload)
        return
    call.input_audio_bytes = 0
    item_id = new_id("item_")
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    await call.broadcast(
        event("input_audio_buffer.committed", previous_item_id=None, item_id=item_id)
    )
    await call.broadcast(event("conversation.item.added", previous_item_id=None, item=item))
    await call.broadcast(event("conversation.item.done", previous_item_id=None, item=item))


async def _response_cancel(call: Call, socket: Socket, payload: JsonDict) -> None:
    # Responses are played out without yielding to the reader, so none is ever cancellable.
    await _error(
        call,
        socket,
        "Cancellation failed: no active response found",
        "response_cancel_not_active",
        None,
        payload,
    )


async def _output_audio_clear(call: Call, socket: Socket, payload: JsonDict) -> None:
    if call.last_response_id is not None:
        await call.broadcast(
            event("output_audio_buffer.cleared", response_id=call.last_response_id)
        )


async def _input_audio_clear(call: Call, socket: Socket, payload: JsonDict) -> None:
    call.input_audio_bytes = 0
    await call.broadcast(event("input_audio_buffer.cleared"))


async def _ignore(call: Call, socket: Socket, payload: JsonDict) -> None:
    """Valid but meaningless here (SIP audio does not come over the socket): recorded only."""


HANDLERS: dict[str, Handler] = {
    "session.update": _session_update,
    "response.create": _response_create,
    "conversation.item.create": _item_create,
    "conversation.item.retrieve": _item_retrieve,
    "input_audio_buffer.append": _audio_append,
    "input_audio_buffer.commit": _audio_commit,
    "response.cancel": _response_cancel,
    "output_audio_buffer.clear": _output_audio_clear,
    "input_audio_buffer.clear": _input_audio_clear,
}


async def _refuse(call: Call, socket: Socket, refusal: Refusal, payload: JsonDict | None) -> None:
    await _error(call, socket, refusal.message, refusal.code, refusal.param, payload)


async def _error(
    call: Call, socket: Socket, message: str, code: str, param: str | None, payload: JsonDict | None
) -> None:
    client_event_id = payload.get("event_id") if payload else None
    await call.send_to(
        [socket],
        error_event(
            message,
            code=code,
            param=param,
            client_event_id=client_event_id if isinstance(client_event_id, str) else None,
        ),
    )


async def handle_client_message(call: Call, socket: Socket, raw: str) -> None:
    """Parse, validate against the SDK's client-event models, and dispatch one client event."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        call.record("event_received", socket=socket.socket_id, type=None, payload=raw[:2000])
        await _error(call, socket, "The message is not valid JSON.", "invalid_json", None, None)
        return
    type_ = payload.get("type") if isinstance(payload, dict) else None
    call.record("event_received", socket=socket.socket_id, type=type_, payload=payload)
    model = _client_event_models().get(type_) if isinstance(type_, str) else None
    if model is None or not isinstance(type_, str):
        await _error(
            call, socket, f"Invalid event type {type_!r}.", "invalid_event_type", "type", None
        )
        return
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        await _refuse(call, socket, from_validation(exc), payload)
        return
    if not await faults.on_client_event(call, type_):
        return  # lost with its socket, or with the call
    await HANDLERS.get(type_, _ignore)(call, socket, payload)


async def serve_socket(request: web.Request, call: Call) -> web.WebSocketResponse:
    """Run one WebSocket of an accepted call until either side closes it.

    The socket only gets `session.created` before it is attached, so a script broadcast cannot
    overtake it; closing or dropping it leaves the call up.
    """
    ws = web.WebSocketResponse(timeout=1.0, max_msg_size=1024 * 1024)
    await ws.prepare(request)
    socket = Socket(new_id("ws_"), ws, request.transport)
    call.sockets_opened += 1
    call.record(
        "socket_opened", socket=socket.socket_id, path=request.path, auth=request[AUTH_KIND]
    )
    await call.send_to(
        [socket],
        event(
            "session.created",
            session=session_object(call.session or DEFAULT_SESSION, call.session_id),
        ),
    )
    call.sockets[socket.socket_id] = socket
    call.counters.connected += 1
    await call.notify()
    await mcp.list_tools_once(call)
    try:
        async for message in ws:
            if not call.live:
                break
            if message.type is WSMsgType.TEXT:
                await handle_client_message(call, socket, message.data)
            elif message.type is WSMsgType.BINARY:
                await _error(
                    call, socket, "Only text frames carry events.", "invalid_frame", None, None
                )
            else:
                break
    finally:
        call.sockets.pop(socket.socket_id, None)
        call.record("socket_closed", socket=socket.socket_id, code=ws.close_code)
        logger.info(
            "call %s: socket %s closed (code %s)", call.call_id, socket.socket_id, ws.close_code
        )
        await call.notify()
    return ws
