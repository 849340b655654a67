"""The call orchestration: one instance per call, a pure generator.

No I/O, clock or randomness here: time is ``context.current_utc_datetime``, every setting comes in
through the input (:class:`CallPlan`), and all work happens in activities. A live call holds a
slot in the ``call_slots`` entity from before it is answered until its orchestration ends, on
every path.
"""

import logging
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from activities import names
from blueprints.monitor_watch import MonitorWatch
from blueprints.slots import SLOTS
from switchboard.agent import TRANSFER_FAILED_LINE, WRAP_UP_LINE, greeting_instruction
from switchboard.call_control import (
    RING_TIMEOUT_CODE,
    UNCONFIRMED_CODE,
    ControlResult,
    Outcome,
)
from switchboard.operator import OperatorCommand
from switchboard.policy import Decision
from switchboard.realtime.monitor import MonitorOutcome, MonitorRequest, MonitorResult
from switchboard.realtime.slice import SliceState
from switchboard.records import CallRecord, CallStart, EndReason, Phase

logger = logging.getLogger(__name__)
bp = df.Blueprint()

Steps = Generator[Any, Any, Any]
_CLOCK_SLACK_SECONDS = 0.5  # a slice that ran to a limit ends a hair before it, by replay time
BUSY_HERE = 486
TEMPORARILY_UNAVAILABLE = 480


_HANG_UPS = {
    MonitorOutcome.END_CALL_REQUESTED: EndReason.AGENT_END_CALL,
    MonitorOutcome.SILENCE_TIMEOUT: EndReason.SILENCE,
}


@bp.orchestration_trigger(context_name="context")
def call_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    """Screen, accept or reject, monitor, and refer or hang up one call; return its record."""
    return (yield from CallFlow(context).run())


class CallFlow:
    """One call's orchestration, split into steps that read top to bottom."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.ctx = context
        start = CallStart.from_dict(context.get_input() or {})
        self.call_id = start.call.call_id
        self.call = start.call
        self.plan = start.plan
        self.retry = df.RetryOptions(self.plan.retry_first_interval_ms, self.plan.retry_attempts)
        self.record = CallRecord(call_id=self.call_id, received_at=self._now())
        self.ring_deadline = self._now_dt() + timedelta(seconds=self.plan.ring_timeout_seconds)
        self.unconfirmed_refer: str | None = None
        self.lost_slices = 0  # in a row: the call's socket could not be held
        self.slice_state = SliceState()  # from each slice's result into the next one's request
        self.watch = MonitorWatch(context, self.call_id, self.plan.slice_seconds)
        self.slice_args: tuple[str | None, int | None, bool] = (None, None, True)
        self.step = names.SCREEN_CALL
        self.operator = context.wait_for_external_event(names.OPERATOR_EVENT)
        self.verify_timer: Any = None
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
        if self.plan.max_concurrent_calls:  # every call asked for a slot as its first step
            self.ctx.signal_entity(SLOTS, "release", self.call_id)
        self.watch.release()
        return self.record.to_dict()

    def _run(self) -> Steps:
        self._phase(Phase.SCREENING)
        decision = yield from self._screen()
        self.record.screened(decision)
        if not decision.accept:
            planned = EndReason.BUSY if decision.reason == EndReason.BUSY else EndReason.REJECTED
            yield from self._reject(decision.sip_status, planned)
            return
        self._phase(Phase.RINGING)
        result = yield from self._accept(decision.after_hours)
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

    def _screen(self) -> Generator[Any, Any, Decision]:
        """Screen the caller and take a slot (if there is a limit) at once: one round trip.

        Every call's last step releases its slot (a no-op for one that got none); an unlimited app
        (0) never touches the entity.
        """
        self.step = names.SCREEN_CALL
        request = {"call": self.call.to_dict(), "at": self._now()}
        screen = self.ctx.call_activity_with_retry(names.SCREEN_CALL, self.retry, request)
        limit = self.plan.max_concurrent_calls
        if not limit:
            return Decision.from_dict((yield screen))
        acquire = {"call_id": self.call_id, "limit": limit, "at": self._now()}
        slot = self.ctx.call_entity(SLOTS, "acquire", acquire)
        yield self.ctx.task_all([screen, slot])
        decision = Decision.from_dict(screen.result)
        if decision.accept and not slot.result:
            return Decision(False, EndReason.BUSY, decision.caller, decision.callee, BUSY_HERE)
        return decision

    def _reject(self, sip_status: int | None, planned: EndReason) -> Steps:
        """Refuse the call and end with ``planned`` (or why the refusal failed)."""
        result = yield from self._refuse(sip_status)
        self._end(self._reason(result, planned, "reject"))

    def _refuse(self, sip_status: int | None) -> Generator[Any, Any, ControlResult]:
        """Reject; if an accept of ours got there first (409), hang up instead."""
        request = {"call_id": self.call_id, "sip_status": sip_status}
        result = yield from self._control(names.REJECT_CALL, request)
        if result.outcome is Outcome.REFUSED and result.status == 409:
            yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
            return ControlResult(Outcome.OK)
        return result

    def _accept(self, after_hours: bool) -> Generator[Any, Any, ControlResult | None]:
        """Accept, racing the ring limit; ``None`` when the limit came first."""
        self.step = names.ACCEPT_CALL
        request = {
            "call_id": self.call_id,
            "after_hours": after_hours,
            "deadline": self.ring_deadline.isoformat(),
        }
        accept = self.ctx.call_activity_with_retry(names.ACCEPT_CALL, self.retry, request)
        ring_limit: Any = self.ctx.create_timer(self.ring_deadline)
        winner = yield self.ctx.task_any([accept, ring_limit])
        if winner is ring_limit:
            return None
        if not ring_limit.is_completed:
            ring_limit.cancel()
        if isinstance(winner.result, Exception):
            raise winner.result
        result = ControlResult.from_dict(winner.result)
        return None if result.code == RING_TIMEOUT_CODE else result

    def _converse(self, greeting: str) -> Steps:
        """Monitor slice after slice until the call ends, acting on tools and operator commands."""
        monitor = self._monitor(greeting_instruction(greeting))
        leaving: EndReason | None = None  # what the socket closing would mean now
        while True:
            waits = [monitor, self.operator] + ([self.verify_timer] if self.verify_timer else [])
            winner = yield self.ctx.task_any([*waits, self.watch.timer])
            if winner is self.watch.timer:
                if (yield from self.watch.look(monitor)):
                    monitor = self._replace_stopped_monitor()
                continue
            if winner is self.operator:
                leaving = (yield from self._on_operator(winner.result)) or leaving
                continue
            if winner is self.verify_timer:
                self._transfer_not_completed()
                leaving = None
                continue
            self.step = names.MONITOR_CALL
            if isinstance(winner.result, Exception):
                raise winner.result
            result = MonitorResult.from_dict(winner.result)
            self.slice_state = result.state
            self.record.monitored(result, self.plan.prices)
            if result.outcome is MonitorOutcome.NOT_ATTACHED and leaving is None:
                yield from self._hang_up_unattached()
                return
            if result.outcome in (MonitorOutcome.CALL_ENDED, MonitorOutcome.NOT_ATTACHED):
                if leaving is EndReason.TRANSFERRED:
                    self.record.transfer_outcome("completed")
                self._end(leaving or EndReason.CALLER_HANGUP)
                return
            if result.outcome is MonitorOutcome.SOCKET_LOST:
                verifying = leaving is EndReason.TRANSFERRED
                monitor = self._after_lost_socket(result, verifying)
                continue
            self.lost_slices = 0
            if result.outcome in _HANG_UPS:
                yield from self._hang_up(_HANG_UPS[result.outcome])
                return
            speak: str | None = None
            if self._seconds_left(self.hard_end_at) <= _CLOCK_SLACK_SECONDS:
                yield from self._hang_up(EndReason.MAX_DURATION)
                return
            if self._seconds_left(self.wrap_up_at) <= _CLOCK_SLACK_SECONDS:
                self.wrap_up_at = None  # asked once; the next slice runs to the hard end
                speak = WRAP_UP_LINE
            target: str | None = None
            if result.outcome is MonitorOutcome.TRANSFER_REQUESTED:
                target = self.plan.target_for(result.department)
            elif leaving is EndReason.TRANSFERRED and self.verify_timer is None:
                self._transfer_not_completed()  # the verify slice ran out, the caller still here
                leaving, target = None, self._next_target()
                speak = speak or TRANSFER_FAILED_LINE
            if result.outcome is MonitorOutcome.TRANSFER_REQUESTED or target is not None:
                if (yield from self._refer(target)):
                    leaving = EndReason.TRANSFERRED
                    monitor = self._verify_slice()
                    continue
                speak = TRANSFER_FAILED_LINE
            monitor = self._monitor(speak)

    def _after_lost_socket(self, result: MonitorResult, verifying: bool) -> Any:
        """The next slice after one that could not hold the socket, going on where it stopped."""
        self.lost_slices += 1
        if self.lost_slices > self.plan.retry_attempts:
            raise RuntimeError(f"socket lost in {self.lost_slices} slices in a row")
        if verifying and self.verify_timer is None:
            return self._verify_slice()  # still checking a transfer the agent asked for
        return self._monitor(result.unsaid)

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

    def _on_operator(self, data: Any) -> Generator[Any, Any, EndReason | None]:
        """Carry out an operator command; the monitor sees the call end and returns."""
        self.operator = self.ctx.wait_for_external_event(names.OPERATOR_EVENT)
        command = OperatorCommand.from_event(data)
        self._log("operator asked to %s", command.action)
        if command.action == "hangup":
            self._phase(Phase.ENDING)
            yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
            return EndReason.OPERATOR_HANGUP
        if (yield from self._refer(command.target_uri or self.plan.transfer_target)):
            seconds = self.plan.transfer_verify_seconds
            self.verify_timer = self.ctx.create_timer(self._now_dt() + timedelta(seconds=seconds))
            return EndReason.TRANSFERRED
        return None

    def _refer(self, target: str | None) -> Generator[Any, Any, bool]:
        """REFER the caller to ``target``; ``True`` once the REFER was relayed."""
        if target is None:
            self.record.transfer_status = "no_target"
            return False
        self._phase(Phase.TRANSFERRING)
        self.record.transfer_attempted(target)
        request = {"call_id": self.call_id, "target_uri": target}
        result = yield from self._control(names.REFER_CALL, request)
        if result.outcome is Outcome.OK:
            unconfirmed = result.code == UNCONFIRMED_CODE
            self.unconfirmed_refer = target if unconfirmed else None
            self.record.transfer_outcome("unconfirmed" if unconfirmed else "referred")
            return True
        gone = result.outcome is Outcome.CALL_GONE  # hung up (or an earlier REFER of ours took it)
        self.record.transfer_outcome("call_gone" if gone else f"refused:{result.status}")
        self._phase(Phase.ACTIVE)
        return False

    def _next_target(self) -> str | None:
        """Where to try after a transfer that did not complete, if anywhere.

        The same target again if its REFER got no answer (it may never have arrived), else the
        fallback, once per call.
        """
        if self.unconfirmed_refer is not None:
            target, self.unconfirmed_refer = self.unconfirmed_refer, None
            return target
        fallback = self.plan.transfer_fallback
        if fallback is None or any(t["target"] == fallback for t in self.record.transfers):
            return None
        return fallback

    def _transfer_not_completed(self) -> None:
        self._log("transfer to %s did not complete", self.record.transfer_target)
        self.record.transfer_outcome("not_completed")
        self._cancel_verify_timer()
        self._phase(Phase.ACTIVE)

    def _leave_after_failure(self) -> Steps:
        """Best effort, so a caller is never left talking to nobody, nor ringing for nothing."""
        try:
            if self.record.accepted_at is not None:
                yield from self._control(names.HANGUP_CALL, {"call_id": self.call_id})
            else:  # not answered: do not leave it ringing
                yield from self._refuse(TEMPORARILY_UNAVAILABLE)
        except Exception as error:  # recorded: the record must still be written
            self._error("leaving after failure", error)

    def _error(self, where: str, error: Exception) -> None:
        """Record a failure by its first line: Durable's reasons carry whole tracebacks."""
        first_line = (str(error).splitlines() or [""])[0]
        self.record.errors.append(f"{where}: {first_line[:300]}")

    def _monitor(self, speak: str | None, seconds: int | None = None, converse: bool = True) -> Any:
        """Schedule a slice; it ends by the next time limit (wrap-up, then the hard end)."""
        limit = self.wrap_up_at or self.hard_end_at
        slice_seconds = min(seconds or self.plan.slice_seconds, self._seconds_left(limit))
        self.slice_args = (speak, seconds, converse)
        lease = self.watch.started()  # numbered, and watched from now on
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

    def _control(self, name: str, request: dict[str, Any]) -> Generator[Any, Any, ControlResult]:
        self.step = name
        return ControlResult.from_dict(
            (yield self.ctx.call_activity_with_retry(name, self.retry, request))
        )

    def _reason(self, result: ControlResult, ok: str, step: str) -> str:
        """The end reason after reject/accept: as planned, the caller gone, or refused."""
        if result.outcome is Outcome.OK:
            return ok
        if result.outcome is Outcome.CALL_GONE:
            return EndReason.CALLER_GONE
        self.record.errors.append(
            f"{step} refused: HTTP {result.status} {result.code or ''}".strip()
        )
        return f"error:{step}_refused"

    def _end(self, reason: str) -> None:
        self._cancel_verify_timer()
        self.record.end_reason = str(reason)
        self.record.ended_at = self._now()
        self._phase(Phase.ENDED)
        self._log("ended: %s", reason)

    def _cancel_verify_timer(self) -> None:
        if self.verify_timer is not None:
            if not self.verify_timer.is_completed:
                self.verify_timer.cancel()
            self.verify_timer = None

    def _phase(self, phase: Phase) -> None:
        self.ctx.set_custom_status({"phase": phase.value})

    def _now_dt(self) -> datetime:
        now: datetime = self.ctx.current_utc_datetime
        return now

    def _seconds_left(self, until: datetime | None) -> float:
        """Seconds until ``until`` (orchestration time); infinite when there is no limit."""
        if until is None:
            return float("inf")
        return (until - self._now_dt()).total_seconds()

    def _now(self) -> str:
        return str(self.ctx.current_utc_datetime.isoformat())

    def _log(self, message: str, *args: object) -> None:
        """Log once, not on every replay."""
        if not self.ctx.is_replaying:
            logger.info("call %s: %s", self.call_id, message % args)
