"""A slice leaving the call: the agent's last line, then the outcome the orchestrator acts on.

Also the conversions between a slice's clocks (monotonic, for timing) and the wall times that
travel to the next slice (``SliceState``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from switchboard.agent import GOODBYE_LINE, HANDOFF_LINE, SILENCE_GOODBYE_LINE
from switchboard.realtime.slice import MonitorOutcome, PendingEnd

LAST_LINES = {
    MonitorOutcome.TRANSFER_REQUESTED: HANDOFF_LINE,
    MonitorOutcome.END_CALL_REQUESTED: GOODBYE_LINE,
    MonitorOutcome.SILENCE_TIMEOUT: SILENCE_GOODBYE_LINE,
}
"""The line the agent says before the orchestrator acts on each leaving outcome."""


@dataclass
class Ending:
    """A tool (or the silence limit) asked to leave the call; done once its line has played."""

    outcome: MonitorOutcome
    department: str | None
    give_up_at: float
    response_id: str | None = None
    done_at: float | None = None

    @classmethod
    def begin(cls, outcome: MonitorOutcome, department: object, timeout: float) -> Ending:
        """A new ending; the model's ``department`` argument is kept only if it is a string."""
        kept = department[:100] if isinstance(department, str) and department else None
        return cls(outcome, kept, give_up_at=time.monotonic() + timeout)

    def due(self, now: float) -> bool:
        """Whether the line has played (or the wait for it has run out)."""
        return now >= self.give_up_at or (self.done_at is not None and now >= self.done_at)

    def wake_at(self) -> float:
        """When to look again."""
        return min(self.give_up_at, self.done_at or self.give_up_at)

    def pending(self, line_begun: bool) -> PendingEnd:
        """Its form in a slice's state and in the lease entity."""
        return PendingEnd(
            outcome=self.outcome.value,  # type: ignore[arg-type]  # always a leaving outcome
            department=self.department,
            line_begun=line_begun,
        )


def wall_time_of(monotonic: float) -> datetime:
    """The wall time (UTC) of a past ``time.monotonic()`` reading."""
    return datetime.now(UTC) - timedelta(seconds=max(time.monotonic() - monotonic, 0.0))


def monotonic_at(wall: datetime | None) -> float:
    """The ``time.monotonic()`` reading of a past wall time (now when there is none)."""
    now = time.monotonic()
    if wall is None:
        return now
    return now - max((datetime.now(UTC) - wall).total_seconds(), 0.0)
