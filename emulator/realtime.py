"""The call's realtime channel: the WebSocket, client events, and model responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from typing import Any, get_args

from aiohttp import WSMsgType, web
from openai.types.realtime import RealtimeClientEvent, RealtimeSessionCreateRequest
from pydantic import BaseModel, TypeAdapter, ValidationError

from . import faults
from .call import Call, Socket
from .events import (
    JsonDict,
    error_event,
    event,
    line_from_instructions,
    new_id,
    response_events,
    session_object,
)
from .scenario import ModelTurn

logger = logging.getLogger(__name__)

AUTH_KIND = web.RequestKey("auth_kind", str)
"""How the request authenticated ("api-key", "bearer" or "none"); set by the middleware."""

ACKNOWLEDGEMENT = "I see. Is there anything else I can help you with?"
"""Spoken when the scenario lets the model answer but scripts no reply."""

DEFAULT_SESSION: JsonDict = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "noise_reduction": None,
            "transcription": None,
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 500,
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy", "speed": 1.0},
    },
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
}
"""What the session looks like before the accept payload is merged in (SIP audio is G.711)."""


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> JsonDict:
    """Deep-merge `update` into `base` like a session update: objects merge, the rest replaces."""
    result = dict(base)
    for key, value in update.items():
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = merge(current, value)
        else:
            result[key] = value
    return result


@cache
def _session_adapter() -> TypeAdapter[RealtimeSessionCreateRequest]:
    return TypeAdapter(RealtimeSessionCreateRequest)


@cache
def _client_event_models() -> dict[str, type[BaseModel]]:
    """Client event models by `type`, so a bad event is reported against its own schema."""
    union = get_args(RealtimeClientEvent)[0]
    models: dict[str, type[BaseModel]] = {}
    for model in get_args(union):
        (type_name,) = get_args(model.model_fields["type"].annotation)
        models[type_name] = model
    return models


def validation_problem(exc: ValidationError) -> tuple[str, str]:
    """The first error of a pydantic validation as (dotted param path, message)."""
    first = exc.errors()[0]
    # Union members show up in the path by class name (e.g. RealtimeSessionCreateRequest).
    path = [
        str(part) for part in first["loc"] if not (isinstance(part, str) and part[:1].isupper())
    ]
    return ".".join(path), first["msg"]


def session_problem(config: Mapping[str, Any]) -> tuple[str, str] | None:
    """Why `config` is not a valid realtime session (param, message), or None if it is."""
    try:
        _session_adapter().validate_python(config)
    except ValidationError as exc:
        return validation_problem(exc)
    return None


def declared_tools(session: Mapping[str, Any]) -> set[str]:
    """Names of the function tools the model may call."""
    tools = session.get("tools") or []
    return {tool["name"] for tool in tools if isinstance(tool, dict) and "name" in tool}


def auto_responds(session: Mapping[str, Any]) -> bool:
    """Whether server VAD creates a response by itself when the caller stops speaking."""
    turn_detection = ((session.get("audio") or {}).get("input") or {}).get("turn_detection")
    if not isinstance(turn_detection, dict):
        return False
    return turn_detection.get("create_response", True) is not False


async def respond(
    call: Call,
    turn: ModelTurn | None,
    *,
    instructions: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    input_text: str = "",
) -> None:
    """Play one model response to every socket of the call.

    `turn` is the scripted output; None means the client asked and nothing is scripted, so
    the model speaks a line derived from `instructions` (see `events.line_from_instructions`).
    """
    session = merge(call.session or DEFAULT_SESSION, overrides or {})
    spoken: str | None
    if turn is None:
        spoken, tool = line_from_instructions(instructions), None
    else:
        if turn.next_reply is not None:
            call.next_turns.append(ModelTurn(reply=turn.next_reply))
        spoken, tool = turn.reply, turn.tool
        if tool is not None and tool.name not in declared_tools(session):
            call.record(
                "warning", message=f"model cannot call undeclared tool {tool.name!r}; skipped"
            )
            tool = None
        if spoken is None and tool is None:
            spoken = ACKNOWLEDGEMENT
    call.responding = True
    try:
        for payload in response_events(
            session=session,
            conversation_id=call.conversation_id,
            spoken=spoken,
            tool=tool,
            input_text=input_text,
        ):
            if not call.live:
                return
            await call.broadcast(payload)
            if payload["type"] == "response.created":
                call.last_response_id = payload["response"]["id"]
            elif payload["type"] == "response.function_call_arguments.done":
                call.tool_calls[payload["call_id"]] = payload["name"]
            elif payload["type"] == "response.done":
                call.counters.response_done += 1
                call.responding = False
                await call.notify()
    finally:
        call.responding = False


Handler = Callable[[Call, Socket, JsonDict], Awaitable[None]]


async def _session_update(call: Call, socket: Socket, payload: JsonDict) -> None:
    updated = merge(call.session or DEFAULT_SESSION, payload["session"])
    problem = session_problem(updated)
    if problem is not None:
        param, message = problem
        await _error(
            call,
            socket,
            f"Invalid session: {message}",
            "invalid_value",
            f"session.{param}",
            payload,
        )
        return
    call.session = updated
    await call.broadcast(event("session.updated", session=session_object(updated, call.session_id)))


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
    item: JsonDict = {
        "id": new_id("item_"),
        **payload["item"],
        "object": "realtime.item",
        "status": "completed",
    }
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
    await call.broadcast(event("input_audio_buffer.cleared"))


async def _ignore(call: Call, socket: Socket, payload: JsonDict) -> None:
    """Valid but meaningless here (SIP audio does not come over the socket): recorded only."""


HANDLERS: dict[str, Handler] = {
    "session.update": _session_update,
    "response.create": _response_create,
    "conversation.item.create": _item_create,
    "response.cancel": _response_cancel,
    "output_audio_buffer.clear": _output_audio_clear,
    "input_audio_buffer.clear": _input_audio_clear,
}


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
        param, message = validation_problem(exc)
        await _error(
            call, socket, f"Invalid {type_} event: {message}", "invalid_value", param, payload
        )
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
