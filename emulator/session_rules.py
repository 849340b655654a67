"""What the service refuses in a session config (the accept body, a `session.update`), and how.

The SDK's `RealtimeSessionCreateRequest` accepts more than the service does: unknown fields
(its models allow extras), any string as a voice, any number as a speed. These rules add what the
service is documented or reported to refuse, each with the error shape the service gives:
`{"param", "code", "message"}` under `error` (REST) or in an `error` event (WebSocket, where
params start with ``session.``). Choices made where the service is undocumented are listed in
emulator/README.md ("Refusals").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, get_args

from openai.types.realtime import RealtimeSessionCreateRequest
from openai.types.realtime.realtime_audio_config_output import Voice
from pydantic import BaseModel, TypeAdapter, ValidationError

VOICES: tuple[str, ...] = next(get_args(member) for member in get_args(Voice) if get_args(member))
"""The built-in voices (the SDK's `Voice` literal); a custom voice is an object `{"id": ...}`."""
SPEED_RANGE = (0.25, 1.5)
"""`audio.output.speed` bounds, as the SDK documents them."""
SIP_AUDIO_FORMAT = "audio/pcmu"
"""The codec SIP negotiated (G.711 μ-law); the session may name it, not force another."""
VAD_DEFAULTS: Mapping[str, float] = {
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
}
"""Server VAD tuning the emulator treats as refused on SIP when it differs from the defaults."""

_FIELD = re.compile(r"[a-z_][a-z0-9_]*\Z")
_UNION_TAGS = frozenset({"int", "float", "str", "bool", "list", "dict", "none"})
_TYPE_NAMES = {
    "string": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "list": "an array",
    "dict": "an object",
    "model": "an object",
}


@dataclass(frozen=True)
class Refusal:
    """One error the service answers with: `param` (dotted path or None), `code`, `message`."""

    param: str | None
    code: str
    message: str

    def under(self, prefix: str) -> Refusal:
        """The same refusal with `param` (and its quote in the message) under `prefix`."""
        if self.param is None:
            return self
        param = f"{prefix}.{self.param}"
        return replace(
            self, param=param, message=self.message.replace(f"'{self.param}'", f"'{param}'")
        )


@cache
def _adapter() -> TypeAdapter[RealtimeSessionCreateRequest]:
    return TypeAdapter(RealtimeSessionCreateRequest)


def _param(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the service's dotted param: ``tools[0].name``."""
    param = ""
    for part in loc:
        if isinstance(part, int):
            param += f"[{part}]"
        elif _FIELD.match(part) and part not in _UNION_TAGS:
            param += f".{part}" if param else part
    return param


def _describe(value: object) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    kinds.update({list: "an array", dict: "an object", type(None): "null"})
    return kinds.get(type(value), "a value")


def from_validation(exc: ValidationError) -> Refusal:
    """The first pydantic error as the service words it (missing, wrong type, wrong value)."""
    first = exc.errors()[0]
    param = _param(first["loc"])
    kind = first["type"]
    if kind == "missing":
        return Refusal(
            param, "missing_required_parameter", f"Missing required parameter: '{param}'."
        )
    if kind == "literal_error":
        expected = (first.get("ctx") or {}).get("expected", "")
        return Refusal(
            param,
            "invalid_value",
            f"Invalid value: {first['input']!r}. Supported values are: {expected}.",
        )
    wanted = kind.split("_")[0]
    if kind.endswith(("_type", "_parsing")) and wanted in _TYPE_NAMES:
        return Refusal(
            param,
            "invalid_type",
            f"Invalid type for '{param}': expected {_TYPE_NAMES[wanted]}, "
            f"but got {_describe(first['input'])} instead.",
        )
    return Refusal(param, "invalid_value", f"Invalid '{param}': {first['msg']}.")


def _unknown(model: BaseModel, path: str) -> str | None:
    """The first field the SDK model does not declare, as a dotted param."""
    for key in model.model_extra or {}:
        return f"{path}.{key}" if path else key
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, BaseModel):
                where = f"{path}.{name}" if path else name
                where += f"[{index}]" if isinstance(value, list) else ""
                found = _unknown(item, where)
                if found is not None:
                    return found
    return None


def shape_refusal(config: Mapping[str, Any]) -> Refusal | None:
    """Why `config` is not a realtime session the service takes (the SDK's schema, no extras)."""
    try:
        model = _adapter().validate_python(config)
    except ValidationError as exc:
        return from_validation(exc)
    unknown = _unknown(model, "")
    if unknown is not None:
        return Refusal(unknown, "unknown_parameter", f"Unknown parameter: '{unknown}'.")
    return None


def value_refusal(config: Mapping[str, Any]) -> Refusal | None:
    """What the schema lets through but the service refuses: voice, speed, SIP audio tuning."""
    audio = config.get("audio") or {}
    output = audio.get("output") or {}
    voice = output.get("voice")
    if isinstance(voice, str) and voice not in VOICES:
        supported = ", ".join(f"'{v}'" for v in VOICES[:-1]) + f", and '{VOICES[-1]}'"
        return Refusal(
            "audio.output.voice",
            "invalid_value",
            f"Invalid value: '{voice}'. Supported values are: {supported}.",
        )
    speed = output.get("speed")
    if isinstance(speed, int | float) and not isinstance(speed, bool):
        low, high = SPEED_RANGE
        if speed > high:
            return _bound("audio.output.speed", "above_max", f"<= {high}", speed)
        if speed < low:
            return _bound("audio.output.speed", "below_min", f">= {low}", speed)
    return _sip_audio_refusal(audio)


def _bound(param: str, which: str, expected: str, got: float) -> Refusal:
    words = "above maximum" if which == "above_max" else "below minimum"
    return Refusal(
        param,
        f"decimal_{which}_value",
        f"Invalid '{param}': decimal {words} value. Expected a value {expected}, "
        f"but got {got} instead.",
    )


def _sip_audio_refusal(audio: Mapping[str, Any]) -> Refusal | None:
    for side in ("input", "output"):
        audio_format = (audio.get(side) or {}).get("format")
        if isinstance(audio_format, dict) and audio_format.get("type") != SIP_AUDIO_FORMAT:
            param = f"audio.{side}.format"
            return Refusal(
                param,
                "invalid_value",
                f"Invalid '{param}': the audio format of a SIP call is negotiated by SIP "
                f"({SIP_AUDIO_FORMAT}); leave it out.",
            )
    turn_detection = (audio.get("input") or {}).get("turn_detection")
    if isinstance(turn_detection, dict) and turn_detection.get("type") == "server_vad":
        for name, default in VAD_DEFAULTS.items():
            value = turn_detection.get(name)
            if value is not None and value != default:
                param = f"audio.input.turn_detection.{name}"
                return Refusal(
                    param,
                    "invalid_value",
                    f"Invalid '{param}': server VAD cannot be tuned on a SIP call "
                    f"(the default is {default}); leave it out.",
                )
    return None


def session_refusal(config: Mapping[str, Any]) -> Refusal | None:
    """The first reason the service would refuse `config` as a call's session, or None."""
    return shape_refusal(config) or value_refusal(config)


def update_refusal(
    session: Mapping[str, Any], update: Mapping[str, Any], *, audio_played: bool
) -> Refusal | None:
    """Why a `session.update` is refused (params start with ``session.``), or None.

    The update itself must be a valid session; `model` cannot change, nor `voice` once the
    model has spoken (both as the SDK documents `session.update`).
    """
    refusal = shape_refusal(update) or value_refusal(update)
    if refusal is None and "model" in update and update["model"] != session.get("model"):
        refusal = Refusal(
            "model", "cannot_update_model", "Cannot update a session's model once it has started."
        )
    if refusal is None and audio_played and _voice(update) not in (None, _voice(session)):
        return Refusal(
            None,
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
        )
    return refusal.under("session") if refusal is not None else None


def _voice(config: Mapping[str, Any]) -> object:
    return ((config.get("audio") or {}).get("output") or {}).get("voice")
