"""The answered call: monitor slice after slice, and what each slice's result asks for.

Everything the conversation waits on (the slice, an operator transfer's check timer, the watch
on the slice) goes through one ``_wait`` beside the operator command waits, so a command is
taken whenever it arrives. What must outlive a slice travels in its result's ``SliceState`` into
the next slice's request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities import names
from blueprints.flow.base import Steps
from blueprints.flow.transfer import Transfers
from blueprints.flow.watch import MonitorWatch
from switchboard.agent import WRAP_UP_LINE, greeting_instruction
from switchboard.call_control import Outcome
from switchboard.operator import OperatorCommand
from switchboard.realtime.monitor import MonitorOutcome, MonitorRequest, MonitorResult
from switchboard.realtime.slice import SliceState
from switchboard.records import EndReason, Phase

_CLOCK_SLACK_SECONDS = 0.5  # a slice that ran to a limit ends a hair before it, by replay time

_HANG_UPS = {
    MonitorOutcome.END_CALL_REQUESTED: EndReason.AGENT_END_CALL,
    MonitorOutcome.SILENCE_TIMEOUT: EndReason.SILENCE,
}


class Conversation(Transfers):
    """The slices of an answered call, their watch, and the hang-ups they lead to."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        super().__init__(context)
        self.lost_slices = 0  # in a row: the call's socket could not be held
        self.wrap_up_at: datetime | None = None
        self.hard_end_at: datetime | None = None
        self.slice_state = SliceState()  # from each slice's result into the next one's request
        self.watch = MonitorWatch(
            context, self.call_id, self.plan.slice_seconds, enabled=self.version >= 2
        )
        self.slice_args: tuple[str | None, int | None, bool] = (None, None, True)

    def _converse(self, greeting: str) -> Steps:
        """Monitor slice after slice until the call ends, acting on tools and operator commands."""
        self.monitor = self._monitor(greeting_instruction(greeting))
        while self.record.end_reason is None:
            timers = [self.verify_timer] if self.verify_timer else []
            winner = yield from self._wait(self.monitor, *timers, *self.watch.tasks())
            if isinstance(winner, OperatorCommand):
                yield from self._on_operator(winner)
            elif winner is self.verify_timer:
                yield from self._not_completed()
            elif self.watch.owns(winner):
                if self.watch.stopped(self.monitor):
                    self.monitor = self._replace_stopped_monitor()
            else:
                yield from self._on_slice(winner)

    def _on_operator(self, command: OperatorCommand) -> Steps:
        """Carry out an operator command (the flow knows how)."""
        raise NotImplementedError

    def _on_slice(self, slice_task: Any) -> Steps:
        """A monitor slice came back: end, hang up, transfer, or go on with the next slice."""
        self.step = names.MONITOR_CALL
        if isinstance(slice_task.result, Exception):
            raise slice_task.result
        result = MonitorResult.from_dict(slice_task.result)
        self.slice_state = result.state
        self.record.monitored(result, self.plan.prices)
        if result.outcome is MonitorOutcome.NOT_ATTACHED and self.leaving is None:
            yield from self._hang_up_unattached()
            return
        if result.outcome in (MonitorOutcome.CALL_ENDED, MonitorOutcome.NOT_ATTACHED):
            if self.leaving is EndReason.TRANSFERRED:
                self.record.transfer_outcome("completed")
            self._end(self.leaving or EndReason.CALLER_HANGUP)
            return
        if result.outcome is MonitorOutcome.SOCKET_LOST:
            self.monitor = self._after_lost_socket(result)
            return
        self.lost_slices = 0
        if result.outcome in _HANG_UPS:
            yield from self._hang_up(_HANG_UPS[result.outcome])
            return
        if self._seconds_left(self.hard_end_at) <= _CLOCK_SLACK_SECONDS:
            yield from self._hang_up(EndReason.MAX_DURATION)
            return
        if self._seconds_left(self.wrap_up_at) <= _CLOCK_SLACK_SECONDS:
            self.wrap_up_at = None  # asked once; the next slice runs to the hard end
            self.speak_next = WRAP_UP_LINE
        self.monitor = None
        transfer = result.outcome is MonitorOutcome.TRANSFER_REQUESTED
        if transfer and self.leaving is not EndReason.TRANSFERRED:  # the agent said its hand-off
            yield from self._transfer(self.plan.target_for(result.department), handoff=False)
        elif self.leaving is EndReason.TRANSFERRED and self.verify_timer is None:
            yield from self._not_completed()  # the verify slice ended, the caller still here
        if self.monitor is None:
            self.monitor, self.speak_next = self._monitor(self.speak_next), None

    def _after_lost_socket(self, result: MonitorResult) -> Any:
        """The next slice after one that could not hold the socket, going on where it stopped."""
        self.lost_slices += 1
        if self.lost_slices > self.plan.retry_attempts:
            raise RuntimeError(f"socket lost in {self.lost_slices} slices in a row")
        if self.leaving is EndReason.TRANSFERRED and self.verify_timer is None:
            return self._verify_slice()  # still checking a transfer the agent asked for
        return self._monitor(result.unsaid)

    def _replace_stopped_monitor(self) -> Any:
        """The running slice stopped beating (its worker lost): the same slice, newer lease."""
        self.step = names.MONITOR_CALL
        lease, every = self.watch.lease, self.watch.every
        self.record.errors.append(f"monitor: slice {lease} stopped beating for {every:.0f}s")
        self.lost_slices += 1
        if self.lost_slices > self.plan.retry_attempts:
            raise RuntimeError(f"monitor stopped in {self.lost_slices} slices in a row")
        self._log("monitor slice %d stopped, starting another", lease)
        return self._monitor(*self.slice_args)

    def _verify_slice(self) -> Any:
        """Watch the call after a REFER: tools refused, over as soon as the caller speaks."""
        return self._monitor(None, self.plan.transfer_verify_seconds, converse=False)

    def _hang_up(self, reason: str) -> Steps:
        self._phase(Phase.ENDING)
        yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
        self._end(reason)

    def _hang_up_unattached(self) -> Steps:
        """Answered, but no socket could attach: hang up, or it stays up at the service in silence.

        The service refuses a socket to a call that has ended, so the hang-up's answer says which
        it was: 404, the caller had gone; done, the call was up and only the socket was refused.
        """
        self._phase(Phase.ENDING)
        result = yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
        if result.outcome is Outcome.CALL_GONE:
            self._end(EndReason.CALLER_HANGUP)
            return
        self.record.errors.append("monitor: the call's socket was refused while the call was up")
        self._end("error:socket_refused")

    def _monitor(self, speak: str | None, seconds: int | None = None, converse: bool = True) -> Any:
        """Schedule a slice; it ends by the next time limit (wrap-up, then the hard end)."""
        limit = self.wrap_up_at or self.hard_end_at
        slice_seconds = min(seconds or self.plan.slice_seconds, self._seconds_left(limit))
        self.slice_args = (speak, seconds, converse)
        lease = self.watch.started()  # numbered, and watched from now on (version 2 on)
        request = MonitorRequest(
            call_id=self.call_id,
            slice_seconds=max(slice_seconds, 1.0),
            speak=speak,
            converse=converse,
            silence_seconds=self.plan.silence_seconds if converse else 0,
            state=self.slice_state,
            lease=lease,
        )
        return self.ctx.call_activity_with_retry(names.MONITOR_CALL, self.retry, request.to_dict())
