"""Transfers, one path for the agent's ``transfer_call`` and the operator's command.

The hand-off line (said by the monitor for the agent's tool; said here for an operator unless
skipped), the REFER, the check that the caller really left (a verify slice, or a timer beside the
conversation slice an operator's command found running), the same target again if its REFER got
no answer or else the fallback once, and on failure the caller is told.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

from activities import names
from blueprints.flow.base import FlowBase, Steps
from switchboard.agent import HANDOFF_LINE, TRANSFER_FAILED_LINE
from switchboard.call_control import UNCONFIRMED_CODE, Outcome
from switchboard.records import EndReason, Phase


class Transfers(FlowBase):
    """The REFER and what follows it."""

    unconfirmed_refer: str | None = None

    def _transfer(self, target: str | None, handoff: bool) -> Steps:
        """Transfer the caller to ``target``, saying the hand-off line first if ``handoff``."""
        self._phase(Phase.TRANSFERRING)
        if handoff and not (yield from self._say(HANDOFF_LINE)):
            self._phase(Phase.ACTIVE)
            return  # the caller is gone: the monitor sees the call end
        yield from self._refer_and_verify(target)

    def _not_completed(self) -> Steps:
        """The caller is still here after a REFER: try the next target, or tell them."""
        self._transfer_not_completed()
        target = self._next_target()
        if target is None:
            yield from self._tell(TRANSFER_FAILED_LINE)
            return
        yield from self._refer_and_verify(target)

    def _refer_and_verify(self, target: str | None) -> Steps:
        if not (yield from self._refer(target)):
            yield from self._tell(TRANSFER_FAILED_LINE)
            return
        self.leaving = EndReason.TRANSFERRED
        if self.monitor is None:
            self.monitor = self._verify_slice()
        else:
            seconds = self.plan.transfer_verify_seconds
            self.verify_timer = self.ctx.create_timer(self._now_dt() + timedelta(seconds=seconds))

    def _tell(self, line: str) -> Steps:
        """Have ``line`` said: by the next slice, or now beside the slice under way."""
        if self.monitor is None:
            self.speak_next = line
            return
        self._phase(Phase.TRANSFERRING)  # the transfer's last step: commands wait until it is said
        yield from self._say(line)
        self._phase(Phase.ACTIVE)

    def _say(self, line: str) -> Generator[Any, Any, bool]:
        """Say ``line`` while a slice holds the socket; ``False`` when the call has ended."""
        self.step = names.SAY_LINE
        request = {"call_id": self.call_id, "line": line}
        task = self.ctx.call_activity_with_retry(names.SAY_LINE, self.retry, request)
        winner = yield from self._wait(task, act=False)
        if isinstance(winner.result, Exception):
            raise winner.result
        return bool(winner.result["said"])

    def _verify_slice(self) -> Any:
        """The monitor slice that watches the call after a REFER (the flow schedules slices)."""
        raise NotImplementedError

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
        self.leaving = None
        self._cancel_verify_timer()
        self._phase(Phase.ACTIVE)
