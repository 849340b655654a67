"""Slice requests and results: their JSON form, the state they carry, and the transcript bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from switchboard.realtime.slice import (
    MAX_TRANSCRIPT_CHARS,
    MAX_TURN_CHARS,
    MAX_TURNS,
    TRUNCATED_MARK,
    MonitorOutcome,
    MonitorRequest,
    MonitorResult,
    PendingEnd,
    SliceState,
    bounded_text,
)

AT = "2026-01-01T00:00:00.000+00:00"


def test_state_travels_through_the_json_forms_unchanged() -> None:
    state = SliceState(
        silent_since=datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC),
        checked_in=True,
        attached=True,
        ending=PendingEnd(outcome="transfer_requested", department="sales", line_begun=True),
    )
    request = MonitorRequest("rtc_1", 60, state=state, lease=3)
    assert MonitorRequest.from_dict(request.to_dict()) == request
    result = MonitorResult(MonitorOutcome.SLICE_ENDED, state=state)
    assert MonitorResult.from_dict(result.to_dict()).state == state


def test_a_request_without_state_starts_fresh() -> None:
    request = MonitorRequest.from_dict({"call_id": "rtc_1", "slice_seconds": 60})
    assert request.state == SliceState()
    assert request.lease == 0


def test_state_is_validated_strictly() -> None:
    with pytest.raises(ValidationError):
        SliceState.model_validate({"ending": {"outcome": "call_ended"}})
    with pytest.raises(ValidationError):
        SliceState.model_validate({"checked_in": True, "extra": 1})


def test_a_turn_longer_than_the_bound_is_cut_with_a_marker() -> None:
    text = bounded_text("x" * (MAX_TURN_CHARS * 10))
    assert len(text) == MAX_TURN_CHARS
    assert text.endswith(TRUNCATED_MARK)
    assert bounded_text("short") == "short"


def test_a_slice_keeps_at_most_the_bounds_and_counts_the_rest() -> None:
    result = MonitorResult(MonitorOutcome.SLICE_ENDED)
    for _ in range(MAX_TURNS + 5):
        result.add_turn("caller", "hello", AT)
    assert len(result.turns) == MAX_TURNS
    assert result.turns_left_out == 5

    result = MonitorResult(MonitorOutcome.SLICE_ENDED)
    turns = MAX_TRANSCRIPT_CHARS // MAX_TURN_CHARS + 3
    for _ in range(turns):
        result.add_turn("caller", "y" * (MAX_TURN_CHARS + 7), AT)
    assert sum(len(t.text) for t in result.turns) <= MAX_TRANSCRIPT_CHARS
    assert result.turns[-1].text.endswith(TRUNCATED_MARK)
    assert len(result.turns) + result.turns_left_out == turns
