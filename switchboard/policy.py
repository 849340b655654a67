"""Who gets answered: the screening rules applied before a call is accepted."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from switchboard.hours import BusinessHours
from switchboard.numbers import country_code
from switchboard.sip import FROM, Standing, caller_identity, headers_named, parse_party
from switchboard.webhook import IncomingCall


@dataclass(frozen=True)
class Decision:
    """Accept or reject (with the SIP status the caller hears), and who is calling whom.

    ``after_hours`` accepts use the agent's after-hours instructions and greeting.
    """

    accept: bool
    reason: str
    caller: str | None
    callee: str | None
    sip_status: int | None = None
    after_hours: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as it travels through Durable."""
        return {
            "accept": self.accept,
            "reason": self.reason,
            "caller": self.caller,
            "callee": self.callee,
            "sip_status": self.sip_status,
            "after_hours": self.after_hours,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """Inverse of :meth:`to_dict`."""
        return cls(
            accept=bool(data["accept"]),
            reason=str(data["reason"]),
            caller=data.get("caller"),
            callee=data.get("callee"),
            sip_status=data.get("sip_status"),
            after_hours=bool(data.get("after_hours", False)),
        )


@dataclass(frozen=True)
class Policy:
    """Who may call (caller lists, country codes) and when (business hours).

    An empty allowlist or code list admits everyone; no business hours means always open. The
    caller's number is read from ``caller_id_header`` only (see :func:`caller_identity`) and
    compared as E.164, national forms read in ``region``.
    """

    allowlist: frozenset[str] = frozenset()
    blocklist: frozenset[str] = frozenset()
    country_codes: frozenset[int] = frozenset()
    reject_anonymous: bool = False
    refusal_status: int = 603
    hours: BusinessHours | None = None
    after_hours_accept: bool = False
    after_hours_status: int = 480
    caller_id_header: str = FROM
    region: str | None = None

    def screen(self, call: IncomingCall, at: datetime) -> Decision:
        """Decide on one call from its SIP headers and the time it arrived (orchestration time)."""
        decision = self._who(call)
        if not decision.accept or self.hours is None or self.hours.is_open(at):
            return decision
        if self.after_hours_accept:
            return replace(decision, reason="after_hours", after_hours=True)
        return replace(
            decision, accept=False, reason="after_hours", sip_status=self.after_hours_status
        )

    def _who(self, call: IncomingCall) -> Decision:
        """The caller's side of the decision, from untrusted SIP headers parsed strictly."""
        caller = caller_identity(call.sip_headers, self.caller_id_header, self.region)
        to = headers_named(call.sip_headers, "to")
        callee = parse_party(to[0], self.region).number if len(to) == 1 else None
        number = caller.number

        def refuse(reason: str) -> Decision:
            return Decision(False, reason, number, callee, self.refusal_status)

        if number is None:
            reason = _NO_NUMBER_REASONS[caller.standing]
            if self.reject_anonymous or self.allowlist or self.country_codes:
                return refuse(reason)
            if self.blocklist and caller.standing is not Standing.ANONYMOUS:
                return refuse(reason)  # it may be a blocked number written so we cannot read it
            return Decision(True, "anonymous_allowed", None, callee)
        if number in self.blocklist:
            return refuse("blocklisted")
        if number in self.allowlist:
            return Decision(True, "allowlisted", number, callee)
        if self.allowlist:
            return refuse("not_allowlisted")
        if self.country_codes and country_code(number) not in self.country_codes:
            return refuse("country_not_allowed")
        return Decision(True, "allowed", number, callee)


_NO_NUMBER_REASONS = {
    Standing.ANONYMOUS: "anonymous",
    Standing.UNKNOWN: "unparsable_caller",
    Standing.AMBIGUOUS: "ambiguous_caller",
    Standing.NUMBER: "unparsable_caller",  # not reached: a NUMBER party has a number
}
