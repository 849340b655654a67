"""The agent: what it says, how it sounds, its tools, and the accept payload built from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRANSFER_CALL = "transfer_call"
END_CALL = "end_call"

# What the agent is asked to say at each turning point of a call (``response.instructions``).
HANDOFF_LINE = "In one short sentence, tell the caller you are transferring them now."
GOODBYE_LINE = "Say a short, warm goodbye to the caller."
UNKNOWN_TOOL_LINE = "That tool is not available. Carry on helping the caller."
TRANSFER_FAILED_LINE = (
    "The transfer did not go through. Apologise briefly, tell the caller nobody could be "
    "reached right now, and offer to keep helping or take a message."
)

WRAP_UP_LINE = (
    "The call is about to reach its time limit. Politely tell the caller you have to end the "
    "call in a moment, and say goodbye."
)


def greeting_instruction(greeting: str) -> str:
    """The first ``response.create``: the agent speaks first on a phone call."""
    return f"Greet the caller by saying: {greeting}"


_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "type": "function",
        "name": TRANSFER_CALL,
        "description": "Transfer the caller to a person. Say a short hand-off line first.",
        "parameters": {
            "type": "object",
            "properties": {
                "department": {
                    "type": "string",
                    "description": "Who the caller wants, e.g. sales or support, if they said so.",
                }
            },
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": END_CALL,
        "description": "End the call after you have said goodbye and the caller has nothing more.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    },
)


@dataclass(frozen=True)
class Agent:
    """One agent definition; the session config sent with ``accept`` is derived from it."""

    instructions: str
    greeting: str
    voice: str
    transcription_model: str | None = "whisper-1"

    def session_config(self, model: str) -> dict[str, Any]:
        """The ``accept`` body: minimal on purpose, since SIP rejects some audio tuning."""
        audio: dict[str, Any] = {"output": {"voice": self.voice}}
        if self.transcription_model:
            audio["input"] = {"transcription": {"model": self.transcription_model}}
        return {
            "type": "realtime",
            "model": model,
            "instructions": self.instructions,
            "audio": audio,
            "tools": [dict(tool) for tool in _TOOLS],
            "tool_choice": "auto",
        }
