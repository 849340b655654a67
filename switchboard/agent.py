"""The agent: what it says, how it sounds, its tools, and the accept payload built from it.

A team changes the agent without touching code: one TOML definition file (``AGENT_DEFINITION``,
see ``agents/front_desk.toml``) holds the instructions, greeting, voice, tools, departments and
the after-hours variant; individual settings may still override the instructions, greeting and
voice.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard.agent_tools import HttpTool, KeypadAction, http_tools, keypad
from switchboard.analysis import AnalysisSpec
from switchboard.mcp import McpServer, parse_servers

VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
)
TRANSFER_CALL = "transfer_call"
END_CALL = "end_call"
TOOL_NAMES = (TRANSFER_CALL, END_CALL)

# What the agent is asked to say at each turning point of a call (``response.instructions``).
HANDOFF_LINE = "In one short sentence, tell the caller you are transferring them now."
GOODBYE_LINE = "Say a short, warm goodbye to the caller."
UNKNOWN_TOOL_LINE = "That tool is not available. Carry on helping the caller."
TRANSFER_FAILED_LINE = (
    "The transfer did not go through. Apologise briefly, tell the caller nobody could be "
    "reached right now, and offer to keep helping or take a message."
)
TOOL_ANSWER_LINE = "Tell the caller briefly what you found out."
KEYPAD_LINE = "The caller keyed something in on their keypad. Carry on helping them."
CHECK_IN_LINE = "The caller has been silent for a while. Briefly ask if they are still there."
SILENCE_GOODBYE_LINE = (
    "The caller is still silent. Say you will end the call now since you cannot hear them, "
    "and say goodbye."
)
WRAP_UP_LINE = (
    "The call is about to reach its time limit. Politely tell the caller you have to end the "
    "call in a moment, and say goodbye."
)

DEFAULT_INSTRUCTIONS = (
    "You are the friendly front desk of a small business, answering the phone. Keep answers short "
    "and spoken. If the caller asks for a person, call transfer_call. When the caller is done, say "
    "goodbye and call end_call."
)
DEFAULT_GREETING = "Hello, thanks for calling. How can I help you today?"
DEFAULT_AFTER_HOURS_INSTRUCTIONS = (
    "You are the front desk of a small business answering outside business hours. Say that the "
    "office is closed, offer to take a short message, and then say goodbye and call end_call."
)


def greeting_instruction(greeting: str) -> str:
    """The first ``response.create``: the agent speaks first on a phone call.

    Durable may run the first monitor slice again (a crashed worker, at-least-once activities)
    and the session keeps its conversation across sockets, so the line lets the model, which
    sees that conversation, skip a second greeting.
    """
    return (
        f"Greet the caller by saying: {greeting} If you have already greeted the caller in this "
        "conversation, do not greet again: say briefly that you are back and carry on."
    )


@dataclass(frozen=True)
class Agent:
    """One agent definition; the session config sent with ``accept`` is derived from it."""

    instructions: str = DEFAULT_INSTRUCTIONS
    greeting: str = DEFAULT_GREETING
    voice: str = "marin"
    transcription_model: str | None = "whisper-1"
    tools: tuple[str, ...] = TOOL_NAMES
    departments: Mapping[str, str] = field(default_factory=dict)
    after_hours_instructions: str = DEFAULT_AFTER_HOURS_INSTRUCTIONS
    after_hours_greeting: str | None = None
    after_hours_tools: tuple[str, ...] = (END_CALL,)
    analysis: AnalysisSpec = field(default_factory=AnalysisSpec)
    mcp_servers: tuple[McpServer, ...] = ()
    """Remote MCP servers (not after hours); their header settings are in ``mcp_settings``."""
    mcp_settings: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The app settings the MCP headers name, resolved by the settings (secrets: never shown)."""
    http_tools: tuple[HttpTool, ...] = ()
    """Offered in every session, after hours too (``switchboard.agent_tools``)."""
    keypad: Mapping[str, KeypadAction] = field(default_factory=dict)

    def session_config(self, model: str, *, after_hours: bool = False) -> dict[str, Any]:
        """The ``accept`` body: minimal on purpose, since SIP rejects some audio tuning."""
        audio: dict[str, Any] = {"output": {"voice": self.voice}}
        if self.transcription_model:
            audio["input"] = {"transcription": {"model": self.transcription_model}}
        tools = self.after_hours_tools if after_hours else self.tools
        mcp = () if after_hours else self.mcp_servers
        declared = [self._tool(name) for name in tools]
        declared += [tool.function_tool() for tool in self.http_tools]
        declared += [server.session_tool(self.mcp_settings) for server in mcp]
        return {
            "type": "realtime",
            "model": model,
            "instructions": self.after_hours_instructions if after_hours else self.instructions,
            "audio": audio,
            "tools": declared,
            "tool_choice": "auto" if declared else "none",
        }

    def greeting_for(self, *, after_hours: bool) -> str:
        """What the agent says first."""
        return (self.after_hours_greeting or self.greeting) if after_hours else self.greeting

    def _tool(self, name: str) -> dict[str, Any]:
        if name == END_CALL:
            return {
                "type": "function",
                "name": END_CALL,
                "description": "End the call after you have said goodbye and the caller is done.",
                "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
            }
        department: dict[str, Any] = {
            "type": "string",
            "description": "Who the caller wants, e.g. sales or support, if they said so.",
        }
        if self.departments:
            department["enum"] = sorted(self.departments)
            department["description"] = "Who the caller wants: " + "; ".join(
                f"{name}: {about}" for name, about in sorted(self.departments.items())
            )
        return {
            "type": "function",
            "name": TRANSFER_CALL,
            "description": "Transfer the caller to a person. Say a short hand-off line first.",
            "parameters": {
                "type": "object",
                "properties": {"department": department},
                "additionalProperties": False,
            },
        }

    @classmethod
    def load(cls, path: Path) -> Agent:
        """Read a TOML definition; ``ValueError`` says what is wrong, for the settings error."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ValueError(f"cannot be read ({error.strerror})") from error
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"is not valid TOML ({error})") from error
        return cls.from_definition(data)

    @classmethod
    def from_definition(cls, data: Mapping[str, Any]) -> Agent:
        """Build from a parsed definition, checking every field's type."""
        known = {"name", "instructions", "greeting", "voice", "transcription_model", "tools"}
        unknown = set(data) - known - {"departments", "after_hours", "analysis", *_TABLES}
        if unknown:
            raise ValueError(f"has unknown keys {sorted(unknown)}")
        after = data.get("after_hours", {})
        departments = data.get("departments", {})
        if not isinstance(after, Mapping) or not isinstance(departments, Mapping):
            raise ValueError("needs [after_hours] and [departments] to be tables")
        unknown_after = set(after) - {"instructions", "greeting", "tools"}
        if unknown_after:
            raise ValueError(f"has unknown [after_hours] keys {sorted(unknown_after)}")
        default = cls()
        voice = _text(data, "voice", default.voice)
        if voice not in VOICES:
            raise ValueError(f"needs 'voice' to be one of {', '.join(sorted(VOICES))}")
        model = _text(data, "transcription_model", default.transcription_model or "off")
        return cls(
            instructions=_text(data, "instructions", default.instructions),
            greeting=_text(data, "greeting", default.greeting),
            voice=voice,
            transcription_model=None if model == "off" else model,
            tools=_tools(data, default.tools),
            departments=_departments(departments),
            after_hours_instructions=_text(after, "instructions", default.after_hours_instructions),
            after_hours_greeting=_text(after, "greeting", "") or None,
            after_hours_tools=_tools(after, default.after_hours_tools),
            analysis=AnalysisSpec.from_definition(data.get("analysis", {})),
            mcp_servers=parse_servers(data.get("mcp_servers", [])),
            http_tools=http_tools(data.get("http_tools", [])),
            keypad=keypad(data.get("keypad", {}), _departments(departments)),
        )


_TABLES = ("http_tools", "keypad", "mcp_servers")


def _text(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (key in data and not value.strip()):
        raise ValueError(f"needs {key!r} to be a non-empty string")
    return value.strip()


def _departments(table: Mapping[str, Any]) -> dict[str, str]:
    """Names are case-insensitive (``Sales`` is ``sales``): two differing only in case clash."""
    departments: dict[str, str] = {}
    for name in table:
        key = str(name).strip().lower()
        if not key:
            raise ValueError("needs [departments] names to be non-empty")
        if key in departments:
            raise ValueError(f"names department {key!r} twice (names are case-insensitive)")
        departments[key] = _text(table, name, "")
    return departments


def _tools(data: Mapping[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    tools = data.get("tools", list(default))
    if not isinstance(tools, list) or not all(t in TOOL_NAMES for t in tools):
        raise ValueError(f"needs 'tools' to be a list drawn from {list(TOOL_NAMES)}")
    return tuple(dict.fromkeys(tools))
