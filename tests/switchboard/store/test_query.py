"""The list's parameters: strict grammars, bounds, and a cursor that only resumes its own query."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.store import keys
from switchboard.store.query import DEFAULT_LIMIT, MAX_LIMIT, CallQuery, QueryError


def test_defaults_and_other_parameters_ignored() -> None:
    query = CallQuery.parse({"code": "function-key", "since": "", "status": " ", "limit": ""})
    assert query == CallQuery(limit=DEFAULT_LIMIT)
    assert query.table_filter(None) == ("", {})


def test_filters_are_normalised() -> None:
    query = CallQuery.parse(
        {
            "since": "2026-11-27T07:30:00+02:00",
            "until": "2026-11-28T00:00:00Z",
            "status": "ENDED",
            "end_reason": "error:accept_refused",
            "caller": "tel:+1 (415) 555-0123",
            "limit": "7",
        }
    )
    assert query.since == datetime(2026, 11, 27, 5, 30, tzinfo=UTC)
    assert (query.status, query.end_reason, query.caller, query.limit) == (
        "ended",
        "error:accept_refused",
        "+14155550123",
        7,
    )


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-27T07:30:00"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"since": "2026-11-28T00:00:00Z", "until": "2026-11-27T00:00:00Z"}, "since"),
        ({"status": "running"}, "status"),
        ({"end_reason": "caller_hangup' or 1 eq 1"}, "end_reason"),
        ({"end_reason": "A"}, "end_reason"),
        ({"caller": "anonymous"}, "caller"),
        ({"caller": "+1"}, "caller"),
        ({"limit": "0"}, "limit"),
        ({"limit": str(MAX_LIMIT + 1)}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"caller": "1" * 600}, "caller"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, str], names: str) -> None:
    with pytest.raises(QueryError, match=names):
        CallQuery.parse(params)


def test_cursor_resumes_after_its_row_with_the_same_filters() -> None:
    params = {"status": "live", "limit": "5"}
    query = CallQuery.parse(params)
    last = keys.row_key(datetime(2026, 11, 27, 5, 30, tzinfo=UTC), "rtc_last")
    resumed = CallQuery.parse({**params, "cursor": query.cursor(last)})
    assert resumed.after == last
    assert resumed.newest() == datetime(2026, 11, 27, 5, 30, tzinfo=UTC)
    where, values = resumed.table_filter(None)
    assert "RowKey gt @after" in where
    assert values["after"] == last
    with pytest.raises(QueryError, match="other filters"):
        CallQuery.parse({"status": "ended", "cursor": query.cursor(last)})


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "e30",  # {}
        "ñ",
        CallQuery().cursor("123"),
        CallQuery().cursor("000000000000000000_a/b"),
        CallQuery().cursor("000000000000000000_x' or RowKey ne '"),
    ],
)
def test_bad_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(QueryError, match="cursor is not valid"):
        CallQuery.parse({"cursor": cursor})


def test_time_bounds_become_row_key_and_day_bounds() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)
    until = datetime(2026, 11, 2, 12, tzinfo=UTC)
    query = CallQuery(since=since, until=until, end_reason="busy")
    assert query.newest() == until
    older = until - timedelta(hours=1)
    where, values = query.table_filter(None, (until, older))
    assert values == {
        "until": keys.time_key(until),
        "since": keys.time_key(since) + "~",
        "newer_day": keys.day_key(until),
        "newer": keys.time_key(until),
        "older_day": keys.day_key(older),
        "older": keys.time_key(older),
        "since_day": keys.day_key(since),
        "end_reason": "busy",
    }
    assert where.count(" and ") == 7
    by_caller, values = query.table_filter("abc")
    assert by_caller.startswith("PartitionKey eq @caller")
    assert "newest_day" not in values


PARAMS = ("since", "until", "end_reason", "status", "caller", "limit", "cursor")


@given(st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=80)))
def test_any_text_is_either_a_valid_query_or_a_query_error(params: dict[str, str]) -> None:
    try:
        query = CallQuery.parse(params)
    except QueryError:
        return
    where, values = query.table_filter(None, (query.newest(), None))
    assert "'" not in where  # every value travels as a parameter the SDK quotes
    assert all(isinstance(v, str) for v in values.values())
    if query.after is not None:
        assert keys.ROW_KEY.match(query.after)


@given(st.binary(max_size=200))
def test_any_cursor_bytes_are_refused_or_resume_a_valid_row_key(raw: bytes) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        query = CallQuery.parse({"cursor": cursor})
    except QueryError:
        return
    assert (query.after is None) == (not cursor)  # an empty cursor is no cursor
    assert query.after is None or keys.ROW_KEY.match(query.after)


def test_a_caller_cursor_does_not_give_the_number_away_to_hashing() -> None:
    """Cursors travel in URLs (and request logs). The callers index is keyed so numbers cannot be
    recovered by hashing every possible one; a caller query's cursor must not undo that."""
    key = b"k" * 32
    row = keys.row_key(datetime(2026, 1, 31, tzinfo=UTC), "rtc_x")
    number = "+46701234567"
    cursor = CallQuery.parse({"caller": number}, key).cursor(row)
    body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    plain = hashlib.sha256(json.dumps([None, None, None, None, number]).encode()).hexdigest()[:16]
    assert body["scope"] != plain
    resumed = CallQuery.parse({"caller": number, "cursor": cursor}, key)
    assert resumed.after == row
    with pytest.raises(QueryError, match="other filters"):
        CallQuery.parse({"caller": number, "cursor": cursor}, b"other" * 8)
