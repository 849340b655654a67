"""Server events the monitor acts on, parsed once into small types.

Only the handful of event types the monitor uses are parsed past their ``type``: a live call
streams many deltas a second, and the per-event path must stay lean (see ``bench/``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from switchboard.agent_tools import KEYS
from switchboard.realtime.mcp import (
    PROGRESS_TYPES,
    McpItem,
    McpProgress,
    parse_item,
    parse_progress,
)
from switchboard.usage import Usage


@dataclass(frozen=True, slots=True)
class CallerTranscript:
    """What the caller said, once transcription of a turn completes."""

    text: str


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The caller started speaking (server VAD): the call is not silent."""


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """The agent started a response: silence does not count while it speaks."""


@dataclass(frozen=True, slots=True)
class AgentTranscript:
    """What the agent said in one response."""

    response_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A tool call the model made, complete with its arguments."""

    call_id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as an object; the model may produce bad JSON, which reads as none."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """A response finished: its usage and any tool calls in its output."""

    response_id: str
    status: str
    usage: Usage
    function_calls: tuple[FunctionCall, ...]


@dataclass(frozen=True, slots=True)
class AudioStopped:
    """The caller has heard the whole of a response."""

    response_id: str


@dataclass(frozen=True, slots=True)
class Keypress:
    """The caller pressed a key (SIP only: ``input_audio_buffer.dtmf_event_received``)."""

    key: str


@dataclass(frozen=True, slots=True)
class ServerError:
    """The service reported an error on the socket (the session stays up)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that is not a well-formed event: logged, never fatal to the call."""

    reason: str


ServerEvent = (
    CallerTranscript
    | SpeechStarted
    | ResponseStarted
    | AgentTranscript
    | ResponseDone
    | AudioStopped
    | Keypress
    | ServerError
    | Malformed
    | McpItem
    | McpProgress
)


def parse_event(raw: str | bytes) -> ServerEvent | None:
    """Parse one WebSocket message; ``None`` for the (many) event types the monitor ignores."""
    try:
        data = _loads(raw)
    except ValueError:
        return Malformed("not JSON")
    if not isinstance(data, dict):
        return Malformed("not a JSON object")
    parser = _PARSERS.get(data.get("type"))  # type: ignore[arg-type]
    if parser is None:
        return None
    try:
        return parser(data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return Malformed(f"bad {data['type']}: {type(error).__name__} {error}")


_DECODER = json.JSONDecoder()


def _loads(raw: str | bytes) -> Any:
    """``json.loads``, going straight to the C scanner for the usual ``{...}`` text.

    This is the monitor's per-event path; anything else (bytes, surrounding whitespace, errors)
    goes through ``loads`` itself.
    """
    if isinstance(raw, str) and raw[:1] == "{":
        with contextlib.suppress(ValueError):
            data, end = _DECODER.raw_decode(raw)
            if end == len(raw):
                return data
    return json.loads(raw)


def _response_done(data: dict[str, Any]) -> ResponseDone:
    response = data["response"]
    calls = tuple(
        FunctionCall(item["call_id"], item["name"], item.get("arguments") or "")
        for item in response.get("output") or ()
        if item.get("type") == "function_call"
    )
    return ResponseDone(
        response_id=response.get("id") or "",
        status=response.get("status") or "",
        usage=Usage.from_response(response.get("usage")),
        function_calls=calls,
    )


def _keypress(data: dict[str, Any]) -> Keypress:
    key = data["event"]
    if not isinstance(key, str) or len(key) != 1 or key not in KEYS:
        raise ValueError("not a keypad key")
    return Keypress(key)


def _error(data: dict[str, Any]) -> ServerError:
    error = data.get("error") or {}
    return ServerError(str(error.get("code") or error.get("type") or ""), str(error.get("message")))


_PARSERS: dict[str, Callable[[dict[str, Any]], ServerEvent | None]] = {
    "conversation.item.input_audio_transcription.completed": (
        lambda d: CallerTranscript(str(d["transcript"]))
    ),
    "input_audio_buffer.speech_started": lambda d: SpeechStarted(),
    "response.output_audio_transcript.done": (
        lambda d: AgentTranscript(str(d["response_id"]), str(d["transcript"]))
    ),
    "response.created": lambda d: ResponseStarted(),
    "response.done": _response_done,
    "output_audio_buffer.stopped": lambda d: AudioStopped(str(d["response_id"])),
    "input_audio_buffer.dtmf_event_received": _keypress,
    "error": _error,
    "conversation.item.added": parse_item,
    "conversation.item.done": parse_item,
    **dict.fromkeys(PROGRESS_TYPES, parse_progress),
}
