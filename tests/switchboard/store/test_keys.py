"""Row and partition keys sort newest first; the caller index key depends on the secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from switchboard.store import keys


def test_later_times_and_days_sort_first_as_text() -> None:
    moments = [
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - timedelta(hours=7 * i)
        for i in range(200)
    ]
    row_keys = [keys.row_key(m, "rtc_x") for m in moments]
    assert row_keys == sorted(row_keys)
    day_keys = [keys.day_key(m) for m in moments]
    assert day_keys == sorted(day_keys)
    assert len(set(day_keys)) > 50


def test_time_key_is_fixed_width_and_reversible_to_the_microsecond() -> None:
    moment = datetime(2026, 11, 30, 23, 59, 1, 123_456, tzinfo=timezone(timedelta(hours=-5)))
    key = keys.row_key(moment, "rtc_abc")
    assert len(key.split("_", 1)[0]) == 18
    assert keys.moment_of(key) == moment
    assert keys.day_key(moment) == keys.day_key(datetime(2026, 12, 1, tzinfo=UTC))


def test_row_key_refuses_what_a_key_cannot_hold() -> None:
    with pytest.raises(ValueError, match="row key"):
        keys.row_key(datetime.now(UTC), "a/b#c")
    assert keys.ROW_KEY.match(keys.row_key(datetime.now(UTC), "odd-call~" + "0" * 24))


def test_caller_key_is_keyed_and_stable() -> None:
    one = keys.caller_key("+14155550123", b"k" * 32)
    assert one == keys.caller_key("+14155550123", b"k" * 32)
    assert one != keys.caller_key("+14155550123", b"j" * 32)
    assert one != keys.caller_key("+14155550124", b"k" * 32)
    assert len(one) == 32
    assert "4155550123" not in one
