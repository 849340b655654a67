"""The call record: the transcript it keeps is bounded however much a call says."""

from __future__ import annotations

from switchboard.realtime.slice import (
    MAX_TOOL_CALLS,
    MAX_TRANSCRIPT_CHARS,
    MAX_TURN_CHARS,
    MAX_TURNS,
    TRUNCATED_MARK,
    MonitorOutcome,
    MonitorResult,
    Turn,
)
from switchboard.records import CallRecord
from switchboard.usage import Prices

AT = "2026-01-01T00:00:10.000+00:00"


def record() -> CallRecord:
    return CallRecord("rtc_1", "2026-01-01T00:00:00+00:00", accepted_at="2026-01-01T00:00:01+00:00")


def test_turns_past_the_record_bound_are_counted_not_kept() -> None:
    call = record()
    for _ in range(3):  # slices that each kept their whole (slice-bounded) share
        turns = [Turn("caller", "hello", AT)] * MAX_TURNS
        call.monitored(MonitorResult(MonitorOutcome.SLICE_ENDED, turns=turns), Prices())
    assert len(call.turns) == MAX_TURNS
    assert call.turns_left_out == 2 * MAX_TURNS
    assert call.turns[0]["offset_seconds"] == 9.0


def test_transcript_text_past_the_record_bound_is_cut_with_a_marker() -> None:
    call = record()
    long_turn = Turn("agent", "z" * (MAX_TURN_CHARS - 1), AT)
    per_slice = MAX_TRANSCRIPT_CHARS // MAX_TURN_CHARS // 2 + 1
    for _ in range(3):
        result = MonitorResult(MonitorOutcome.SLICE_ENDED, turns=[long_turn] * per_slice)
        result.turns_left_out = 1  # the slice itself left one out
        call.monitored(result, Prices())
    assert sum(len(t["text"]) for t in call.turns) <= MAX_TRANSCRIPT_CHARS
    assert call.turns[-1]["text"].endswith(TRUNCATED_MARK)
    assert len(call.turns) + call.turns_left_out == 3 * per_slice + 3


def test_tool_calls_from_every_slice_are_kept_up_to_the_record_bound() -> None:
    call = record()
    entry = {"call_id": "call_1", "name": "order_status", "outcome": "ok"}
    for _ in range(5):
        result = MonitorResult(MonitorOutcome.SLICE_ENDED, tool_calls=[entry] * 50)
        call.monitored(MonitorResult.from_dict(result.to_dict()), Prices())
    assert len(call.tool_calls) == MAX_TOOL_CALLS == 200
    assert call.to_dict()["tool_calls"][0] == entry
