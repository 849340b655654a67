"""The orchestrator's watch on its running monitor slice (part of ``call_orchestrator``).

A worker that is lost takes its slice with it and reports nothing: Durable runs the slice again
only once its queue message reappears, minutes later. So the orchestration numbers its slices
(the lease, see ``switchboard.realtime.lease``), and every watch interval it reads the call's
``monitor_lease`` entity: a slice that did not beat in the interval has stopped, and a newer one
takes its place. Deterministic like the orchestrator: durable timers and entity calls only.
"""

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities import names
from switchboard.realtime.lease import LeaseState, lease_key, watch_seconds


class MonitorWatch:
    """Numbers a call's slices and looks at the running one's heartbeats."""

    def __init__(self, context: df.DurableOrchestrationContext, call_id: str, slice_seconds: int):
        self._ctx = context
        self._entity = df.EntityId(names.MONITOR_LEASE, lease_key(call_id))
        self.every = watch_seconds(slice_seconds)
        self.lease = 0
        """The running slice's number."""
        self.timer: Any = None
        """When to look next: the orchestrator waits on it beside the slice."""
        self._seen = LeaseState()

    def started(self) -> int:
        """A new slice is scheduled: its lease number; the watch starts over for it."""
        self.lease += 1
        self._seen = LeaseState()
        self._arm()
        return self.lease

    def look(self, monitor: Any) -> Generator[Any, Any, bool]:
        """The timer went off: ``True`` when the running slice (task ``monitor``) stopped."""
        if not monitor.is_completed:  # done: its result is in, the orchestrator takes it next
            state = LeaseState.from_state((yield self._ctx.call_entity(self._entity, "get")))
            if not state.alive(self.lease, self._seen):
                return True
            self._seen = state
        self._arm()
        return False

    def release(self) -> None:
        """The call is over: its lease entity is deleted (if a slice ever ran)."""
        if self.lease:
            self._ctx.signal_entity(self._entity, "forget", {"lease": self.lease})

    def _arm(self) -> None:
        if self.timer is not None and not self.timer.is_completed:
            self.timer.cancel()
        now = self._ctx.current_utc_datetime
        self.timer = self._ctx.create_timer(now + timedelta(seconds=self.every))
