from datetime import UTC, datetime

import pytest

from switchboard.hours import BusinessHours


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)  # 23 Nov 2026 is a Monday


def test_weekday_window_in_the_zone_not_in_utc() -> None:
    hours = BusinessHours.parse("mon-fri 09:00-17:00", "Europe/Stockholm")  # UTC+1 in November
    assert not hours.is_open(utc(23, 7, 59))  # 08:59 local
    assert hours.is_open(utc(23, 8, 0))  # 09:00 local
    assert hours.is_open(utc(27, 15, 59))  # Friday 16:59 local
    assert not hours.is_open(utc(27, 16, 0))  # Friday 17:00 local: closed (end is exclusive)
    assert not hours.is_open(utc(28, 10))  # Saturday


def test_windows_past_midnight_and_wrapping_day_ranges() -> None:
    hours = BusinessHours.parse("sat-sun 22:00-02:00", "UTC")
    assert hours.is_open(utc(28, 23))  # Saturday night
    assert hours.is_open(utc(29, 1, 59))  # Sunday small hours (Saturday's window)
    assert hours.is_open(utc(30, 1))  # Monday small hours (Sunday's window)
    assert not hours.is_open(utc(30, 2))
    assert BusinessHours.parse("fri-mon 10:00-11:00", "UTC").is_open(utc(23, 10, 30))


def test_daylight_saving_is_the_zones() -> None:
    hours = BusinessHours.parse("mon-sun 09:00-10:00", "America/New_York")
    assert hours.is_open(datetime(2026, 7, 1, 13, 30, tzinfo=UTC))  # EDT, UTC-4
    assert hours.is_open(datetime(2026, 12, 1, 14, 30, tzinfo=UTC))  # EST, UTC-5
    assert not hours.is_open(datetime(2026, 12, 1, 13, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("spec", "zone", "message"),
    [
        ("mon-fri 9-17", "UTC", "not like 'mon-fri 09:00-17:00'"),
        ("mon-fry 09:00-17:00", "UTC", "not like"),
        ("mon 09:60-10:00", "UTC", "out of range"),
        ("mon 09:00-25:00", "UTC", "out of range"),
        (" , ", "UTC", "no opening windows"),
        ("mon 09:00-17:00", "Mars/Olympus", "IANA time zone"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, zone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessHours.parse(spec, zone)


@pytest.mark.parametrize("spec", ["mon-fri 09:00-09:00", "sat 00:00-00:00", "sun 24:00-24:00"])
def test_a_window_that_ends_when_it_starts_is_refused_with_what_to_write(spec: str) -> None:
    with pytest.raises(ValueError, match="ends when it starts: for a whole day write 00:00-24:00"):
        BusinessHours.parse(spec, "UTC")


def test_a_whole_day_is_written_00_00_to_24_00_and_24_00_never_starts_a_window() -> None:
    hours = BusinessHours.parse("wed 00:00-24:00", "UTC")
    assert hours.is_open(utc(25, 0))
    assert hours.is_open(utc(25, 23, 59))
    assert not hours.is_open(utc(26, 0))
    with pytest.raises(ValueError, match="starts at 24:00"):
        BusinessHours.parse("wed 24:00-02:00", "UTC")
