"""Who gets answered: the screening rules applied before a call is accepted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchboard.sip import Party, header, parse_party
from switchboard.webhook import IncomingCall


@dataclass(frozen=True)
class Decision:
    """Accept or reject (with the SIP status the caller hears), and who is calling whom."""

    accept: bool
    reason: str
    caller: str | None
    callee: str | None
    sip_status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as it travels through Durable."""
        return {
            "accept": self.accept,
            "reason": self.reason,
            "caller": self.caller,
            "callee": self.callee,
            "sip_status": self.sip_status,
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
        )


@dataclass(frozen=True)
class Policy:
    """Caller lists and country codes; an empty allowlist or code list admits everyone."""

    allowlist: frozenset[str] = frozenset()
    blocklist: frozenset[str] = frozenset()
    country_codes: tuple[str, ...] = ()
    reject_anonymous: bool = False
    refusal_status: int = 603

    def screen(self, call: IncomingCall) -> Decision:
        """Decide on one call from its SIP headers alone (untrusted: parsed defensively)."""
        caller = _caller(call)
        callee = parse_party(header(call.sip_headers, "To")).number
        number = caller.number

        def refuse(reason: str) -> Decision:
            return Decision(False, reason, number, callee, self.refusal_status)

        if number is None:
            if self.reject_anonymous or self.allowlist or self.country_codes:
                return refuse("anonymous" if caller.anonymous else "unparsable_caller")
            return Decision(True, "anonymous_allowed", None, callee)
        if number in self.blocklist:
            return refuse("blocklisted")
        if number in self.allowlist:
            return Decision(True, "allowlisted", number, callee)
        if self.allowlist:
            return refuse("not_allowlisted")
        if self.country_codes and not any(number.startswith("+" + c) for c in self.country_codes):
            return refuse("country_not_allowed")
        return Decision(True, "allowed", number, callee)


def _caller(call: IncomingCall) -> Party:
    """The caller from ``From``, or from ``P-Asserted-Identity`` when ``From`` hides the number."""
    party = parse_party(header(call.sip_headers, "From"))
    if party.number is None:
        asserted = parse_party(header(call.sip_headers, "P-Asserted-Identity"))
        if asserted.number is not None:
            return asserted
    return party
