"""The monitor lease: one slice at a time answers a call's tools and speaks on it.

Durable runs an activity at least once. A slice whose worker was lost is run again once the
work-item queue's visibility timeout lets its message out (about five minutes on Azure Storage),
and by then the orchestrator may have started a newer slice for the call: two monitors would
then both answer the model's tool calls and both ask it to speak. Slices of one call are
numbered (the lease), and each claims its number in a per-call Durable Entity when it starts and
again at every heartbeat. The entity keeps the highest number it was given, and a monitor acts
(answers a tool, asks the agent to speak) only while no higher number was claimed: an older
slice that comes back steps aside at its next look, without a word.

The heartbeats also let the orchestrator notice a monitor that stopped: it reads the entity
every :func:`watch_seconds` and starts a newer slice when no heartbeat came in a whole interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

WATCH_SECONDS = 60.0
"""Longest interval between two looks of the orchestrator at a slice's heartbeats."""
BEATS_PER_WATCH = 3
"""Heartbeats a live slice sends per watch interval (one may be late without harm)."""
END_MARGIN_SECONDS = 30.0
"""How long past its deadline a slice may take to return before the orchestrator replaces it."""


def watch_seconds(slice_seconds: float) -> float:
    """How often the orchestrator looks at a slice's heartbeats: a sixth of it, 1 to 60 s."""
    return min(WATCH_SECONDS, max(slice_seconds / 6, 1.0))


def heartbeat_seconds(slice_seconds: float) -> float:
    """How often a slice renews its lease."""
    return watch_seconds(slice_seconds) / BEATS_PER_WATCH


@dataclass
class LeaseState:
    """The per-call entity's state: the newest slice number claimed, and its heartbeats."""

    lease: int = 0
    beats: int = 0

    def beat(self, number: int) -> None:
        """Slice ``number`` claims (a newer number) or renews (the current one) the lease."""
        if number > self.lease:
            self.lease, self.beats = number, 1
        elif number == self.lease:
            self.beats += 1

    def allows(self, number: int) -> bool:
        """Whether slice ``number`` may act: no newer slice has claimed the call."""
        return number >= self.lease

    def to_state(self) -> dict[str, int]:
        """The entity state."""
        return {"lease": self.lease, "beats": self.beats}

    @classmethod
    def from_state(cls, state: Any) -> LeaseState:
        """Inverse of :meth:`to_state`; a new (or deleted) entity holds no lease."""
        if not isinstance(state, dict):
            return cls()
        return cls(int(state.get("lease", 0)), int(state.get("beats", 0)))


class Lease(Protocol):
    """A slice's hold on its call, as the monitor uses it."""

    async def beat(self) -> bool:
        """Claim or renew the lease; ``False`` when a newer slice holds it."""

    async def held(self) -> bool:
        """Whether this slice may still act for the call."""

    async def release(self) -> None:
        """The call is over: forget its lease."""


class NoLease:
    """For a monitor run on its own (tests, benchmarks): always held."""

    async def beat(self) -> bool:
        """Always held."""
        return True

    async def held(self) -> bool:
        """Always held."""
        return True

    async def release(self) -> None:
        """Nothing to forget."""
