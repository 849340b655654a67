"""Business hours in a time zone, e.g. ``mon-fri 09:00-17:00, sat 10:00-14:00``.

The caller of :meth:`BusinessHours.is_open` supplies the instant (the orchestration's replay-safe
time), so the same call is screened the same way on every replay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>[0-9]{2}):(?P<start_min>[0-9]{2})-(?P<end>[0-9]{2}):(?P<end_min>[0-9]{2})\Z"
)


@dataclass(frozen=True)
class Window:
    """Open on ``day`` (0 = Monday) from ``start`` to ``end`` minutes after midnight."""

    day: int
    start: int
    end: int


@dataclass(frozen=True)
class BusinessHours:
    """Opening windows in a named IANA time zone."""

    zone: str
    windows: tuple[Window, ...]

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (timezone-aware) falls in a window, in local time."""
        local = at.astimezone(ZoneInfo(self.zone))
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        return any(w.day == day and w.start <= minute < w.end for w in self.windows)

    @classmethod
    def parse(cls, spec: str, zone: str) -> BusinessHours:
        """Parse comma-separated ``day[-day] HH:MM-HH:MM`` windows; ``ValueError`` says why.

        A window that ends before it starts runs past midnight into the next day; one that ends
        when it starts is refused (empty, or a whole day: write ``00:00-24:00`` for that).
        """
        time_zone(zone)
        windows: list[Window] = []
        for part in (p.strip().lower() for p in spec.split(",") if p.strip()):
            match = _WINDOW.match(part)
            if match is None or match["first"] not in DAYS or (match["last"] or "mon") not in DAYS:
                raise ValueError(f"has a window {part!r} that is not like 'mon-fri 09:00-17:00'")
            start = _minutes(match["start"], match["start_min"], part)
            end = _minutes(match["end"], match["end_min"], part)
            if end == start:
                raise ValueError(
                    f"has a window {part!r} that ends when it starts: for a whole day write "
                    "00:00-24:00, for a night shift an end before the start (22:00-06:00)"
                )
            if start == 24 * 60:
                raise ValueError(f"has a window {part!r} that starts at 24:00 (write 00:00)")
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"] or match["first"])
            for offset in range((last - first) % 7 + 1):
                day = (first + offset) % 7
                if end > start:
                    windows.append(Window(day, start, end))
                else:
                    windows += [Window(day, start, 24 * 60), Window((day + 1) % 7, 0, end)]
        if not windows:
            raise ValueError("has no opening windows")
        return cls(zone, tuple(windows))


def time_zone(name: str) -> str:
    """Check an IANA zone name such as ``Europe/Stockholm``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError("must be an IANA time zone such as America/New_York") from error
    return name


def _minutes(hours: str, minutes: str, part: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 24 * 60:
        raise ValueError(f"has a time out of range in {part!r}")
    return value
