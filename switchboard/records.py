"""The call record (the orchestration's output) and the plan each orchestration starts with."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from switchboard.policy import Decision
from switchboard.realtime.monitor import MonitorResult
from switchboard.realtime.slice import (
    MAX_TOOL_CALLS,
    MAX_TRANSCRIPT_CHARS,
    MAX_TURNS,
    TRUNCATED_MARK,
    bounded_text,
)
from switchboard.usage import Prices, Usage
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
    BUSY = "busy"
    RING_TIMEOUT = "ring_timeout"
    SILENCE = "silence"


@dataclass(frozen=True)
class CallPlan:
    """Settings snapshot taken at the webhook: orchestrators never read the environment."""

    greeting: str
    slice_seconds: int
    transfer_target: str | None
    after_hours_greeting: str | None = None
    transfer_targets: dict[str, str] = field(default_factory=dict)
    transfer_fallback: str | None = None
    transfer_verify_seconds: int = 20
    max_call_seconds: int = 3300
    ring_timeout_seconds: int = 30
    silence_seconds: int = 30
    max_concurrent_calls: int = 0
    prices: Prices = field(default_factory=Prices)
    retry_first_interval_ms: int = 1000
    retry_attempts: int = 4
    analysis: bool = False

    @property
    def wrap_up_seconds(self) -> int:
        """How long before the limit the agent is asked to wrap up."""
        return min(60, self.max_call_seconds // 4)

    def target_for(self, department: str | None) -> str | None:
        """The department's target, else the default one."""
        return self.transfer_targets.get((department or "").lower()) or self.transfer_target

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallPlan:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "prices": Prices(**data.get("prices", {}))})


@dataclass(frozen=True)
class CallStart:
    """The orchestration input: the verified call, the plan, and the screening decision.

    Screening is pure policy, so ingress decides it when the webhook arrives (at the time the
    service signed) and the orchestration spends no Durable round trip on it.
    """

    call: IncomingCall
    plan: CallPlan
    decision: Decision | None
    """``None`` in calls started under orchestration version 1, which screened in an activity."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        data = {"call": self.call.to_dict(), "plan": self.plan.to_dict()}
        return data | ({"decision": self.decision.to_dict()} if self.decision else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallStart:
        """Inverse of :meth:`to_dict`."""
        decision = data.get("decision")
        return cls(
            IncomingCall.from_dict(data["call"]),
            CallPlan.from_dict(data["plan"]),
            Decision.from_dict(decision) if decision else None,
        )


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
    after_hours: bool = False
    accepted_at: str | None = None
    ended_at: str | None = None
    end_reason: str | None = None
    transfer_target: str | None = None
    transfer_status: str | None = None
    transfers: list[dict[str, str]] = field(default_factory=list)
    commands: list[dict[str, str]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    turns_left_out: int = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    estimated_cost_usd: float = 0.0
    monitor_slices: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    analysis: dict[str, Any] | None = None
    analysis_error: str | None = None

    def screened(self, decision: Decision) -> None:
        """Take in the screening decision."""
        self.caller, self.callee = decision.caller, decision.callee
        self.decision = "accept" if decision.accept else "reject"
        self.decision_reason = decision.reason
        self.sip_status = decision.sip_status
        self.after_hours = decision.after_hours

    def monitored(self, result: MonitorResult, prices: Prices) -> None:
        """Add what one monitor slice saw; turn offsets count from the answer.

        The transcript is bounded (``MAX_TURNS``, ``MAX_TRANSCRIPT_CHARS``): turns past the
        bounds are counted in ``turns_left_out``, and a cut turn ends with a marker.
        """
        answered = datetime.fromisoformat(self.accepted_at or self.received_at)
        room = MAX_TRANSCRIPT_CHARS - sum(len(turn["text"]) for turn in self.turns)
        self.turns_left_out += result.turns_left_out
        for t in result.turns:
            if len(self.turns) >= MAX_TURNS or room <= len(TRUNCATED_MARK):
                self.turns_left_out += 1
                continue
            text = bounded_text(t.text, room)
            room -= len(text)
            offset = (datetime.fromisoformat(t.at) - answered).total_seconds()
            self.turns.append(
                {"speaker": t.speaker, "text": text, "at": t.at, "offset_seconds": round(offset, 3)}
            )
        self.tool_calls += result.tool_calls[: max(MAX_TOOL_CALLS - len(self.tool_calls), 0)]
        self.usage += result.usage
        self.estimated_cost_usd = prices.cost(self.usage)
        self.monitor_slices += 1
        self.reconnects += result.reconnects

    def transfer_attempted(self, target: str) -> None:
        """A REFER to ``target`` begins; ``transfers`` keeps every attempt, in order."""
        self.transfers.append({"target": target, "status": "referring"})
        self.transfer_target, self.transfer_status = target, "referring"

    def transfer_outcome(self, status: str) -> None:
        """The latest attempt's status: referred, completed, not_completed, refused:<http>."""
        self.transfer_status = status
        if self.transfers:
            self.transfers[-1]["status"] = status

    def command_handled(self, command_id: str, action: str, outcome: str) -> None:
        """An operator command was carried out (``done``) or refused (``refused:<why>``)."""
        self.commands.append({"id": command_id, "action": action, "outcome": outcome})

    def handled(self, command_id: str) -> bool:
        """Whether the command with this id was already handled (a second delivery is a no-op)."""
        return any(c["id"] == command_id for c in self.commands)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the orchestration output and the operator API's view."""
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data
