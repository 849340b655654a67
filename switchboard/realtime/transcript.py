"""Where a monitor slice sends each turn as it happens, so a live call can be read.

The slice keeps its turns for its result either way; a sink only makes them readable before the
slice ends. ``add`` must return at once and never raise: the call never waits on (or fails with)
a transcript write. The activity injects the call store's writer
(``switchboard.store.live.LiveTranscript``); the default keeps nothing.
"""

from __future__ import annotations

from typing import Protocol

from switchboard.realtime.slice import Turn


class TurnSink(Protocol):
    """Takes turns as the monitor sees them."""

    def add(self, turn: Turn) -> None:
        """Take one turn (queue it; never block, never raise)."""

    async def aclose(self) -> None:
        """The slice is over: write what is still queued (bounded), then stop."""


class NoTurnSink:
    """Keeps nothing (tests, benchmarks, a store that is not configured)."""

    def add(self, turn: Turn) -> None:
        """Nothing to do."""

    async def aclose(self) -> None:
        """Nothing to do."""
