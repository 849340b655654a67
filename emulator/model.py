"""The model's side of a call: the session it runs with, and the responses it plays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import mcp
from .call import Call
from .events import JsonDict, line_from_instructions, response_events
from .scenario import ModelTurn

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
    """Deep-merge `update` into `base` like a session update: objects merge, the rest replaces.

    An object whose `type` changes (turn detection, an audio format) is replaced whole.
    """
    result = dict(base)
    for key, value in update.items():
        current = result.get(key)
        if (
            isinstance(value, dict)
            and isinstance(current, dict)
            and value.get("type", current.get("type")) == current.get("type")
        ):
            result[key] = merge(current, value)
        else:
            result[key] = value
    return result


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
    first: mcp.ItemEvents | None = None
    if turn is None:
        spoken, tool = line_from_instructions(instructions), None
    else:
        if turn.next_reply is not None:
            call.next_turns.append(ModelTurn(reply=turn.next_reply))
        spoken, tool = turn.reply, turn.tool
        if tool is not None and mcp.target(tool) is not None:
            first, asks = mcp.item_events(call, session, turn)
            spoken, tool = (None if asks else spoken), None
        elif tool is not None and tool.name not in declared_tools(session):
            call.record(
                "warning", message=f"model cannot call undeclared tool {tool.name!r}; skipped"
            )
            tool = None
        if spoken is None and tool is None and first is None:
            spoken = ACKNOWLEDGEMENT
    call.responding = True
    try:
        for payload in response_events(
            session=session,
            conversation_id=call.conversation_id,
            spoken=spoken,
            tool=tool,
            input_text=input_text,
            first=first,
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
