"""Transfers: REFER, then the check that the caller really left, the retry and the fallback."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from activities import names
from blueprints.flow.base import FlowBase
from switchboard.call_control import UNCONFIRMED_CODE, Outcome
from switchboard.records import Phase


class Transfers(FlowBase):
    """The REFER and what follows it."""

    unconfirmed_refer: str | None = None

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
