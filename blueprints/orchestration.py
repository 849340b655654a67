"""The call orchestration: one instance per call, a pure generator.

No I/O, clock or randomness here: time is ``context.current_utc_datetime``, every setting comes in
through the input (:class:`CallPlan`, and the screening decision taken at the webhook), and all
work happens in activities. A live call holds a slot in the ``call_slots`` entity from before it is
answered until its orchestration ends, on every path, and its ``monitor_lease`` entity (if a
slice ever took one) is forgotten as it ends. The steps live in ``blueprints.flow``.
"""

import logging
from datetime import timedelta

import azure.durable_functions as df

from activities import names
from blueprints.flow.admission import TEMPORARILY_UNAVAILABLE, Admission
from blueprints.flow.analysis import analyze
from blueprints.flow.base import Steps
from blueprints.flow.conversation import Conversation
from blueprints.slots import SLOTS
from blueprints.store_steps import save_record
from switchboard import telemetry
from switchboard.call_control import Outcome
from switchboard.operator import OperatorCommand
from switchboard.records import EndReason, Phase

logger = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def call_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    """Admit, accept or reject, monitor, and refer or hang up one call; return its record."""
    return (yield from CallFlow(context).run())


class CallFlow(Admission, Conversation):
    """One call's orchestration, split into steps that read top to bottom."""

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
        self.watch.release()
        yield from self._after_the_call()
        return self.record.to_dict()

    def _after_the_call(self) -> Steps:
        """The analysis, then the stored record and its events; the dashboard's one event.

        Calls started under version 1 had none of these steps: their histories end without them.
        """
        if self.version >= 2:
            yield from analyze(self.ctx, self.retry, self.plan, self.record)
            yield from save_record(
                self.ctx,
                names.RECORD_CALL_ENDED,
                self.record,
                self._refuse_late_commands,
                settle_lost_started=self.version >= 3,
            )
        if not self.ctx.is_replaying:
            telemetry.call_ended(self.record, self.call.created_at)

    def _run(self) -> Steps:
        self._phase(Phase.SCREENING)
        decision = yield from self._admit()
        if decision is None:
            return
        self._phase(Phase.RINGING)
        result = yield from self._accept(decision)
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
        if self.version >= 2:  # listed as live once answered: no hop on the answer path
            yield from save_record(self.ctx, names.RECORD_CALL_STARTED, self.record)
        after_hours = self.plan.after_hours_greeting if decision.after_hours else None
        yield from self._converse(after_hours or self.plan.greeting)

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
