"""The call orchestration: one instance per call, a pure generator.

No I/O, clock or randomness here: time is ``context.current_utc_datetime``, every setting comes in
through the input (:class:`CallPlan`, and the screening decision taken at the webhook), and all
work happens in activities. A live call holds a slot in the ``call_slots`` entity from before it is
answered until its orchestration ends, on every path. The steps live in ``blueprints.flow``.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities import names
from blueprints.flow.admission import TEMPORARILY_UNAVAILABLE, Admission
from blueprints.flow.base import Steps
from blueprints.flow.transfer import Transfers
from blueprints.slots import SLOTS
from switchboard.agent import WRAP_UP_LINE, greeting_instruction
from switchboard.call_control import Outcome
from switchboard.operator import OperatorCommand
from switchboard.realtime.monitor import MonitorOutcome, MonitorRequest, MonitorResult
from switchboard.records import EndReason, Phase

logger = logging.getLogger(__name__)
bp = df.Blueprint()

_CLOCK_SLACK_SECONDS = 0.5  # a slice that ran to a limit ends a hair before it, by replay time


_HANG_UPS = {
    MonitorOutcome.END_CALL_REQUESTED: EndReason.AGENT_END_CALL,
    MonitorOutcome.SILENCE_TIMEOUT: EndReason.SILENCE,
}


@bp.orchestration_trigger(context_name="context")
def call_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    """Admit, accept or reject, monitor, and refer or hang up one call; return its record."""
    return (yield from CallFlow(context).run())


class CallFlow(Admission, Transfers):
    """One call's orchestration, split into steps that read top to bottom."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        super().__init__(context)
        self.lost_slices = 0  # in a row: the call's socket could not be held
        self.wrap_up_at: datetime | None = None
        self.hard_end_at: datetime | None = None

    def run(self) -> Steps:
        """Run the call; any failure past Durable's retries still ends in a record."""
        try:
            yield from self._run()
        except Exception as error:  # an activity failed for good: end the call, keep the record
            self._error(self.step, error)
            failed_step = self.step
            yield from self._leave_after_failure()
            self._end(f"error:{failed_step}")
        if self.slot_asked:
            self.ctx.signal_entity(SLOTS, "release", self.call_id)
        return self.record.to_dict()

    def _run(self) -> Steps:
        self._phase(Phase.SCREENING)
        decision = yield from self._admit()
        if decision is None:
            return
        self._phase(Phase.RINGING)
        result = yield from self._accept(decision.after_hours)
        if isinstance(result, OperatorCommand):
            yield from self._operator_reject(result)
            return
        if result is None:
            self._log("not answered within %ss: abandoned", self.plan.ring_timeout_seconds)
            yield from self._reject(TEMPORARILY_UNAVAILABLE, EndReason.RING_TIMEOUT)
            return
        if result.outcome is not Outcome.OK:
            self._end(self._reason(result, EndReason.CALLER_GONE, "accept"))
            return
        self.record.accepted_at = self._now()
        self.hard_end_at = self._now_dt() + timedelta(seconds=self.plan.max_call_seconds)
        self.wrap_up_at = self.hard_end_at - timedelta(seconds=self.plan.wrap_up_seconds)
        self._phase(Phase.ACTIVE)
        after_hours = self.plan.after_hours_greeting if decision.after_hours else None
        yield from self._converse(after_hours or self.plan.greeting)

    def _converse(self, greeting: str) -> Steps:
        """Monitor slice after slice until the call ends, acting on tools and operator commands."""
        self.monitor = self._monitor(greeting_instruction(greeting))
        while self.record.end_reason is None:
            timers = [self.verify_timer] if self.verify_timer else []
            winner = yield from self._wait(self.monitor, *timers)
            if isinstance(winner, OperatorCommand):
                yield from self._on_operator(winner)
            elif winner is self.verify_timer:
                yield from self._not_completed()
            else:
                yield from self._on_slice(winner)

    def _on_slice(self, slice_task: Any) -> Steps:
        """A monitor slice came back: end, hang up, transfer, or go on with the next slice."""
        self.step = names.MONITOR_CALL
        if isinstance(slice_task.result, Exception):
            raise slice_task.result
        result = MonitorResult.from_dict(slice_task.result)
        self.record.monitored(result, self.plan.prices)
        if result.outcome is MonitorOutcome.CALL_ENDED:
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

    def _verify_slice(self) -> Any:
        """Watch the call after a REFER: tools refused, over as soon as the caller speaks."""
        return self._monitor(None, self.plan.transfer_verify_seconds, converse=False)

    def _hang_up(self, reason: str) -> Steps:
        self._phase(Phase.ENDING)
        yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
        self._end(reason)

    def _on_operator(self, command: OperatorCommand) -> Steps:
        """Carry out an operator command; the monitor sees the call end and returns."""
        self._carried_out(command)
        if command.action == "hangup":
            self._phase(Phase.ENDING)
            yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
            self.leaving = EndReason.OPERATOR_HANGUP
            return
        yield from self._transfer(command.target_uri or self.plan.transfer_target, command.handoff)

    def _leave_after_failure(self) -> Steps:
        """Best effort, so a caller is never left talking to nobody, nor ringing for nothing."""
        self._phase(Phase.ENDING)
        try:
            if self.record.accepted_at is not None:
                yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
            else:  # not answered: do not leave it ringing
                yield from self._refuse(TEMPORARILY_UNAVAILABLE)
        except Exception as error:  # recorded: the record must still be written
            self._error("leaving after failure", error)

    def _monitor(self, speak: str | None, seconds: int | None = None, converse: bool = True) -> Any:
        """Schedule a slice; it ends by the next time limit (wrap-up, then the hard end)."""
        limit = self.wrap_up_at or self.hard_end_at
        slice_seconds = min(seconds or self.plan.slice_seconds, self._seconds_left(limit))
        request = MonitorRequest(
            call_id=self.call_id,
            slice_seconds=max(slice_seconds, 1.0),
            speak=speak,
            converse=converse,
            silence_seconds=self.plan.silence_seconds if converse else 0,
        )
        return self.ctx.call_activity_with_retry(names.MONITOR_CALL, self.retry, request.to_dict())
