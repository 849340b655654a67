"""Timer triggers on their NCRONTAB schedules, as the Functions host fires them (in UTC).

The six fields are ``second minute hour day month day-of-week``; each is ``*``, a number, a range
``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of those. Names (``mon``, ``jan``) and
TimeSpan schedules (``00:05:00``) are not supported and are refused with the schedule quoted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .durable_history import utc_now
from .durable_host import DurableTestHost
from .functions import call_timer

logger = logging.getLogger(__name__)

_FIELDS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_LOOKAHEAD = timedelta(days=366 * 4)


class ScheduleError(ValueError):
    """A schedule this host cannot read."""


def _field(text: str, low: int, high: int, schedule: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = low, high
            elif "-" in span:
                first, last = (int(x) for x in span.split("-", 1))
            else:
                first = last = int(span)
        except ValueError:
            raise ScheduleError(f"cannot read {part!r} in schedule {schedule!r}") from None
        if not low <= first <= last <= high or step < 1:
            raise ScheduleError(f"{part!r} is out of range {low}-{high} in schedule {schedule!r}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """A parsed six-field NCRONTAB expression."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 is Sunday, as in cron."""

    @classmethod
    def parse(cls, schedule: str) -> Schedule:
        """Parse ``schedule``; :class:`ScheduleError` names what cannot be read."""
        parts = schedule.split()
        if len(parts) != len(_FIELDS):
            raise ScheduleError(f"schedule {schedule!r} must have six fields (seconds first)")
        fields = [_field(p, lo, hi, schedule) for p, (lo, hi) in zip(parts, _FIELDS, strict=True)]
        return cls(*fields)

    def next_after(self, moment: datetime) -> datetime:
        """The first firing strictly after ``moment`` (UTC)."""
        minute = moment.astimezone(UTC).replace(second=0, microsecond=0)
        end = minute + _LOOKAHEAD
        while minute < end:
            if self._day_matches(minute) and minute.hour in self.hours:
                if minute.minute in self.minutes:
                    for second in sorted(self.seconds):
                        candidate = minute.replace(second=second)
                        if candidate > moment:
                            return candidate
                minute += timedelta(minutes=1)
            else:
                minute = (minute + timedelta(hours=1)).replace(minute=0)
        raise ScheduleError(f"{self} never fires")

    def _day_matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7
        return moment.month in self.months and moment.day in self.days and weekday in self.weekdays


async def run_timer(host: DurableTestHost, name: str, schedule: Schedule) -> None:
    """Fire ``name`` at every time ``schedule`` names, until cancelled; a failure is logged."""
    while True:
        now = utc_now()
        due = schedule.next_after(now)
        await asyncio.sleep((due - now).total_seconds())
        try:
            await call_timer(host, name)
        except Exception:
            logger.exception("timer function %s failed", name)
