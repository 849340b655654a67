"""Operator commands (transfer, hang up) as they travel from the HTTP API to the orchestration."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from switchboard.sip import TargetRules, is_transfer_target

Action = Literal["transfer", "hangup"]


@dataclass(frozen=True)
class OperatorCommand:
    """One command for a live call."""

    action: Action
    target_uri: str | None = None

    @classmethod
    def transfer(cls, body: bytes, rules: TargetRules | None = None) -> OperatorCommand:
        """From a transfer request body: empty, or ``{"target_uri": "tel:..."|"sip:..."}``.

        A given target must pass :func:`is_transfer_target` and ``rules`` (the operator's
        ``TRANSFER_ALLOWED_TARGETS``).
        """
        if not body.strip():
            return cls("transfer")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise ValueError("body must be JSON") from None
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        target = data.get("target_uri")
        if target is not None and (not isinstance(target, str) or not is_transfer_target(target)):
            raise ValueError("target_uri must be a tel: (E.164) or sip: URI")
        if target is not None and rules is not None and not rules.admits(target):
            raise ValueError("target_uri is not among the allowed transfer targets")
        return cls("transfer", target)

    def to_event(self) -> dict[str, Any]:
        """The external event's payload."""
        return {"action": self.action, "target_uri": self.target_uri}

    @classmethod
    def from_event(cls, data: Any) -> OperatorCommand:
        """From the event as the orchestrator receives it: the host may deliver a JSON *string*."""
        if isinstance(data, str):
            data = json.loads(data)
        action = data.get("action")
        if action not in ("transfer", "hangup"):
            raise ValueError(f"unknown operator action {action!r}")
        return cls(action, data.get("target_uri"))
