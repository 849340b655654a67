"""The orchestrator's watch on its running monitor slice (part of ``call_orchestrator``).

A worker that is lost takes its slice with it and reports nothing: Durable runs the slice again
only once its queue message reappears, minutes later. So the orchestration numbers its slices
(the lease, see ``switchboard.realtime.lease``), and every watch interval it reads the call's
``monitor_lease`` entity: a slice that did not beat in the interval has stopped, and a newer one
takes its place. Deterministic like the orchestrator: durable timers and entity calls only.

The watch never waits by itself: it hands the conversation its one open task (the timer, or the
look at the entity under way), which the conversation yields beside the slice and the operator
command waits, so a command that arrives meanwhile is taken like any other. Calls started under
orchestration version 1 have no watch (their histories hold no such timer): their slices run
without a lease (number 0).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities import names
from switchboard.realtime.lease import LeaseState, lease_key, watch_seconds


class MonitorWatch:
    """Numbers a call's slices and looks at the running one's heartbeats."""

    def __init__(
        self,
        context: df.DurableOrchestrationContext,
        call_id: str,
        slice_seconds: int,
        enabled: bool = True,
    ) -> None:
        self._ctx = context
        self._entity = df.EntityId(names.MONITOR_LEASE, lease_key(call_id))
        self._enabled = enabled
        self.every = watch_seconds(slice_seconds)
        self.lease = 0
        """The running slice's number (0 for ever when the watch is off)."""
        self._task: Any = None
        """The timer (when to look next) or the look under way."""
        self._looking = False
        self._seen = LeaseState()

    def started(self) -> int:
        """A new slice is scheduled: its lease number; the watch starts over for it."""
        if not self._enabled:
            return 0
        self.lease += 1
        self._seen = LeaseState()
        self._arm()
        return self.lease

    def tasks(self) -> list[Any]:
        """What the conversation waits on beside the slice for the watch (empty when off)."""
        return [] if self._task is None else [self._task]

    def owns(self, task: Any) -> bool:
        """Whether ``task`` (a wait's winner) is the watch's."""
        return self._task is not None and task is self._task

    def stopped(self, monitor: Any) -> bool:
        """The watch's task completed: ``True`` when the running slice (``monitor``) stopped.

        A timer starts a look at the entity unless the slice's result is already in (the
        conversation takes it next); a look's answer says whether the slice still beats.
        """
        if not self._looking:
            if monitor is not None and not monitor.is_completed:
                self._task, self._looking = self._ctx.call_entity(self._entity, "get"), True
            else:
                self._arm()
            return False
        self._looking = False
        if isinstance(self._task.result, Exception):
            raise self._task.result
        state = LeaseState.from_state(self._task.result)
        if monitor is not None and not monitor.is_completed:
            if not state.alive(self.lease, self._seen):
                self._task = None  # a newer slice is started next, and armed with it
                return True
            self._seen = state
        self._arm()
        return False

    def release(self) -> None:
        """The call is over: its lease entity is deleted (if a slice ever ran)."""
        if self.lease:
            self._ctx.signal_entity(self._entity, "forget", {"lease": self.lease})

    def _arm(self) -> None:
        if self._task is not None and not self._looking and not self._task.is_completed:
            self._task.cancel()
        self._looking = False
        now = self._ctx.current_utc_datetime
        self._task = self._ctx.create_timer(now + timedelta(seconds=self.every))
