"""The call monitor: stays on the call's socket for one bounded slice of its life.

It greets the caller, keeps the transcript and usage, answers the model's tool calls, and comes
back with an outcome the orchestrator acts on. A dropped socket is reattached with backoff while
the call is up; a refused reattach means the call has ended. A socket that cannot be reattached
within the budget ends the slice as ``SOCKET_LOST``, keeping what it saw and the line it still
owes the caller, so the next slice goes on from there (a retried activity would start over).

What must outlive the slice comes back in its result's :class:`SliceState` (the silence clock, a
leaving tool request whose line had not finished) and goes into the next slice's request. While
it runs, the slice holds the call's lease (``switchboard.realtime.lease``): it renews it with
heartbeats and checks it before it answers a tool or asks the agent to speak, and steps aside
(``SUPERSEDED``) once a newer slice holds it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
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
from switchboard.mcp import McpServer
from switchboard.realtime.channel import CallEnded, ChannelDropped, RealtimeChannel
from switchboard.realtime.ending import LAST_LINES, Ending, monotonic_at, wall_time_of
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
from switchboard.realtime.lease import Lease, LeaseKeeper, NoLease, Superseded
from switchboard.realtime.mcp import McpItem, McpProgress, McpWatcher
from switchboard.realtime.slice import (
    LEAVING_OUTCOMES,
    MonitorOutcome,
    MonitorRequest,
    MonitorResult,
    PendingEnd,
    SliceState,
    Turn,
)
from switchboard.realtime.transcript import NoTurnSink, TurnSink

__all__ = ["CallMonitor", "MonitorOutcome", "MonitorRequest", "MonitorResult", "Turn"]

logger = logging.getLogger(__name__)

ChannelFactory = Callable[[], Awaitable[RealtimeChannel]]
_CARRIED = frozenset({MonitorOutcome.SLICE_ENDED, MonitorOutcome.SOCKET_LOST})
"""Ends of a slice after which the next slice goes on with what this one accepted."""


class CallMonitor:
    """Runs one :class:`MonitorRequest` against sockets from ``open_channel``."""

    def __init__(
        self,
        request: MonitorRequest,
        open_channel: ChannelFactory,
        lease: Lease | None = None,
        turns: TurnSink | None = None,
        mcp_servers: tuple[McpServer, ...] = (),
    ) -> None:
        self._request = request
        self._turns = turns or NoTurnSink()  # the live transcript, written as turns happen
        self._open_channel = open_channel
        self._lease = lease or NoLease()
        self._keeper = LeaseKeeper(self._lease, request.slice_seconds)
        self._result = MonitorResult(MonitorOutcome.SLICE_ENDED)
        self._ending: Ending | None = None
        self._to_speak = request.speak  # asked for, not yet begun: sent again after a drop
        self._caller_still_here = False
        state = request.state
        self._attached = state.attached
        self._heard_at = monotonic_at(state.silent_since)
        self._checked_in = state.checked_in
        self._agent_speaking = False
        if state.ending is not None:
            self._resume(state.ending)
        self._handlers: dict[type[Any], Callable[[Any, RealtimeChannel], Awaitable[None]]] = {
            CallerTranscript: self._on_caller_transcript,
            SpeechStarted: self._on_speech_started,
            ResponseStarted: self._on_response_started,
            AgentTranscript: self._on_agent_transcript,
            ResponseDone: self._on_response_done,
            AudioStopped: self._on_audio_stopped,
            ServerError: self._on_server_error,
            Malformed: self._on_malformed,
            McpItem: self._on_mcp_item,
            McpProgress: self._on_mcp_progress,
        }
        self._mcp = McpWatcher(request.call_id, mcp_servers, self._keeper.may_act, self._tool_turn)

    async def run(self) -> MonitorResult:
        """Monitor until the call ends, a tool ends the slice, or the slice runs out."""
        try:
            return await self._run()
        except Superseded:
            logger.warning(
                "call %s: slice %d stepped aside: a newer slice holds the call",
                self._request.call_id,
                self._request.lease,
            )
            return MonitorResult(MonitorOutcome.SUPERSEDED, state=self._request.state)
        finally:
            await self._turns.aclose()  # the last batch (a superseded slice writes none)

    async def _run(self) -> MonitorResult:
        call_id = self._request.call_id
        deadline = time.monotonic() + self._request.slice_seconds
        failures = 0
        await self._keeper.beat()
        await self._resume_what_a_lost_slice_accepted()
        while time.monotonic() < deadline:
            try:
                async with await self._open_channel() as channel:
                    failures, self._attached = 0, True
                    outcome = await self._attached_to(channel, deadline)
            except CallEnded:
                if not self._attached:
                    logger.warning("call %s: answered, but its socket was refused", call_id)
                    return await self._finish(MonitorOutcome.NOT_ATTACHED)
                logger.info("call %s: socket refused, the call has ended", call_id)
                return await self._finish(MonitorOutcome.CALL_ENDED)
            except ChannelDropped as error:
                failures += 1
                if failures > self._request.reconnect_attempts:
                    logger.warning(
                        "call %s: socket lost (%s), giving the slice back", call_id, error
                    )
                    return await self._finish(MonitorOutcome.SOCKET_LOST)
                delay = min(0.25 * 2**failures, 8.0, max(deadline - time.monotonic(), 0.0))
                logger.warning(
                    "call %s: socket dropped (%s), reconnecting in %.2fs", call_id, error, delay
                )
                await self._keeper.sleep(delay)
                continue
            if outcome is not None:
                return await self._finish(outcome)
            self._result.reconnects += 1
            logger.info("call %s: socket closed by the service, reattaching", call_id)
        return await self._finish(MonitorOutcome.SLICE_ENDED)

    async def _attached_to(
        self, channel: RealtimeChannel, deadline: float
    ) -> MonitorOutcome | None:
        """Consume events on one socket; ``None`` when the socket closed under us."""
        self._agent_speaking = False  # a response's end may have been lost with the last socket
        if self._to_speak:
            await self._say(channel, self._to_speak)
        while True:
            now = time.monotonic()
            ending = self._ending
            if ending is not None and ending.due(now):
                return ending.outcome
            if now >= deadline:
                return MonitorOutcome.SLICE_ENDED
            if now >= self._keeper.next_beat:
                await self._keeper.beat()
                continue
            wake_at = min(deadline, self._keeper.next_beat)
            if ending is not None:
                wake_at = min(wake_at, ending.wake_at())
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

    async def _finish(self, outcome: MonitorOutcome) -> MonitorResult:
        result = self._result
        result.outcome = outcome
        ending = self._ending
        carried = ending is not None and outcome in _CARRIED
        if ending is not None and outcome in LEAVING_OUTCOMES:
            result.department = ending.department
        if outcome is MonitorOutcome.SOCKET_LOST and not carried:
            result.unsaid = self._to_speak
        result.state = self._state(ending if carried else None)
        logger.info(
            "call %s: monitor slice ended: %s after %d events, %d reconnects%s",
            self._request.call_id,
            outcome.value,
            result.events,
            result.reconnects,
            f", {ending.outcome.value} carried to the next slice" if carried and ending else "",
        )
        return result

    def _state(self, ending: Ending | None) -> SliceState:
        """What the next slice needs: the silence clock and a leaving request not yet done."""
        heard_at = time.monotonic() if self._agent_speaking else self._heard_at
        return SliceState(
            silent_since=wall_time_of(heard_at),
            checked_in=self._checked_in,
            attached=self._attached,
            ending=None if ending is None else ending.pending(line_begun=self._to_speak is None),
            lease=self._request.lease,
        )

    def _resume(self, pending: PendingEnd) -> None:
        """Go on with a leaving request the last slice accepted but could not finish."""
        outcome = MonitorOutcome(pending.outcome)
        self._begin_ending(outcome, pending.department)
        self._to_speak = None if pending.line_begun else LAST_LINES[outcome]
        if pending.line_begun:  # it was playing when the last slice ended: let it finish
            assert self._ending is not None
            self._ending.done_at = time.monotonic() + self._request.goodbye_grace_seconds

    async def _resume_what_a_lost_slice_accepted(self) -> None:
        """A leaving request a slice accepted and never returned (its worker or result lost).

        The orchestrator never heard of it; the lease entity kept it.
        """
        if self._ending is not None or not self._request.converse:
            return
        pending = await self._lease.ending_after(self._request.state.lease)
        if pending is not None:
            logger.warning(
                "call %s: carrying out %s, accepted by a slice that never returned",
                self._request.call_id,
                pending.outcome,
            )
            self._resume(pending)

    async def _record_ending(self, line_begun: bool) -> None:
        """Keep the leaving request with the lease, in case this slice never returns."""
        ending = self._ending
        assert ending is not None
        await self._lease.record(ending.pending(line_begun))

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
        await self._record_ending(line_begun=False)
        await self._say(channel, SILENCE_GOODBYE_LINE)

    def _heard_caller(self) -> None:
        self._heard_at = time.monotonic()
        self._checked_in = False

    async def _on_speech_started(self, event: SpeechStarted, channel: RealtimeChannel) -> None:
        self._heard_caller()

    async def _on_response_started(self, event: ResponseStarted, channel: RealtimeChannel) -> None:
        self._agent_speaking = True
        if self._ending is not None and self._to_speak is not None:
            await self._record_ending(line_begun=True)
        self._to_speak = None  # the line asked for is under way

    async def _say(self, channel: RealtimeChannel, line: str) -> None:
        """Ask the agent to say ``line``; it is asked again on the next socket until it begins."""
        self._to_speak = line
        await self._keeper.may_act()
        await _respond(channel, line)

    async def _on_caller_transcript(
        self, event: CallerTranscript, channel: RealtimeChannel
    ) -> None:
        self._heard_caller()
        self._add_turn("caller", event.text)
        if not self._request.converse:
            # After a REFER, a caller still talking to us proves the transfer did not happen.
            self._caller_still_here = True

    async def _on_agent_transcript(self, event: AgentTranscript, channel: RealtimeChannel) -> None:
        self._add_turn("agent", event.text)

    def _add_turn(self, speaker: str, text: str) -> None:
        """Keep a turn for the result, and send what was kept to the live transcript."""
        turns = self._result.turns
        kept = len(turns)
        self._result.add_turn(speaker, text, _now())
        if len(turns) > kept:
            self._turns.add(turns[-1])

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
        await self._mcp.on_response_done(channel.send)

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

    async def _on_mcp_item(self, event: McpItem, channel: RealtimeChannel) -> None:
        await self._mcp.on_item(event, channel.send)

    async def _on_mcp_progress(self, event: McpProgress, channel: RealtimeChannel) -> None:
        self._mcp.on_progress(event)

    def _tool_turn(self, text: str) -> None:
        self._result.add_turn("tool", text, _now())

    async def _on_function_call(self, call: FunctionCall, channel: RealtimeChannel) -> None:
        """Answer a tool call; the leaving tools also ask the model for its last line."""
        logger.info("call %s: model called %s", self._request.call_id, call.name)
        await self._keeper.may_act()
        if not self._request.converse or self._ending is not None:
            await _tool_output(channel, call, {"ok": False, "error": "the call is already ending"})
            return
        if call.name == TRANSFER_CALL:
            department = call.parsed_arguments().get("department")
            self._begin_ending(MonitorOutcome.TRANSFER_REQUESTED, department)
            await self._record_ending(line_begun=False)
            await _tool_output(channel, call, {"ok": True, "status": "transferring"})
            line = HANDOFF_LINE
        elif call.name == END_CALL:
            self._begin_ending(MonitorOutcome.END_CALL_REQUESTED, None)
            await self._record_ending(line_begun=False)
            await _tool_output(channel, call, {"ok": True, "status": "ending"})
            line = GOODBYE_LINE
        else:
            await _tool_output(channel, call, {"ok": False, "error": f"unknown tool {call.name}"})
            line = UNKNOWN_TOOL_LINE
        await self._say(channel, line)

    def _begin_ending(self, outcome: MonitorOutcome, department: object) -> None:
        timeout = self._request.tool_response_timeout_seconds
        self._ending = Ending.begin(outcome, department, timeout)


async def _respond(channel: RealtimeChannel, instructions: str) -> None:
    await channel.send({"type": "response.create", "response": {"instructions": instructions}})


async def _tool_output(
    channel: RealtimeChannel, call: FunctionCall, output: dict[str, Any]
) -> None:
    item = {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(output)}
    await channel.send({"type": "conversation.item.create", "item": item})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
