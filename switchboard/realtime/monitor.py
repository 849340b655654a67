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
(``SUPERSEDED``) once a newer slice holds it. What the model and the caller ask for (tools,
keypad keys, leaving requests) is handled by its base, ``switchboard.realtime.actions``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from switchboard.agent import (
    CHECK_IN_LINE,
    SILENCE_GOODBYE_LINE,
)
from switchboard.agent_tools import KeypadAction
from switchboard.mcp import McpServer
from switchboard.realtime.actions import CallActions
from switchboard.realtime.actions import now as _now
from switchboard.realtime.channel import CallEnded, ChannelDropped, RealtimeChannel
from switchboard.realtime.ending import Ending, monotonic_at, wall_time_of
from switchboard.realtime.events import (
    AgentTranscript,
    AudioStopped,
    CallerTranscript,
    Keypress,
    Malformed,
    ResponseDone,
    ResponseStarted,
    ServerError,
    SpeechStarted,
    parse_event,
)
from switchboard.realtime.http_tools import HttpToolCaller
from switchboard.realtime.keypad import KeypadGroups
from switchboard.realtime.lease import Lease, LeaseKeeper, NoLease, Superseded
from switchboard.realtime.mcp import McpItem, McpProgress, McpWatcher
from switchboard.realtime.slice import (
    LEAVING_OUTCOMES,
    MonitorOutcome,
    MonitorRequest,
    MonitorResult,
    SliceState,
    Turn,
)
from switchboard.realtime.tool_desk import ToolDesk
from switchboard.realtime.transcript import NoTurnSink, TurnSink

__all__ = ["CallMonitor", "MonitorOutcome", "MonitorRequest", "MonitorResult", "Turn"]

logger = logging.getLogger(__name__)

ChannelFactory = Callable[[], Awaitable[RealtimeChannel]]
_TOOL_POLL_SECONDS = 0.05
"""Past its deadline, a slice waiting for a tool call in flight looks this often."""
_CARRIED = frozenset({MonitorOutcome.SLICE_ENDED, MonitorOutcome.SOCKET_LOST})
"""Ends of a slice after which the next slice goes on with what this one accepted."""


class CallMonitor(CallActions):
    """Runs one :class:`MonitorRequest` against sockets from ``open_channel``."""

    def __init__(
        self,
        request: MonitorRequest,
        open_channel: ChannelFactory,
        lease: Lease | None = None,
        turns: TurnSink | None = None,
        mcp_servers: tuple[McpServer, ...] = (),
        *,
        tools: HttpToolCaller | None = None,
        keypad: Mapping[str, KeypadAction] | None = None,
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
        self._channel: RealtimeChannel | None = None  # the attached socket, for tool answers
        self._desk = ToolDesk(tools, state.tool_answers)
        self._desk.on_answer, self._desk.on_slow = self._send_answers, self._say_while_waiting
        self._say_after_response: str | None = None
        self._keypad = KeypadGroups(keypad or {})
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
            Keypress: self._on_keypress,
        }
        self._mcp = McpWatcher(request.call_id, mcp_servers, self._keeper.may_act, self._tool_turn)

    async def run(self) -> MonitorResult:
        """Monitor until the call ends, a tool ends the slice, or the slice runs out."""
        try:
            return await self._run()
        except Superseded:
            await self._desk.cancel()
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
        self._channel = channel
        try:
            # A task of its own: each event resumes _consume's frame directly, not the three
            # above it (a few % of the worker's CPU at 2,000 calls). Cancelling this cancels it.
            return await asyncio.ensure_future(self._consume(channel, deadline))
        finally:
            self._channel = None

    async def _consume(self, channel: RealtimeChannel, deadline: float) -> MonitorOutcome | None:
        if self._to_speak:
            await self._say(channel, self._to_speak)
        await self._send_answers()
        while True:
            now = time.monotonic()
            ending = self._ending
            if ending is not None and ending.due(now):
                return ending.outcome
            if now >= deadline and not self._desk.busy:
                return MonitorOutcome.SLICE_ENDED
            if now >= self._keeper.next_beat:
                await self._keeper.beat()
                continue
            wake_at = min(max(deadline, now + _TOOL_POLL_SECONDS), self._keeper.next_beat)
            if self._keypad.complete_at is not None:
                if now >= self._keypad.complete_at:
                    await self._keyed(channel, self._keypad.flush())
                    continue
                wake_at = min(wake_at, self._keypad.complete_at)
            if ending is not None:
                wake_at = min(wake_at, ending.wake_at())
            silent_until = self._silent_until()
            if silent_until is not None and ending is None:
                if now >= silent_until:
                    await self._on_silence(channel)
                    continue
                wake_at = min(wake_at, silent_until)
            try:
                while True:  # events the monitor ignores change no due time: no look at them
                    raw = await channel.receive(timeout=wake_at - now)
                    if raw is None:
                        return None
                    self._result.events += 1
                    event = parse_event(raw)
                    now = time.monotonic()
                    if event is not None or now >= wake_at:
                        break
            except TimeoutError:
                continue
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
        if outcome in _CARRIED:  # answers still owed to the model go to the next slice
            answers = tuple(await self._desk.settle())
            result.state = result.state.model_copy(update={"tool_answers": answers})
        else:
            await self._desk.cancel()
        result.tool_calls = self._desk.entries
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
        line, self._say_after_response = self._say_after_response, None
        if line and self._ending is None and not event.function_calls:
            await self._say(channel, line)
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
        self._add_turn("tool", text)
