"""The monitor lease: one slice at a time answers a call's tools and speaks on it.

Durable runs an activity at least once. A slice whose worker was lost is run again once the
work-item queue's visibility timeout lets its message out (about five minutes on Azure Storage),
and by then the orchestrator may have started a newer slice for the call: two monitors would
then both answer the model's tool calls and both ask it to speak. Slices of one call are
numbered (the lease), and each run of a slice claims the call in a per-call Durable Entity when
it starts, then renews it with heartbeats. The entity keeps the newest claim, and a monitor acts
(answers a tool, asks the agent to speak) only while its own claim is the newest: an older slice
that comes back steps aside at its next look, without a word.

The heartbeats also let the orchestrator notice a monitor that stopped: it reads the entity
every :func:`watch_seconds` and starts a newer slice when no heartbeat came in a whole interval.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from switchboard.realtime.slice import PendingEnd
from switchboard.webhook import instance_id_for

WATCH_SECONDS = 60.0
"""Longest interval between two looks of the orchestrator at a slice's heartbeats."""
BEATS_PER_WATCH = 3
"""Heartbeats a live slice sends per watch interval (its claim counts as the first)."""
LIVE_BEATS = 2
"""Heartbeats the orchestrator must see per watch interval to count a slice alive (one may be
late without harm)."""
END_MARGIN_SECONDS = 30.0
"""How long past its deadline a slice may take to return before the orchestrator replaces it."""


def watch_seconds(slice_seconds: float) -> float:
    """How often the orchestrator looks at a slice's heartbeats: a sixth of it, 1 to 60 s."""
    return min(WATCH_SECONDS, max(slice_seconds / 6, 1.0))


def heartbeat_seconds(slice_seconds: float) -> float:
    """How often a slice renews its lease."""
    return watch_seconds(slice_seconds) / BEATS_PER_WATCH


def lease_key(call_id: str) -> str:
    """The key of a call's lease entity: its orchestration's instance id."""
    return instance_id_for(call_id)


Standing = Literal["holds", "contested", "superseded"]
"""Where a run of a slice stands: no newer slice has claimed the call; another run of the same
slice holds it (an older one, if this run's claim has not landed yet; else a newer one); or a
newer slice holds it."""


@dataclass
class LeaseState:
    """The per-call entity's state: the newest slice (and run of it) that claimed the call.

    ``run`` tells two runs of one slice apart: Durable may run a slice again while an earlier
    run of it is still alive (a work item whose queue message reappeared), and the later run
    takes the call. ``beats`` counts the holder's claim and heartbeats. ``ending`` is a leaving
    request (transfer, goodbye) that slice ``ending_lease`` accepted: kept here so that it is
    carried out even if that slice never returns (its worker lost, its result lost).
    """

    lease: int = 0
    run: str = ""
    beats: int = 0
    ending: dict[str, Any] | None = None
    ending_lease: int = 0

    def claim(self, number: int, run: str) -> None:
        """Run ``run`` of slice ``number`` takes the call, unless a newer slice holds it."""
        if number >= self.lease and (number, run) != (self.lease, self.run):
            self.lease, self.run, self.beats = number, run, 1

    def beat(self, number: int, run: str) -> None:
        """The holder renews its lease; anyone else's heartbeat changes nothing."""
        if (number, run) == (self.lease, self.run):
            self.beats += 1

    def record(self, number: int, run: str, ending: dict[str, Any]) -> None:
        """The holder accepted a leaving request (or began its line)."""
        if (number, run) == (self.lease, self.run):
            self.ending, self.ending_lease = ending, number

    def ending_after(self, lease_seen: int) -> PendingEnd | None:
        """A leaving request accepted by a slice whose result the orchestrator never got.

        ``lease_seen`` is the newest slice whose result the orchestrator has: what that slice
        accepted came back in its result (and was carried out, or carried on in its state).
        """
        if self.ending is None or self.ending_lease <= lease_seen:
            return None
        return PendingEnd.model_validate(self.ending)

    def standing(self, number: int, run: str) -> Standing:
        """Where run ``run`` of slice ``number`` stands, as this state shows it."""
        if number > self.lease:
            return "holds"  # its claim is on its way, and nothing newer has been claimed
        if number < self.lease:
            return "superseded"
        return "holds" if run == self.run else "contested"

    def alive(self, number: int, seen: LeaseState) -> bool:
        """For the orchestrator: slice ``number`` holds the call and beat enough since ``seen``.

        ``seen`` is what the orchestrator found at its last look at this slice (empty at the
        first): a run it has not seen before must have beaten since its claim.
        """
        since = seen.beats if (seen.lease, seen.run) == (self.lease, self.run) else 0
        return self.lease == number and self.beats - since >= LIVE_BEATS

    def forgets(self, number: int) -> bool:
        """Whether the lease may be forgotten: the orchestration, past slice ``number``, ended."""
        return number >= self.lease

    def to_state(self) -> dict[str, Any]:
        """The entity state."""
        return {
            "lease": self.lease,
            "run": self.run,
            "beats": self.beats,
            "ending": self.ending,
            "ending_lease": self.ending_lease,
        }

    @classmethod
    def from_state(cls, state: Any) -> LeaseState:
        """Inverse of :meth:`to_state`; a new (or deleted) entity holds no lease."""
        if not isinstance(state, dict):
            return cls()
        ending = state.get("ending")
        return cls(
            int(state.get("lease", 0)),
            str(state.get("run", "")),
            int(state.get("beats", 0)),
            ending if isinstance(ending, dict) else None,
            int(state.get("ending_lease", 0)),
        )


class Lease(Protocol):
    """A slice's hold on its call, as the monitor uses it."""

    async def beat(self) -> bool:
        """Claim the lease (first call) or renew it; ``False`` when a newer slice holds it."""

    async def held(self) -> bool:
        """Whether this slice may still act for the call."""

    async def record(self, ending: PendingEnd) -> None:
        """Keep a leaving request this slice accepted, until the orchestrator has acted on it."""

    async def ending_after(self, lease_seen: int) -> PendingEnd | None:
        """A leaving request from a slice newer than ``lease_seen`` that never returned."""


class NoLease:
    """For a monitor run on its own (tests, benchmarks): always held."""

    async def beat(self) -> bool:
        """Always held."""
        return True

    async def held(self) -> bool:
        """Always held."""
        return True

    async def record(self, ending: PendingEnd) -> None:
        """Nowhere to keep it."""

    async def ending_after(self, lease_seen: int) -> PendingEnd | None:
        """Nothing kept."""
        return None


class Superseded(Exception):
    """A newer slice holds the call's lease: this one must not act any more."""


class LeaseKeeper:
    """A slice's side of the lease: heartbeats on time, and a look before every act."""

    def __init__(self, lease: Lease, slice_seconds: float) -> None:
        self.lease = lease
        self._every = heartbeat_seconds(slice_seconds)
        self.next_beat = 0.0
        """When the next heartbeat is due (``time.monotonic()``); at once at first."""

    async def beat(self) -> None:
        """Claim (first time) or renew the lease; raises :class:`Superseded`."""
        self.next_beat = time.monotonic() + self._every
        if not await self.lease.beat():
            raise Superseded

    async def beat_if_due(self) -> None:
        """A heartbeat if one is due."""
        if time.monotonic() >= self.next_beat:
            await self.beat()

    async def sleep(self, seconds: float) -> None:
        """Sleep (between reattaches) without letting the heartbeats lapse."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            await self.beat_if_due()
            await asyncio.sleep(min(left, max(self.next_beat - time.monotonic(), 0.01)))

    async def may_act(self) -> None:
        """Before answering a tool or speaking: raises :class:`Superseded` if no longer held."""
        if not await self.lease.held():
            raise Superseded
