"""The monitor lease's rules: the newest claim holds the call; heartbeats show who is alive."""

from __future__ import annotations

from switchboard.realtime.lease import LIVE_BEATS, LeaseState, heartbeat_seconds, watch_seconds
from switchboard.realtime.slice import PendingEnd


def test_a_newer_slice_takes_the_call_and_an_older_one_cannot_take_it_back() -> None:
    state = LeaseState()
    assert state.standing(1, "a") == "holds"  # nothing claimed yet: its claim is on its way
    state.claim(1, "a")
    state.claim(2, "b")
    state.claim(1, "a")  # the older slice, come back late
    assert (state.lease, state.run) == (2, "b")
    assert state.standing(1, "a") == "superseded"
    assert state.standing(2, "b") == "holds"
    assert state.standing(3, "c") == "holds"


def test_a_second_run_of_a_slice_takes_over_from_the_first() -> None:
    state = LeaseState()
    state.claim(1, "first")
    state.claim(1, "again")  # its queue message reappeared: Durable runs the slice again
    assert state.standing(1, "again") == "holds"
    assert state.standing(1, "first") == "contested"
    state.beat(1, "first")  # the first run's heartbeats no longer count
    assert state.beats == 1


def test_the_orchestrator_counts_a_slice_alive_only_if_it_beat_since_the_last_look() -> None:
    state = LeaseState()
    assert not state.alive(1, LeaseState())  # never claimed
    state.claim(1, "a")
    assert not state.alive(1, LeaseState())  # claimed, then silent
    for _ in range(LIVE_BEATS):
        state.beat(1, "a")
    assert state.alive(1, LeaseState())
    seen = LeaseState.from_state(state.to_state())
    assert not state.alive(1, seen)  # nothing since the last look
    state.beat(1, "a")
    state.beat(1, "a")
    assert state.alive(1, seen)
    assert not state.alive(2, seen)  # the slice the orchestrator now waits for never claimed


def test_a_leaving_request_is_kept_for_a_slice_after_one_that_never_returned() -> None:
    state = LeaseState()
    state.claim(3, "a")
    ending = PendingEnd(outcome="transfer_requested", department="sales")
    state.record(3, "a", ending.model_dump(mode="json"))
    state.record(2, "old", {"outcome": "end_call_requested"})  # not the holder: ignored
    assert state.ending_after(2) == ending  # slice 3's result never reached the orchestrator
    assert state.ending_after(3) is None  # it did: the request came back in its result
    assert LeaseState.from_state(state.to_state()) == state


def test_heartbeats_fit_the_watch_and_the_watch_fits_the_slice() -> None:
    assert watch_seconds(1500) == 60
    assert watch_seconds(18) == 3
    assert watch_seconds(3) == 1
    assert heartbeat_seconds(1500) == 20
    assert LeaseState.from_state(None) == LeaseState()
