"""What the model and the caller ask of a call, and the leaving requests that come of it.

The built-in tools (``transfer_call``, ``end_call``), the agent's HTTP tools (answered through
the :class:`ToolDesk`, as owned tasks, while the monitor keeps reading events), and keys the
caller presses (mapped keys act like the built-in tools, exactly once; other keys reach the
model grouped). A leaving request is kept with the lease, so that a slice that never returns
still has it carried out by the next one. The monitor (``switchboard.realtime.monitor``) is this
class with a socket: it holds the state declared here and dispatches events to these handlers.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from switchboard.agent import (
    END_CALL,
    GOODBYE_LINE,
    HANDOFF_LINE,
    KEYPAD_LINE,
    TOOL_ANSWER_LINE,
    TRANSFER_CALL,
    UNKNOWN_TOOL_LINE,
)
from switchboard.agent_tools import KeypadAction
from switchboard.realtime.channel import ChannelDropped, RealtimeChannel
from switchboard.realtime.ending import LAST_LINES, Ending
from switchboard.realtime.events import FunctionCall, Keypress
from switchboard.realtime.keypad import KeypadGroups, keyed_text
from switchboard.realtime.lease import Lease, LeaseKeeper, Superseded
from switchboard.realtime.slice import MonitorOutcome, MonitorRequest, MonitorResult, PendingEnd
from switchboard.realtime.tool_desk import ToolDesk

logger = logging.getLogger(__name__)


class CallActions:
    """Tool calls, keypad keys and leaving requests: the half of the monitor that acts."""

    _request: MonitorRequest
    _lease: Lease
    _keeper: LeaseKeeper
    _result: MonitorResult
    _ending: Ending | None
    _to_speak: str | None
    """A line asked for and not yet begun: asked again on the next socket."""
    _agent_speaking: bool
    _caller_still_here: bool
    _channel: RealtimeChannel | None
    """The attached socket, for answers that arrive between events."""
    _desk: ToolDesk
    _keypad: KeypadGroups
    _say_after_response: str | None
    """A line to ask for once the response under way ends (asking during it is refused)."""

    def _heard_caller(self) -> None:
        """The caller did something: the silence clock starts again (the monitor keeps it)."""
        raise NotImplementedError

    def _add_turn(self, speaker: str, text: str) -> None:
        """Keep a turn (the monitor also sends it to the live transcript)."""
        raise NotImplementedError

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

    async def _say(self, channel: RealtimeChannel, line: str) -> None:
        """Ask the agent to say ``line``; it is asked again on the next socket until it begins."""
        self._to_speak = line
        await self._keeper.may_act()
        await respond(channel, line)

    async def _on_function_call(self, call: FunctionCall, channel: RealtimeChannel) -> None:
        """Answer a tool call; the leaving tools also ask the model for its last line."""
        logger.info("call %s: model called %s", self._request.call_id, call.name)
        await self._keeper.may_act()
        if not self._request.converse or self._ending is not None:
            await _tool_output(channel, call, {"ok": False, "error": "the call is already ending"})
            return
        if call.name == TRANSFER_CALL:
            department = call.parsed_arguments().get("department")
            await self._leave(MonitorOutcome.TRANSFER_REQUESTED, department)
            await _tool_output(channel, call, {"ok": True, "status": "transferring"})
            line = HANDOFF_LINE
        elif call.name == END_CALL:
            await self._leave(MonitorOutcome.END_CALL_REQUESTED, None)
            await _tool_output(channel, call, {"ok": True, "status": "ending"})
            line = GOODBYE_LINE
        elif self._desk.declares(call.name):
            if self._desk.start(call.call_id, call.name, call.arguments) != "too_many":
                return  # answered when it returns (a repeated call id: answered already)
            error = {"code": "too_many_calls", "message": "No more lookups on this call."}
            await _tool_output(channel, call, {"error": error})
            line = TOOL_ANSWER_LINE
        else:
            await _tool_output(channel, call, {"ok": False, "error": f"unknown tool {call.name}"})
            line = UNKNOWN_TOOL_LINE
        await self._say(channel, line)

    async def _leave(self, outcome: MonitorOutcome, department: object) -> None:
        """A transfer or goodbye the agent (or a mapped key) asked for: taken once."""
        self._begin_ending(outcome, department)
        await self._record_ending(line_begun=False)

    async def _send_answers(self) -> None:
        """Send the HTTP tool answers waiting at the desk, then ask the agent to speak."""
        channel, answers = self._channel, self._desk.take()
        if channel is None or not answers:
            self._desk.give_back(answers)
            return
        try:
            await self._keeper.may_act()
            while answers:
                await _function_output(channel, answers[0].call_id, answers[0].output)
                answers.pop(0)
            if self._ending is not None or not self._request.converse:
                return
            await self._say_when_free(channel, TOOL_ANSWER_LINE)
        except (ChannelDropped, Superseded):
            self._desk.give_back(answers)  # the monitor's own loop notices either soon

    async def _say_while_waiting(self, line: str) -> None:
        """A slow tool call: the agent says its waiting line, unless it is speaking anyway."""
        channel = self._channel
        if channel is None or self._ending is not None or self._agent_speaking or self._to_speak:
            return
        try:
            await self._say(channel, f'Say to the caller: "{line}"')
        except (ChannelDropped, Superseded):
            return

    async def _on_keypress(self, event: Keypress, channel: RealtimeChannel) -> None:
        """A mapped key acts at once; other keys reach the model grouped (``keypad``)."""
        self._heard_caller()
        if not self._request.converse:
            self._caller_still_here = True
            return
        pressed = self._keypad.press(event.key)
        if not isinstance(pressed, KeypadAction):
            await self._keyed(channel, pressed)
            return
        if self._ending is not None:
            return  # already leaving: a second key changes nothing
        self._add_turn("keypad", event.key)
        await self._keeper.may_act()
        if pressed.action == "transfer":
            await self._leave(MonitorOutcome.TRANSFER_REQUESTED, pressed.department)
            await self._say(channel, HANDOFF_LINE)
        else:
            await self._leave(MonitorOutcome.END_CALL_REQUESTED, None)
            await self._say(channel, GOODBYE_LINE)

    async def _keyed(self, channel: RealtimeChannel, group: str | None) -> None:
        """A complete group of keys: into the transcript, and to the model as the caller's."""
        if group is None:
            return
        self._add_turn("keypad", group)
        if self._ending is not None:
            return
        await self._keeper.may_act()
        content = [{"type": "input_text", "text": keyed_text(group)}]
        item = {"type": "message", "role": "user", "content": content}
        await channel.send({"type": "conversation.item.create", "item": item})
        await self._say_when_free(channel, KEYPAD_LINE)

    async def _say_when_free(self, channel: RealtimeChannel, line: str) -> None:
        """Ask for ``line`` now, or after the response under way (a second one is refused)."""
        if self._to_speak is None and not self._agent_speaking:
            await self._say(channel, line)
        else:
            self._say_after_response = line

    def _begin_ending(self, outcome: MonitorOutcome, department: object) -> None:
        timeout = self._request.tool_response_timeout_seconds
        self._ending = Ending.begin(outcome, department, timeout)


async def respond(channel: RealtimeChannel, instructions: str) -> None:
    """Ask the model for a response, following ``instructions``."""
    await channel.send({"type": "response.create", "response": {"instructions": instructions}})


async def _tool_output(
    channel: RealtimeChannel, call: FunctionCall, output: dict[str, Any]
) -> None:
    await _function_output(channel, call.call_id, json.dumps(output))


async def _function_output(channel: RealtimeChannel, call_id: str, output: str) -> None:
    item = {"type": "function_call_output", "call_id": call_id, "output": output}
    await channel.send({"type": "conversation.item.create", "item": item})


def now() -> str:
    """The wall time of a turn, as the record keeps it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
