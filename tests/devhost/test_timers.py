"""NCRONTAB schedules as the Functions host reads them (six fields, seconds first, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from blueprints.records import PURGE_SCHEDULE
from devhost.timers import Schedule, ScheduleError

T0 = datetime(2026, 3, 6, 10, 2, 30, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("0 */5 * * * *", T0, datetime(2026, 3, 6, 10, 5, 0, tzinfo=UTC)),
        (
            "0 */5 * * * *",
            datetime(2026, 3, 6, 10, 5, 0, tzinfo=UTC),
            T0.replace(minute=10, second=0),
        ),
        ("0 0 3 * * *", T0, datetime(2026, 3, 7, 3, 0, 0, tzinfo=UTC)),
        ("30 15 9 * * 1-5", T0, datetime(2026, 3, 9, 9, 15, 30, tzinfo=UTC)),  # next Monday
        ("0 0 0 1 1 *", T0, datetime(2027, 1, 1, tzinfo=UTC)),
        ("10,40 * * * * *", T0, T0.replace(second=40)),
    ],
)
def test_next_firing(schedule: str, after: datetime, expected: datetime) -> None:
    assert Schedule.parse(schedule).next_after(after) == expected


def test_the_apps_own_schedules_are_readable() -> None:
    assert Schedule.parse(PURGE_SCHEDULE).next_after(T0) > T0


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("*/5 * * * *", "six fields"),
        ("0 0 25 * * *", "out of range 0-23"),
        ("0 0 * * * mon", "cannot read 'mon'"),
        ("0 */0 * * * *", "out of range"),
    ],
)
def test_unreadable_schedules_are_refused_quoting_them(schedule: str, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        Schedule.parse(schedule)
