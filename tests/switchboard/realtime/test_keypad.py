"""Keypad keys gathered into groups; mapped keys are actions."""

from __future__ import annotations

import time

from switchboard.agent_tools import KeypadAction
from switchboard.realtime.keypad import MAX_GROUP, KeypadGroups


def test_keys_gather_until_hash() -> None:
    keys = KeypadGroups({})
    assert [keys.press(k) for k in "12#"] == [None, None, "12#"]
    assert keys.complete_at is None


def test_a_group_is_complete_after_the_gap() -> None:
    keys = KeypadGroups({}, gap_seconds=1.5)
    before = time.monotonic()
    assert keys.press("4") is None
    assert keys.complete_at is not None
    assert before + 1.5 <= keys.complete_at <= time.monotonic() + 1.5
    assert keys.flush() == "4"
    assert keys.flush() is None


def test_a_mapped_key_acts_and_drops_the_keys_gathered() -> None:
    keys = KeypadGroups({"0": KeypadAction("transfer")})
    keys.press("1")
    assert keys.press("0") == KeypadAction("transfer")
    assert keys.flush() is None


def test_a_long_group_goes_out_at_its_bound() -> None:
    keys = KeypadGroups({})
    pressed = [keys.press("1") for _ in range(MAX_GROUP)]
    assert pressed[-1] == "1" * MAX_GROUP
    assert set(pressed[:-1]) == {None}
