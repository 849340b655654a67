"""Live-call slots: the state of the ``call_slots`` Durable Entity, kept as plain Python.

Slots are held *by call id*, not counted, so every operation is idempotent: an orchestration that
replays, a webhook that is redelivered or a release that runs twice can never take a second slot
or free someone else's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SLOTS_KEY = "global"
"""One entity instance for the whole app: the limit is global across scale-out."""


@dataclass
class Slots:
    """Which calls hold a slot, and since when (orchestration time, for operators)."""

    held: dict[str, str] = field(default_factory=dict)

    def acquire(self, call_id: str, limit: int, at: str) -> bool:
        """Take a slot for ``call_id`` unless ``limit`` are taken; a holder keeps its slot."""
        if call_id in self.held:
            return True
        if len(self.held) >= limit:
            return False
        self.held[call_id] = at
        return True

    def release(self, call_id: str) -> bool:
        """Free ``call_id``'s slot; ``False`` when it held none (already released)."""
        return self.held.pop(call_id, None) is not None

    def to_state(self) -> dict[str, Any]:
        """The entity state."""
        return {"held": dict(self.held)}

    @classmethod
    def from_state(cls, state: Any) -> Slots:
        """Inverse of :meth:`to_state`; a new entity starts empty."""
        held = state.get("held", {}) if isinstance(state, dict) else {}
        return cls({str(call_id): str(at) for call_id, at in held.items()})
