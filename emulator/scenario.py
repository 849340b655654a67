"""Declarative call scripts: TOML files loaded into typed, validated dataclasses.

A scenario scripts the caller (what they say, when they hang up), the model (what it answers,
which tools it calls) and the faults of the service (webhook, accept, REFER, and ``[[faults]]``
aimed at any request the app makes). The file format is documented in emulator/README.md; errors
name the offending field, e.g. ``steps[2].seconds``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TypeVar, cast, get_args

from .scenario_types import (
    CLIENT_EVENT_TYPES,
    FAULT_ACTIONS,
    FAULT_TRIGGERS,
    HTTP_ONLY_ACTIONS,
    KEYPAD_KEYS,
    MAX_EXTRA_SIGNATURES,
    MAX_HOLD_SECONDS,
    MAX_KEYS,
    REST_VERBS,
    AcceptFaults,
    Caller,
    ClientEventType,
    DropSockets,
    Expectation,
    FailStatus,
    Fault,
    FaultAction,
    FaultTrigger,
    Hangup,
    Keypad,
    ModelTurn,
    RedeliverWebhook,
    ReferBehaviour,
    Repeat,
    Respond,
    RestVerb,
    Say,
    Scenario,
    ScenarioError,
    ScriptedAnalysis,
    Step,
    ToolCall,
    Wait,
    WaitFor,
    WaitUntil,
    WebhookFaults,
)

__all__ = [
    "CLIENT_EVENT_TYPES",
    "FAULT_ACTIONS",
    "FAULT_TRIGGERS",
    "HTTP_ONLY_ACTIONS",
    "KEYPAD_KEYS",
    "MAX_EXTRA_SIGNATURES",
    "MAX_HOLD_SECONDS",
    "MAX_KEYS",
    "REST_VERBS",
    "SCENARIOS",
    "AcceptFaults",
    "Caller",
    "ClientEventType",
    "DropSockets",
    "Expectation",
    "FailStatus",
    "Fault",
    "FaultAction",
    "FaultTrigger",
    "Hangup",
    "Keypad",
    "ModelTurn",
    "RedeliverWebhook",
    "ReferBehaviour",
    "Repeat",
    "Respond",
    "RestVerb",
    "Say",
    "Scenario",
    "ScenarioError",
    "ScriptedAnalysis",
    "Step",
    "ToolCall",
    "Wait",
    "WaitFor",
    "WaitUntil",
    "WebhookFaults",
    "load_scenario",
    "parse_scenario",
]

_T = TypeVar("_T")
MCP_TOOL = re.compile(r"mcp:[A-Za-z][A-Za-z0-9_-]{0,63}:[A-Za-z0-9_.-]{1,64}")


def _scenario_dir() -> Path:
    return Path(str(resources.files("emulator"))) / "scenarios"


SCENARIOS: tuple[str, ...] = tuple(sorted(p.stem for p in _scenario_dir().glob("*.toml")))
"""Names of the scenarios shipped in emulator/scenarios/."""


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name, or any scenario file by path."""
    if isinstance(name_or_path, str) and name_or_path in SCENARIOS:
        path = _scenario_dir() / f"{name_or_path}.toml"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ScenarioError(
                f"unknown scenario {str(name_or_path)!r}: "
                f"not a file, and not one of {list(SCENARIOS)}"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path.name}: not valid TOML: {exc}") from exc
    return parse_scenario(path.stem, data)


def parse_scenario(name: str, data: Mapping[str, object]) -> Scenario:
    """Build a scenario from parsed TOML, naming the first bad field in the error."""
    try:
        top = _Table(data, "")
        scenario = Scenario(
            name=name,
            description=top.get("description", str, ""),
            caller=_caller(top.table("caller")),
            webhook=_webhook(top.table("webhook")),
            accept=_accept(top.table("accept")),
            refer=_refer(top.table("refer")),
            steps=_steps(top.tables("steps")),
            expect=_expect(top.table("expect")),
            faults=tuple(_fault(t) for t in top.tables("faults")),
            analysis=_analysis(top.table("analysis")),
            mcp_unreachable=_mcp(top.table("mcp")),
            session_limit_seconds=(
                top.number("session_limit_seconds", 0.0, minimum=0.01)
                if top.has("session_limit_seconds")
                else None
            ),
        )
        top.done()
    except ScenarioError as exc:
        raise ScenarioError(f"scenario {name!r}: {exc}") from None
    return scenario


class _Table:
    """Typed access to one TOML table that remembers which keys were used."""

    def __init__(self, data: Mapping[str, object], where: str) -> None:
        self._data = data
        self._where = where
        self._used: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def has(self, key: str) -> bool:
        return key in self._data

    def get(self, key: str, kind: type[_T], default: _T) -> _T:
        self._used.add(key)
        if key not in self._data:
            return default
        value = self._data[key]
        # TOML integers are fine where a float is expected; bools are never numbers here.
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ScenarioError(
                f"{self.path(key)} must be {kind.__name__}, got {type(value).__name__}"
            )
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.get(key, float, default)
        if value < minimum:
            raise ScenarioError(f"{self.path(key)} must be >= {minimum}, got {value}")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self.get(key, str, "")
        return value if self.has(key) else None

    def table(self, key: str) -> _Table:
        raw = self.get(key, dict, {})
        return _Table(cast("Mapping[str, object]", raw), self.path(key))

    def tables(self, key: str) -> list[_Table]:
        raw = self.get(key, list, [])
        result = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ScenarioError(f"{self.path(key)}[{index}] must be a table")
            result.append(_Table(cast("Mapping[str, object]", item), f"{self.path(key)}[{index}]"))
        return result

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise ScenarioError(f"unknown field {self.path(unknown[0])}")


def _analysis(t: _Table) -> ScriptedAnalysis:
    success = t.get("success", bool, False) if t.has("success") else None
    analysis = ScriptedAnalysis(
        summary=t.optional_str("summary"),
        data=cast("Mapping[str, object]", t.get("data", dict, {})),
        success=success,
        success_reason=t.get("success_reason", str, ""),
        follow_up=t.get("follow_up", str, ""),
    )
    t.done()
    return analysis


def _mcp(t: _Table) -> frozenset[str]:
    labels = t.get("unreachable", list, [])
    if not all(isinstance(label, str) and label for label in labels):
        raise ScenarioError(f"{t.path('unreachable')} must be a list of server labels")
    t.done()
    return frozenset(labels)


def _caller(t: _Table) -> Caller:
    default = Caller()
    extra = []
    for header in t.tables("headers"):
        extra.append((header.get("name", str, ""), header.get("value", str, "")))
        if not extra[-1][0]:
            raise ScenarioError(f"{header.path('name')} must be a non-empty string")
        header.done()
    caller = Caller(
        from_header=t.get("from", str, default.from_header),
        to_header=t.get("to", str, default.to_header),
        extra_headers=tuple(extra),
    )
    t.done()
    return caller


def _webhook(t: _Table) -> WebhookFaults:
    copies = t.get("copies", int, 1)
    concurrent = t.get("concurrent", int, 1)
    if copies < 1:
        raise ScenarioError(f"{t.path('copies')} must be >= 1, got {copies}")
    if not 1 <= concurrent <= copies:
        raise ScenarioError(f"{t.path('concurrent')} must be between 1 and copies ({copies})")
    faults = WebhookFaults(
        copies=copies,
        concurrent=concurrent,
        duplicate_delay_seconds=t.number("duplicate_delay_seconds", 0.05),
        bad_signature=t.get("bad_signature", bool, False),
        timestamp_offset_seconds=t.get("timestamp_offset_seconds", int, 0),
        extra_signatures=t.get("extra_signatures", int, 0),
    )
    if not 0 <= faults.extra_signatures <= MAX_EXTRA_SIGNATURES:
        raise ScenarioError(
            f"{t.path('extra_signatures')} must be between 0 and {MAX_EXTRA_SIGNATURES}"
        )
    t.done()
    return faults


def _accept(t: _Table) -> AcceptFaults:
    status = t.get("fail_status", int, 0) or None
    allowed = get_args(FailStatus)
    if status is not None and status not in allowed:
        raise ScenarioError(f"{t.path('fail_status')} must be one of {list(allowed)}, got {status}")
    fail_times = t.get("fail_times", int, 0)
    if fail_times < 0 or (fail_times > 0 and status is None):
        raise ScenarioError(f"{t.path('fail_times')} must be >= 0 and needs fail_status")
    faults = AcceptFaults(
        fail_status=cast("FailStatus | None", status),
        fail_times=fail_times,
        retry_after_seconds=t.number("retry_after_seconds", 0.1),
        delay_seconds=t.number("delay_seconds", 0.0),
        accepts_cancelled_calls=t.get("accepts_cancelled_calls", bool, False),
    )
    t.done()
    return faults


def _refer(t: _Table) -> ReferBehaviour:
    behaviour = ReferBehaviour(
        completes=t.get("completes", bool, True),
        delay_seconds=t.number("delay_seconds", 0.2),
    )
    t.done()
    return behaviour


def _fault(t: _Table) -> Fault:
    on = t.get("on", str, "")
    if on not in FAULT_TRIGGERS:
        raise ScenarioError(f"{t.path('on')} must be one of {list(FAULT_TRIGGERS)}, got {on!r}")
    action = t.get("action", str, "")
    if action not in FAULT_ACTIONS:
        raise ScenarioError(
            f"{t.path('action')} must be one of {list(FAULT_ACTIONS)}, got {action!r}"
        )
    if on in CLIENT_EVENT_TYPES and action in HTTP_ONLY_ACTIONS:
        raise ScenarioError(
            f"{t.path('action')} {action!r} needs an HTTP request: 'on' must be a verb or "
            f"'connect', got {on!r}"
        )
    status = t.get("status", int, 0) or None
    allowed = get_args(FailStatus)
    if (action == "status") != (status is not None):
        raise ScenarioError(f"{t.path('status')} is required for action 'status', and only there")
    if status is not None and status not in allowed:
        raise ScenarioError(f"{t.path('status')} must be one of {list(allowed)}, got {status}")
    if t.has("retry_after_seconds") and status != 429:
        raise ScenarioError(f"{t.path('retry_after_seconds')} only applies to status 429")
    if (action == "timeout") != t.has("seconds"):
        raise ScenarioError(f"{t.path('seconds')} is required for action 'timeout', and only there")
    seconds = t.number("seconds", 0.0)
    if action == "timeout" and not 0 < seconds <= MAX_HOLD_SECONDS:
        raise ScenarioError(
            f"{t.path('seconds')} must be > 0 and <= {MAX_HOLD_SECONDS}, got {seconds}"
        )
    skip = t.get("skip", int, 0)
    times = t.get("times", int, 1)
    if skip < 0:
        raise ScenarioError(f"{t.path('skip')} must be >= 0, got {skip}")
    if times < 1:
        raise ScenarioError(f"{t.path('times')} must be >= 1, got {times}")
    fault = Fault(
        on=cast("FaultTrigger", on),
        action=cast("FaultAction", action),
        status=cast("FailStatus | None", status),
        retry_after_seconds=t.number("retry_after_seconds", 0.1),
        seconds=seconds,
        skip=skip,
        times=times,
    )
    t.done()
    return fault


def _expect(t: _Table) -> Expectation:
    expectation = Expectation(
        state=t.optional_str("state"),
        reason=t.optional_str("reason"),
        sip_status=t.get("sip_status", int, 0) or None,
        accepts=t.get("accepts", int, -1) if t.has("accepts") else None,
    )
    t.done()
    return expectation


def _turn(t: _Table) -> ModelTurn:
    tool = None
    if t.has("tool"):
        name = t.get("tool", str, "")
        if not name:
            raise ScenarioError(f"{t.path('tool')} must be a non-empty string")
        arguments = t.get("arguments", dict, {})
        tool = ToolCall(name, cast("Mapping[str, object]", arguments))
        if name.startswith("mcp:"):
            if not MCP_TOOL.fullmatch(name):
                raise ScenarioError(f"{t.path('tool')} must be mcp:<server_label>:<tool name>")
            tool = ToolCall(
                name,
                tool.arguments,
                mcp_output=t.get("mcp_output", str, tool.mcp_output),
                mcp_error=t.optional_str("mcp_error"),
            )
    elif t.has("arguments"):
        raise ScenarioError(f"{t.path('arguments')} needs a tool")
    for key in ("mcp_output", "mcp_error"):
        if t.has(key) and not (tool is not None and tool.name.startswith("mcp:")):
            raise ScenarioError(f"{t.path(key)} needs an mcp:<label>:<name> tool")
    return ModelTurn(
        reply=t.optional_str("reply"), tool=tool, next_reply=t.optional_str("next_reply")
    )


def _steps(tables: list[_Table]) -> tuple[Step, ...]:
    return tuple(_step(t) for t in tables)


def _step(t: _Table) -> Step:
    action = t.get("action", str, "")
    step: Step
    match action:
        case "wait":
            if not t.has("seconds"):
                raise ScenarioError(f"{t.path('seconds')} is required for action 'wait'")
            step = Wait(t.number("seconds", 0.0))
        case "wait_for":
            until = t.get("until", str, "")
            if until not in get_args(WaitUntil):
                raise ScenarioError(
                    f"{t.path('until')} must be one of {list(get_args(WaitUntil))}, got {until!r}"
                )
            timeout = t.number("timeout_seconds", 0.0) if t.has("timeout_seconds") else None
            step = WaitFor(cast("WaitUntil", until), timeout)
        case "say":
            text = t.get("text", str, "")
            if not text:
                raise ScenarioError(f"{t.path('text')} is required for action 'say'")
            turn = _turn(t)
            step = Say(text, turn if t.get("respond", bool, True) else None)
            if step.turn is None and turn != ModelTurn():
                raise ScenarioError(f"{t.path('respond')} is false but the step scripts a reply")
        case "respond":
            turn = _turn(t)
            if turn.reply is None and turn.tool is None:
                raise ScenarioError(
                    f"{t.path('reply')} or {t.path('tool')} is required for 'respond'"
                )
            step = Respond(turn)
        case "keypad":
            keys = t.get("keys", str, "")
            if not KEYPAD_KEYS.fullmatch(keys):
                raise ScenarioError(
                    f"{t.path('keys')} must be 1-{MAX_KEYS} keypad keys (0-9, *, #, A-D), "
                    f"got {keys!r}"
                )
            step = Keypad(keys, t.number("interval_seconds", 0.1))
        case "hangup":
            step = Hangup()
        case "drop_sockets":
            step = DropSockets()
        case "redeliver_webhook":
            step = RedeliverWebhook()
        case "repeat":
            times = t.get("times", int, 0)
            if times < 1:
                raise ScenarioError(f"{t.path('times')} must be >= 1")
            step = Repeat(times, _steps(t.tables("steps")))
        case _:
            raise ScenarioError(
                f"{t.path('action')} must be one of wait, wait_for, say, respond, keypad, hangup, "
                f"drop_sockets, redeliver_webhook, repeat; got {action!r}"
            )
    t.done()
    return step
