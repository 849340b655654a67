"""What a monitor slice is asked to do, what it returns, and the state one slice hands the next.

A slice is one activity run on the call's socket; the orchestrator chains them for the whole
call. Anything the next slice must know travels in the data, never in a worker's memory: the
silence clock, whether a socket was ever attached, and a tool request the monitor accepted but
could not finish (its line still playing when the slice ran out or the socket was lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchboard.usage import Usage

MAX_TURN_CHARS = 4_000
"""Longest text kept for one turn (about five minutes of speech); longer text is truncated."""
MAX_TRANSCRIPT_CHARS = 200_000
"""Most transcript text kept per slice and per call record (a 55-minute call is ~60,000)."""
MAX_TURNS = 2_000
"""Most turns kept per slice and per call record."""
TRUNCATED_MARK = " [truncated]"
MAX_TOOL_CALLS = 200
"""Most HTTP tool calls kept per call record (a slice starts at most 50)."""


class MonitorOutcome(StrEnum):
    """Why a monitor slice returned."""

    CALL_ENDED = "call_ended"
    SLICE_ENDED = "slice_ended"
    TRANSFER_REQUESTED = "transfer_requested"
    END_CALL_REQUESTED = "end_call_requested"
    SILENCE_TIMEOUT = "silence_timeout"
    SOCKET_LOST = "socket_lost"
    NOT_ATTACHED = "not_attached"
    """The call was answered but its socket was refused before any socket ever attached."""
    SUPERSEDED = "superseded"
    """A newer slice holds the call's lease: this one stepped back without acting."""


LEAVING_OUTCOMES = frozenset(
    {
        MonitorOutcome.TRANSFER_REQUESTED,
        MonitorOutcome.END_CALL_REQUESTED,
        MonitorOutcome.SILENCE_TIMEOUT,
    }
)
"""Outcomes that ask the orchestrator to leave the call (after the agent's last line)."""


class PendingEnd(BaseModel):
    """A leaving request the monitor accepted; carried out by the slice that finishes its line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Literal["transfer_requested", "end_call_requested", "silence_timeout"]
    department: str | None = Field(default=None, max_length=100)
    line_begun: bool = False
    """The agent had begun its last line (hand-off, goodbye) when the slice ended."""


class CarriedAnswer(BaseModel):
    """An HTTP tool's answer a slice could not send: the next slice sends it first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: str = Field(max_length=100)
    output: str = Field(max_length=80_000)


class SliceState(BaseModel):
    """State that outlives a slice: from one slice's result into the next slice's request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    silent_since: datetime | None = None
    """Wall time (UTC) the current silence began: the caller's last word or the agent's."""
    checked_in: bool = False
    """The agent has already checked in on the current silence."""
    attached: bool = False
    """A socket has been attached to this call at least once."""
    ending: PendingEnd | None = None
    tool_answers: tuple[CarriedAnswer, ...] = Field(default=(), max_length=8)
    lease: int = Field(default=0, ge=0)
    """The slice that handed this state on (see ``switchboard.realtime.lease``)."""


@dataclass(frozen=True)
class MonitorRequest:
    """One slice of monitoring. ``speak`` is said first (greeting, or a notice after a failure).

    ``converse=False`` watches a call being transferred: tools are refused, and the slice ends
    early if the caller speaks (the transfer did not take). After ``silence_seconds`` without a
    word from either side the agent checks in once; after as long again it says goodbye and the
    slice ends with ``SILENCE_TIMEOUT`` (0 = no silence limit). ``state`` comes from the last
    slice's result; ``lease`` numbers the slices of one call (see ``switchboard.realtime.lease``).
    """

    call_id: str
    slice_seconds: float
    speak: str | None = None
    converse: bool = True
    silence_seconds: float = 0
    state: SliceState = field(default_factory=SliceState)
    lease: int = 0
    reconnect_attempts: int = 5
    goodbye_grace_seconds: float = 1.5
    tool_response_timeout_seconds: float = 15.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the activity input."""
        return {
            "call_id": self.call_id,
            "slice_seconds": self.slice_seconds,
            "speak": self.speak,
            "converse": self.converse,
            "silence_seconds": self.silence_seconds,
            "state": self.state.model_dump(mode="json"),
            "lease": self.lease,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorRequest:
        """Inverse of :meth:`to_dict`."""
        return cls(
            call_id=data["call_id"],
            slice_seconds=float(data["slice_seconds"]),
            speak=data.get("speak"),
            converse=bool(data.get("converse", True)),
            silence_seconds=float(data.get("silence_seconds", 0)),
            state=SliceState.model_validate(data.get("state") or {}),
            lease=int(data.get("lease", 0)),
        )


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance, with the wall-clock time the monitor saw it.

    Slotted: one object for the collector per turn, not two (no ``__dict__``), in transcripts
    that grow on thousands of calls at once.
    """

    speaker: str
    text: str
    at: str


@dataclass
class MonitorResult:
    """What one slice saw and how it ended."""

    outcome: MonitorOutcome
    turns: list[Turn] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    department: str | None = None
    reconnects: int = 0
    events: int = 0
    unsaid: str | None = None
    state: SliceState = field(default_factory=SliceState)
    turns_left_out: int = 0
    """Turns past the transcript bounds, counted but not kept."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Each HTTP tool call and its outcome (``switchboard.realtime.http_tools``)."""
    _room: int = field(default=MAX_TRANSCRIPT_CHARS, init=False, repr=False, compare=False)

    def add_turn(self, speaker: str, text: str, at: str) -> None:
        """Keep a turn, within the per-turn and per-slice bounds (the record bounds them again)."""
        if len(self.turns) >= MAX_TURNS or self._room <= len(TRUNCATED_MARK):
            self.turns_left_out += 1
            return
        kept = bounded_text(text, self._room)
        self._room -= len(kept)
        self.turns.append(Turn(speaker, kept, at))

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the activity output."""
        return {
            "outcome": self.outcome.value,
            "turns": [{"speaker": t.speaker, "text": t.text, "at": t.at} for t in self.turns],
            "usage": self.usage.to_dict(),
            "department": self.department,
            "reconnects": self.reconnects,
            "events": self.events,
            "unsaid": self.unsaid,
            "state": self.state.model_dump(mode="json"),
            "turns_left_out": self.turns_left_out,
            "tool_calls": self.tool_calls,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            outcome=MonitorOutcome(data["outcome"]),
            turns=[Turn(t["speaker"], t["text"], t["at"]) for t in data.get("turns", [])],
            usage=Usage.from_dict(data.get("usage", {})),
            department=data.get("department"),
            reconnects=int(data.get("reconnects", 0)),
            events=int(data.get("events", 0)),
            unsaid=data.get("unsaid"),
            state=SliceState.model_validate(data.get("state") or {}),
            turns_left_out=int(data.get("turns_left_out", 0)),
            tool_calls=list(data.get("tool_calls", [])),
        )


def bounded_text(text: str, room: int = MAX_TURN_CHARS) -> str:
    """``text`` cut to ``MAX_TURN_CHARS`` (and to ``room``), with a marker when it was cut."""
    limit = min(MAX_TURN_CHARS, room)
    if len(text) <= limit:
        return text
    return text[: max(limit - len(TRUNCATED_MARK), 0)] + TRUNCATED_MARK
