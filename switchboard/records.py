"""The call record (the orchestration's output) and the plan each orchestration starts with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from switchboard.policy import Decision
from switchboard.realtime.monitor import MonitorResult
from switchboard.usage import Usage
from switchboard.webhook import IncomingCall


class Phase(StrEnum):
    """The orchestration's custom status: where the call is now."""

    SCREENING = "screening"
    RINGING = "ringing"
    ACTIVE = "active"
    TRANSFERRING = "transferring"
    ENDING = "ending"
    ENDED = "ended"


class EndReason(StrEnum):
    """Why a call ended; failures are ``error:<kind>`` strings beside these."""

    CALLER_HANGUP = "caller_hangup"
    AGENT_END_CALL = "agent_end_call"
    TRANSFERRED = "transferred"
    OPERATOR_HANGUP = "operator_hangup"
    REJECTED = "rejected"
    CALLER_GONE = "caller_gone"
    MAX_DURATION = "max_duration"


@dataclass(frozen=True)
class CallPlan:
    """Settings snapshot taken at the webhook: orchestrators never read the environment."""

    greeting: str
    slice_seconds: int
    transfer_target: str | None
    transfer_verify_seconds: int = 20
    max_call_seconds: int = 3300

    @property
    def wrap_up_seconds(self) -> int:
        """How long before the limit the agent is asked to wrap up."""
        return min(60, self.max_call_seconds // 4)

    retry_first_interval_ms: int = 1000
    retry_attempts: int = 4

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallPlan:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class CallStart:
    """The orchestration input: the verified call and the plan."""

    call: IncomingCall
    plan: CallPlan

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"call": self.call.to_dict(), "plan": self.plan.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallStart:
        """Inverse of :meth:`to_dict`."""
        return cls(IncomingCall.from_dict(data["call"]), CallPlan.from_dict(data["plan"]))


@dataclass
class CallRecord:
    """Everything known about one call: built by the orchestrator, stored by Durable."""

    call_id: str
    received_at: str
    caller: str | None = None
    callee: str | None = None
    decision: str | None = None
    decision_reason: str | None = None
    sip_status: int | None = None
    accepted_at: str | None = None
    ended_at: str | None = None
    end_reason: str | None = None
    transfer_target: str | None = None
    transfer_status: str | None = None
    turns: list[dict[str, str]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    monitor_slices: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)

    def screened(self, decision: Decision) -> None:
        """Take in the screening decision."""
        self.caller, self.callee = decision.caller, decision.callee
        self.decision = "accept" if decision.accept else "reject"
        self.decision_reason = decision.reason
        self.sip_status = decision.sip_status

    def monitored(self, result: MonitorResult) -> None:
        """Add what one monitor slice saw."""
        self.turns.extend({"speaker": t.speaker, "text": t.text, "at": t.at} for t in result.turns)
        self.usage += result.usage
        self.monitor_slices += 1
        self.reconnects += result.reconnects

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the orchestration output and the operator API's view."""
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data
