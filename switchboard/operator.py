"""Operator commands (transfer, hang up) as they travel from the HTTP API to the orchestration.

Each command carries an id given by the API; the orchestration records every id it has handled,
so a command delivered twice (by a retried request or by the Durable SDK, which hands an event
raised while the orchestrator was busy to later waits again) has one effect. What a command does
depends on the call's phase (:func:`refusal`); one call takes at most :data:`COMMANDS_PER_CALL`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from switchboard.records import Phase
from switchboard.sip import TargetRules, is_transfer_target

Action = Literal["transfer", "hangup"]
COMMANDS_PER_CALL = 10
"""Commands one call takes: the API answers 429 past it and the orchestration waits for no more."""
_COMMAND_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_ACTS_IN: dict[str, frozenset[Phase]] = {
    "hangup": frozenset({Phase.SCREENING, Phase.RINGING, Phase.ACTIVE}),
    "transfer": frozenset({Phase.ACTIVE}),
}
_REFUSALS = {
    Phase.SCREENING: "not_answered",
    Phase.RINGING: "not_answered",
    Phase.TRANSFERRING: "transfer_in_progress",
    Phase.ENDING: "ending",
    Phase.ENDED: "ended",
}


def refusal(action: str, phase: Phase) -> str | None:
    """Why ``action`` cannot be carried out in ``phase``; ``None`` when it can.

    A hang-up before the answer rejects the call; a transfer needs an answered call; nothing
    interrupts a transfer or a hang-up already under way.
    """
    return None if phase in _ACTS_IN[action] else _REFUSALS.get(phase, "not_possible")


@dataclass(frozen=True)
class OperatorCommand:
    """One command for a live call; ``handoff=False`` transfers without the hand-off line."""

    id: str
    action: Action
    target_uri: str | None = None
    handoff: bool = True

    @classmethod
    def transfer(
        cls, command_id: str, body: bytes, rules: TargetRules | None = None
    ) -> OperatorCommand:
        """From a transfer body: empty, or ``{"target_uri": "tel:..."|"sip:...", "handoff": b}``.

        A given target must pass :func:`is_transfer_target` and ``rules`` (the operator's
        ``TRANSFER_ALLOWED_TARGETS``).
        """
        if not body.strip():
            return cls(command_id, "transfer")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise ValueError("body must be JSON") from None
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        if set(data) - {"target_uri", "handoff"}:
            raise ValueError("only target_uri and handoff may be given")
        target = data.get("target_uri")
        if target is not None and (not isinstance(target, str) or not is_transfer_target(target)):
            raise ValueError("target_uri must be a tel: (E.164) or sip: URI")
        if target is not None and rules is not None and not rules.admits(target):
            raise ValueError("target_uri is not among the allowed transfer targets")
        handoff = data.get("handoff", True)
        if not isinstance(handoff, bool):
            raise ValueError("handoff must be true or false")
        return cls(command_id, "transfer", target, handoff)

    def to_event(self) -> dict[str, Any]:
        """The external event's payload."""
        return {
            "id": self.id,
            "action": self.action,
            "target_uri": self.target_uri,
            "handoff": self.handoff,
        }

    @classmethod
    def from_event(cls, data: Any) -> OperatorCommand | None:
        """From the event as the orchestrator receives it (the host may deliver a JSON *string*).

        ``None`` for a payload that is not a command: it is logged and has no effect.
        """
        try:
            if isinstance(data, str):
                data = json.loads(data)
            command_id, action = data.get("id"), data.get("action")
            target, handoff = data.get("target_uri"), data.get("handoff", True)
        except (ValueError, AttributeError, RecursionError):
            return None
        if not isinstance(command_id, str) or not _COMMAND_ID.match(command_id):
            return None
        if action not in ("transfer", "hangup") or not isinstance(handoff, bool):
            return None
        if target is not None and (not isinstance(target, str) or not is_transfer_target(target)):
            return None
        return cls(command_id, action, target, handoff)
