"""Before the answer: the screening decision, the slot, the accept racing the ring limit.

An admitted call waits for two Durable round trips only (the slot, the accept); a refused call
never asks for a slot, so a flood of refused callers cannot make an admitted one hear Busy.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from activities import names
from blueprints.flow.base import FlowBase, Steps
from blueprints.slots import SLOTS
from switchboard.call_control import RING_TIMEOUT_CODE, ControlResult, Outcome
from switchboard.operator import OperatorCommand
from switchboard.policy import Decision
from switchboard.records import EndReason, Phase

BUSY_HERE = 486
TEMPORARILY_UNAVAILABLE = 480
DECLINE = 603
"""What a caller hears when an operator hangs up a call before it is answered."""


def _busy(decision: Decision) -> Decision:
    return Decision(False, EndReason.BUSY, decision.caller, decision.callee, BUSY_HERE)


class Admission(FlowBase):
    """Screening, the slot, and the answer (or the refusal)."""

    slot_asked = False

    def _admit(self) -> Generator[Any, Any, Decision | None]:
        """The decision taken at the webhook, then a slot if it admits the caller.

        ``None`` when the call was refused here (it has been rejected and its record ended).
        """
        if self.version < 2 or self.decision is None:  # version 1 screened in an activity
            decision = yield from self._screen_in_activity()
        else:
            decision = yield from self._take_slot(self.decision)
        if decision is None:
            return None
        self.record.screened(decision)
        if not decision.accept:
            planned = EndReason.BUSY if decision.reason == EndReason.BUSY else EndReason.REJECTED
            yield from self._reject(decision.sip_status, planned)
            return None
        return decision

    def _take_slot(self, decision: Decision) -> Generator[Any, Any, Decision | None]:
        """A slot for an admitted caller (none asked for a refused one); ``None`` if declined."""
        if decision.accept and self.plan.max_concurrent_calls:
            self.slot_asked = True
            acquire = {
                "call_id": self.call_id,
                "limit": self.plan.max_concurrent_calls,
                "at": self._now(),
            }
            winner = yield from self._wait(self.ctx.call_entity(SLOTS, "acquire", acquire))
            if isinstance(winner, OperatorCommand):
                self.record.screened(decision)
                yield from self._operator_reject(winner)
                return None
            if isinstance(winner.result, Exception):
                raise winner.result
            if not winner.result:
                return _busy(decision)
        return decision

    def _screen_in_activity(self) -> Generator[Any, Any, Decision | None]:
        """Version 1: ``screen_call`` and the slot at once, as such calls were started."""
        self.step = names.SCREEN_CALL
        request = {"call": self.call.to_dict(), "at": self._now()}
        screen = self.ctx.call_activity_with_retry(names.SCREEN_CALL, self.retry, request)
        if not self.plan.max_concurrent_calls:
            done = yield from self._wait(screen, act=False)
            if isinstance(done.result, Exception):
                raise done.result
            return Decision.from_dict(done.result)
        self.slot_asked = True
        acquire = {"call_id": self.call_id, "limit": self.plan.max_concurrent_calls}
        slot = self.ctx.call_entity(SLOTS, "acquire", acquire | {"at": self._now()})
        both = yield from self._wait(self.ctx.task_all([screen, slot]), act=False)
        if isinstance(both.result, Exception):
            raise both.result
        decision = Decision.from_dict(screen.result)
        return _busy(decision) if decision.accept and not slot.result else decision

    def _operator_reject(self, command: OperatorCommand) -> Steps:
        """An operator hung up a call not yet answered: decline it."""
        self._carried_out(command)
        yield from self._reject(DECLINE, EndReason.OPERATOR_HANGUP)

    def _reject(self, sip_status: int | None, planned: EndReason) -> Steps:
        """Refuse the call and end with ``planned`` (or why the refusal failed)."""
        self._phase(Phase.ENDING)
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

    def _accept(
        self, decision: Decision
    ) -> Generator[Any, Any, ControlResult | OperatorCommand | None]:
        """Accept, racing the ring limit and operator hang-ups.

        ``None`` when the limit came first; the operator's command when one came first.
        """
        self.step = names.ACCEPT_CALL
        request = {
            "call_id": self.call_id,
            "after_hours": decision.after_hours,
            "deadline": self.ring_deadline.isoformat(),
            "caller": decision.caller,  # for the caller's memory, looked up at the accept
        }
        accept = self.ctx.call_activity_with_retry(names.ACCEPT_CALL, self.retry, request)
        ring_limit: Any = self.ctx.create_timer(self.ring_deadline)
        winner = yield from self._wait(accept, ring_limit)
        if winner is ring_limit:
            return None
        if not ring_limit.is_completed:
            ring_limit.cancel()
        if isinstance(winner, OperatorCommand):
            return winner
        if isinstance(winner.result, Exception):
            raise winner.result
        result = ControlResult.from_dict(winner.result)
        return None if result.code == RING_TIMEOUT_CODE else result
