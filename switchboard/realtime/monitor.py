"""The call monitor: stays on the call's socket for one bounded slice of its life.

It greets the caller, keeps the transcript and usage, answers the model's tool calls, and comes
back with an outcome the orchestrator acts on. A dropped socket is reattached with backoff while
the call is up; a refused reattach means the call has ended. A socket that cannot be reattached
within the budget ends the slice as ``SOCKET_LOST``, keeping what it saw and the line it still
owes the caller, so the next slice goes on from there (a retried activity would start over).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from switchboard.agent import (
    CHECK_IN_LINE,
    END_CALL,
    GOODBYE_LINE,
    HANDOFF_LINE,
    SILENCE_GOODBYE_LINE,
    TRANSFER_CALL,
    UNKNOWN_TOOL_LINE,
)
from switchboard.realtime.channel import CallEnded, ChannelDropped, RealtimeChannel
from switchboard.realtime.events import (
    AgentTranscript,
    AudioStopped,
    CallerTranscript,
    FunctionCall,
    Malformed,
    ResponseDone,
    ResponseStarted,
    ServerError,
    SpeechStarted,
    parse_event,
)
from switchboard.usage import Usage

logger = logging.getLogger(__name__)

ChannelFactory = Callable[[], Awaitable[RealtimeChannel]]


class MonitorOutcome(StrEnum):
    """Why a monitor slice returned."""

    CALL_ENDED = "call_ended"
    SLICE_ENDED = "slice_ended"
    TRANSFER_REQUESTED = "transfer_requested"
    END_CALL_REQUESTED = "end_call_requested"
    SILENCE_TIMEOUT = "silence_timeout"
    SOCKET_LOST = "socket_lost"


@dataclass(frozen=True)
class MonitorRequest:
    """One slice of monitoring. ``speak`` is said first (greeting, or a notice after a failure).

    ``converse=False`` watches a call being transferred: tools are refused, and the slice ends
    early if the caller speaks (the transfer did not take). After ``silence_seconds`` without a
    word from either side the agent checks in once; after as long again it says goodbye and the
    slice ends with ``SILENCE_TIMEOUT`` (0 = no silence limit).
    """

    call_id: str
    slice_seconds: float
    speak: str | None = None
    converse: bool = True
    silence_seconds: float = 0
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
        )


@dataclass(frozen=True)
class Turn:
    """One utterance, with the wall-clock time the monitor saw it."""

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
        )


@dataclass
class _Ending:
    """A tool asked to leave the call; finish once its spoken line has played."""

    outcome: MonitorOutcome
    department: str | None
    give_up_at: float
    response_id: str | None = None
    done_at: float | None = None


class CallMonitor:
    """Runs one :class:`MonitorRequest` against sockets from ``open_channel``."""

    def __init__(self, request: MonitorRequest, open_channel: ChannelFactory) -> None:
        self._request = request
        self._open_channel = open_channel
        self._result = MonitorResult(MonitorOutcome.SLICE_ENDED)
        self._ending: _Ending | None = None
        self._to_speak = request.speak  # asked for, not yet begun: sent again after a drop
        self._caller_still_here = False
        self._heard_at = time.monotonic()
        self._checked_in = False
        self._agent_speaking = False
        self._handlers: dict[type[Any], Callable[[Any, RealtimeChannel], Awaitable[None]]] = {
            CallerTranscript: self._on_caller_transcript,
            SpeechStarted: self._on_speech_started,
            ResponseStarted: self._on_response_started,
            AgentTranscript: self._on_agent_transcript,
            ResponseDone: self._on_response_done,
            AudioStopped: self._on_audio_stopped,
            ServerError: self._on_server_error,
            Malformed: self._on_malformed,
        }

    async def run(self) -> MonitorResult:
        """Monitor until the call ends, a tool ends the slice, or the slice runs out."""
        call_id = self._request.call_id
        deadline = time.monotonic() + self._request.slice_seconds
        failures = 0
        while time.monotonic() < deadline:
            try:
                async with await self._open_channel() as channel:
                    failures = 0
                    outcome = await self._attached(channel, deadline)
            except CallEnded:
                logger.info("call %s: socket refused, the call has ended", call_id)
                return self._finish(MonitorOutcome.CALL_ENDED)
            except ChannelDropped as error:
                failures += 1
                if failures > self._request.reconnect_attempts:
                    logger.warning(
                        "call %s: socket lost (%s), giving the slice back", call_id, error
                    )
                    self._result.unsaid = self._to_speak
                    return self._finish(MonitorOutcome.SOCKET_LOST)
                delay = min(0.25 * 2**failures, 8.0, max(deadline - time.monotonic(), 0.0))
                logger.warning(
                    "call %s: socket dropped (%s), reconnecting in %.2fs", call_id, error, delay
                )
                await asyncio.sleep(delay)
                continue
            if outcome is not None:
                return self._finish(outcome)
            self._result.reconnects += 1
            logger.info("call %s: socket closed by the service, reattaching", call_id)
        return self._finish(MonitorOutcome.SLICE_ENDED)

    async def _attached(self, channel: RealtimeChannel, deadline: float) -> MonitorOutcome | None:
        """Consume events on one socket; ``None`` when the socket closed under us."""
        self._agent_speaking = False  # a response's end may have been lost with the last socket
        if self._to_speak:
            await _respond(channel, self._to_speak)
        while True:
            now = time.monotonic()
            ending = self._ending
            if ending is not None and (
                now >= ending.give_up_at or (ending.done_at is not None and now >= ending.done_at)
            ):
                return ending.outcome
            wake_at = min(deadline, ending.give_up_at if ending else deadline)
            if ending is not None and ending.done_at is not None:
                wake_at = min(wake_at, ending.done_at)
            if now >= deadline:
                return MonitorOutcome.SLICE_ENDED
            silent_until = self._silent_until()
            if silent_until is not None and ending is None:
                if now >= silent_until:
                    await self._on_silence(channel)
                    continue
                wake_at = min(wake_at, silent_until)
            try:
                raw = await channel.receive(timeout=wake_at - now)
            except TimeoutError:
                continue
            if raw is None:
                return None
            self._result.events += 1
            event = parse_event(raw)
            if event is not None:
                await self._handlers[type(event)](event, channel)
                if self._caller_still_here:
                    return MonitorOutcome.SLICE_ENDED

    def _finish(self, outcome: MonitorOutcome) -> MonitorResult:
        self._result.outcome = outcome
        if self._ending is not None and outcome is not MonitorOutcome.CALL_ENDED:
            self._result.department = self._ending.department
        logger.info(
            "call %s: monitor slice ended: %s after %d events, %d reconnects",
            self._request.call_id,
            outcome.value,
            self._result.events,
            self._result.reconnects,
        )
        return self._result

    def _silent_until(self) -> float | None:
        """When the current silence runs out, if a silence limit applies."""
        if not self._request.silence_seconds or not self._request.converse or self._agent_speaking:
            return None
        return self._heard_at + self._request.silence_seconds

    async def _on_silence(self, channel: RealtimeChannel) -> None:
        """Check in once; if the silence goes on, say goodbye and end the call."""
        self._heard_at = time.monotonic()
        if not self._checked_in:
            logger.info("call %s: caller silent, checking in", self._request.call_id)
            self._checked_in = True
            await self._say(channel, CHECK_IN_LINE)
            return
        logger.info("call %s: caller still silent, ending the call", self._request.call_id)
        self._begin_ending(MonitorOutcome.SILENCE_TIMEOUT, None)
        await self._say(channel, SILENCE_GOODBYE_LINE)

    def _heard_caller(self) -> None:
        self._heard_at = time.monotonic()
        self._checked_in = False

    async def _on_speech_started(self, event: SpeechStarted, channel: RealtimeChannel) -> None:
        self._heard_caller()

    async def _on_response_started(self, event: ResponseStarted, channel: RealtimeChannel) -> None:
        self._agent_speaking = True
        self._to_speak = None  # the line asked for is under way

    async def _say(self, channel: RealtimeChannel, line: str) -> None:
        """Ask the agent to say ``line``; it is asked again on the next socket until it begins."""
        self._to_speak = line
        await _respond(channel, line)

    async def _on_caller_transcript(
        self, event: CallerTranscript, channel: RealtimeChannel
    ) -> None:
        self._heard_caller()
        self._result.turns.append(Turn("caller", event.text, _now()))
        if not self._request.converse:
            # After a REFER, a caller still talking to us proves the transfer did not happen.
            self._caller_still_here = True

    async def _on_agent_transcript(self, event: AgentTranscript, channel: RealtimeChannel) -> None:
        self._result.turns.append(Turn("agent", event.text, _now()))

    async def _on_response_done(self, event: ResponseDone, channel: RealtimeChannel) -> None:
        self._heard_at = time.monotonic()  # silence counts from the end of the agent's turn
        self._agent_speaking = False
        self._result.usage += event.usage
        ending = self._ending
        if ending is not None and not event.function_calls and ending.done_at is None:
            ending.response_id = event.response_id
            ending.done_at = time.monotonic() + self._request.goodbye_grace_seconds
        for call in event.function_calls:
            await self._on_function_call(call, channel)

    async def _on_audio_stopped(self, event: AudioStopped, channel: RealtimeChannel) -> None:
        self._heard_at = time.monotonic()  # the caller has heard the whole answer only now
        ending = self._ending
        if ending is not None and ending.response_id == event.response_id:
            ending.done_at = time.monotonic()

    async def _on_server_error(self, event: ServerError, channel: RealtimeChannel) -> None:
        logger.warning(
            "call %s: service error %s: %s", self._request.call_id, event.code, event.message
        )

    async def _on_malformed(self, event: Malformed, channel: RealtimeChannel) -> None:
        logger.warning(
            "call %s: ignored a malformed event: %s", self._request.call_id, event.reason
        )

    async def _on_function_call(self, call: FunctionCall, channel: RealtimeChannel) -> None:
        """Answer a tool call; the leaving tools also ask the model for its last line."""
        logger.info("call %s: model called %s", self._request.call_id, call.name)
        if not self._request.converse or self._ending is not None:
            await _tool_output(channel, call, {"ok": False, "error": "the call is already ending"})
            return
        if call.name == TRANSFER_CALL:
            department = call.parsed_arguments().get("department")
            self._begin_ending(MonitorOutcome.TRANSFER_REQUESTED, department)
            await _tool_output(channel, call, {"ok": True, "status": "transferring"})
            line = HANDOFF_LINE
        elif call.name == END_CALL:
            self._begin_ending(MonitorOutcome.END_CALL_REQUESTED, None)
            await _tool_output(channel, call, {"ok": True, "status": "ending"})
            line = GOODBYE_LINE
        else:
            await _tool_output(channel, call, {"ok": False, "error": f"unknown tool {call.name}"})
            line = UNKNOWN_TOOL_LINE
        await self._say(channel, line)

    def _begin_ending(self, outcome: MonitorOutcome, department: object) -> None:
        self._ending = _Ending(
            outcome=outcome,
            department=department if isinstance(department, str) and department else None,
            give_up_at=time.monotonic() + self._request.tool_response_timeout_seconds,
        )


async def _respond(channel: RealtimeChannel, instructions: str) -> None:
    await channel.send({"type": "response.create", "response": {"instructions": instructions}})


async def _tool_output(
    channel: RealtimeChannel, call: FunctionCall, output: dict[str, Any]
) -> None:
    item = {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(output)}
    await channel.send({"type": "conversation.item.create", "item": item})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
