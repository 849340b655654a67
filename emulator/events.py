"""Builders for Realtime API server events, as plain JSON dicts in the current (GA) shapes.

The emulator deliberately does not build events from the SDK's models: the test suite
validates every event sent against `openai.types.realtime.RealtimeServerEvent`, which would be
a tautology if the models had produced them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

from .scenario import ToolCall

JsonDict = dict[str, Any]

DEFAULT_REPLY = "Hello, thanks for calling. How can I help you today?"
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|'([^']{2,})'")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def new_id(prefix: str, nbytes: int = 12) -> str:
    """Return an id shaped like the real service's, e.g. ``rtc_`` + hex."""
    return prefix + secrets.token_hex(nbytes)


def event(type_: str, **fields: Any) -> JsonDict:
    """Return a server event with a fresh `event_id`."""
    return {"type": type_, "event_id": new_id("event_"), **fields}


def line_from_instructions(instructions: str | None) -> str:
    """Pick what the model "says" for a response that has no scripted reply.

    The rule: the first quoted text in `response.instructions` (e.g. `Say "Welcome to Contoso"`),
    else its first sentence, else a generic greeting.
    """
    if not instructions or not instructions.strip():
        return DEFAULT_REPLY
    quoted = _QUOTED.search(instructions)
    if quoted:
        return next(group for group in quoted.groups() if group)
    return _SENTENCE_END.split(instructions.strip(), maxsplit=1)[0][:200]


def session_object(config: Mapping[str, Any], session_id: str) -> JsonDict:
    """The session resource sent in `session.created` / `session.updated`."""
    return {
        **config,
        "id": session_id,
        "object": "realtime.session",
        "expires_at": int(time.time()) + 3600,
    }


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.3))


def usage(*, input_text: str, output_text: str, audio: bool) -> JsonDict:
    """A plausible `usage` block: a word-count estimate, split like the real service's."""
    text_in = _tokens(input_text) + 120  # instructions and tools
    audio_in = 40 if audio else 0
    out = _tokens(output_text)
    audio_out = out * 4 if audio else 0
    text_out = out
    cached = 64
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def _chunks(text: str, size: int = 3) -> list[str]:
    """Split text into word-group deltas that concatenate back to the text."""
    words = re.findall(r"\S+\s*", text)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)] or [text]


def response_events(
    *,
    session: Mapping[str, Any],
    conversation_id: str,
    spoken: str | None,
    tool: ToolCall | None,
    input_text: str,
    first: Callable[[str, int], Generator[JsonDict, None, JsonDict]] | None = None,
) -> Iterator[JsonDict]:
    """Yield a full response sequence: optional spoken message, then optional function call.

    ``first`` plays an output item before the message (an MCP call, whose result the model
    then speaks).

    With audio output the sequence follows a SIP session: transcript deltas instead of audio
    deltas, `output_audio_buffer.started` after the content part, `.stopped` after `response.done`.
    """
    response_id = new_id("resp_")
    audio = "text" not in (session.get("output_modalities") or ["audio"])
    output_audio = (session.get("audio") or {}).get("output") or {}
    base: JsonDict = {
        "object": "realtime.response",
        "id": response_id,
        "conversation_id": conversation_id,
        "output_modalities": ["audio"] if audio else ["text"],
        "max_output_tokens": session.get("max_output_tokens", "inf"),
        "audio": {
            "output": {"format": output_audio.get("format"), "voice": output_audio.get("voice")}
        },
        "metadata": None,
    }
    yield event(
        "response.created",
        response={
            **base,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "usage": None,
        },
    )
    yield rate_limits_event()
    output: list[JsonDict] = []
    if first is not None:
        output.append((yield from first(response_id, 0)))
    if spoken is not None:
        item = yield from _message_events(response_id, len(output), spoken, audio=audio)
        output.append(item)
    if tool is not None:
        item = yield from _function_call_events(response_id, len(output), tool)
        output.append(item)
    done_usage = usage(input_text=input_text, output_text=spoken or "", audio=audio)
    yield event(
        "response.done",
        response={
            **base,
            "status": "completed",
            "status_details": None,
            "output": output,
            "usage": done_usage,
        },
    )
    if audio and spoken is not None:
        yield event("output_audio_buffer.stopped", response_id=response_id)


def _message_events(
    response_id: str, output_index: int, text: str, *, audio: bool
) -> Generator[JsonDict, None, JsonDict]:
    item_id = new_id("item_")
    part_type, content_type = ("audio", "output_audio") if audio else ("text", "output_text")
    text_key = "transcript" if audio else "text"
    delta_type = "response.output_audio_transcript.delta" if audio else "response.output_text.delta"
    done_type = "response.output_audio_transcript.done" if audio else "response.output_text.done"
    item: JsonDict = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    where = {"response_id": response_id, "item_id": item_id, "output_index": output_index}
    yield event(
        "response.output_item.added", response_id=response_id, output_index=output_index, item=item
    )
    yield event("conversation.item.added", previous_item_id=None, item=item)
    yield event(
        "response.content_part.added",
        **where,
        content_index=0,
        part={"type": part_type, text_key: ""},
    )
    if audio:
        yield event("output_audio_buffer.started", response_id=response_id)
    for delta in _chunks(text):
        yield event(delta_type, **where, content_index=0, delta=delta)
    yield event(done_type, **where, content_index=0, **{text_key: text})
    yield event(
        "response.content_part.done",
        **where,
        content_index=0,
        part={"type": part_type, text_key: text},
    )
    done_item = {**item, "status": "completed", "content": [{"type": content_type, text_key: text}]}
    yield from _item_done(response_id, output_index, done_item)
    return done_item


def _item_done(response_id: str, output_index: int, item: JsonDict) -> Iterator[JsonDict]:
    """The two events that close an output item: the response's, then the conversation's."""
    yield event(
        "response.output_item.done", response_id=response_id, output_index=output_index, item=item
    )
    yield event("conversation.item.done", previous_item_id=None, item=item)


def _function_call_events(
    response_id: str, output_index: int, tool: ToolCall
) -> Generator[JsonDict, None, JsonDict]:
    item_id = new_id("item_")
    call_id = new_id("call_")
    arguments = tool.arguments_json
    item: JsonDict = {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": tool.name,
        "call_id": call_id,
        "arguments": "",
    }
    where = {"response_id": response_id, "item_id": item_id, "output_index": output_index}
    yield event(
        "response.output_item.added", response_id=response_id, output_index=output_index, item=item
    )
    yield event("conversation.item.added", previous_item_id=None, item=item)
    half = len(arguments) // 2
    for delta in (arguments[:half], arguments[half:]):
        yield event("response.function_call_arguments.delta", **where, call_id=call_id, delta=delta)
    yield event(
        "response.function_call_arguments.done",
        **where,
        call_id=call_id,
        name=tool.name,
        arguments=arguments,
    )
    done_item = {**item, "status": "completed", "arguments": arguments}
    yield from _item_done(response_id, output_index, done_item)
    return done_item


def caller_speech_events(text: str, *, start_ms: int) -> Iterator[JsonDict]:
    """Yield what server VAD and input transcription emit for one caller utterance."""
    item_id = new_id("item_")
    end_ms = start_ms + 300 * max(1, len(text.split()))
    yield event("input_audio_buffer.speech_started", audio_start_ms=start_ms, item_id=item_id)
    yield event("input_audio_buffer.speech_stopped", audio_end_ms=end_ms, item_id=item_id)
    yield event("input_audio_buffer.committed", previous_item_id=None, item_id=item_id)
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    yield event("conversation.item.added", previous_item_id=None, item=item)
    yield event(
        "conversation.item.input_audio_transcription.completed",
        item_id=item_id,
        content_index=0,
        transcript=text,
        usage={"type": "duration", "seconds": round((end_ms - start_ms) / 1000, 3)},
    )


RATE_LIMITS: tuple[tuple[str, int, float], ...] = (
    ("requests", 5000, 0.012),
    ("tokens", 400000, 0.9),
)
"""(name, limit, reset_seconds) of the limits `rate_limits.updated` reports; fictional values."""
RESERVED_OUTPUT_TOKENS = 4096
"""Tokens a response reserves at its start, shown in `rate_limits.updated`."""


def rate_limits_event() -> JsonDict:
    """`rate_limits.updated`, which the service sends at the start of every response."""
    return event(
        "rate_limits.updated",
        rate_limits=[
            {
                "name": name,
                "limit": limit,
                "remaining": limit - (1 if name == "requests" else RESERVED_OUTPUT_TOKENS),
                "reset_seconds": reset,
            }
            for name, limit, reset in RATE_LIMITS
        ],
    )


def keypad_event(key: str) -> JsonDict:
    """`input_audio_buffer.dtmf_event_received` (SIP only), in its documented shape.

    The SDK model and the API reference give it no `event_id`, so none is sent.
    """
    return {
        "type": "input_audio_buffer.dtmf_event_received",
        "event": key,
        "received_at": int(time.time()),
    }


def error_event(
    message: str, *, code: str, param: str | None = None, client_event_id: str | None = None
) -> JsonDict:
    """An `error` server event, as the service sends for a bad client event."""
    return event(
        "error",
        error={
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    )
