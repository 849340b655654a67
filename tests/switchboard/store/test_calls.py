"""The call store against Azurite: idempotent writes, newest-first pages, filters, purge."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from switchboard.store.account import StoreConfig, close_account, get_account
from switchboard.store.calls import CallStore, blob_name
from switchboard.store.query import CallQuery, QueryError
from tests.support.azurite import Azurite

SECRET = b"test-caller-index-key-0123456789abcdef"
BASE = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
A, B = "+14155550123", "+46701234567"


@pytest.fixture
async def store(azurite: Azurite) -> AsyncIterator[CallStore]:
    config = StoreConfig(
        connection_string=azurite.connection_string,
        name=f"calls{uuid.uuid4().hex[:12]}",
        caller_secret=SECRET,
    )
    yield CallStore(await get_account(config))
    await close_account()


def record(n: int, caller: str | None = A, minutes: float = 0, **fields: Any) -> dict[str, Any]:
    received = BASE + timedelta(minutes=minutes)
    return {
        "call_id": f"rtc_{n:03d}",
        "received_at": received.isoformat(),
        "caller": caller,
        "callee": "+14155550100",
        "decision": "accept",
        **fields,
    }


def ended(rec: dict[str, Any], reason: str = "caller_hangup", **fields: Any) -> dict[str, Any]:
    at = datetime.fromisoformat(rec["received_at"])
    return {
        **rec,
        "accepted_at": (at + timedelta(seconds=1)).isoformat(),
        "ended_at": (at + timedelta(seconds=61)).isoformat(),
        "end_reason": reason,
        **fields,
    }


async def ids(store: CallStore, **params: str) -> list[str]:
    page = await store.page(CallQuery.parse(params))
    assert page["next"] is None
    return [call["call_id"] for call in page["calls"]]


async def test_started_then_ended_then_a_late_start_changes_nothing(store: CallStore) -> None:
    rec = record(1)
    await store.started(rec)
    await store.started(rec)  # a retry
    (live,) = (await store.page(CallQuery()))["calls"]
    assert (live["status"], live["ended_at"], live["caller"]) == ("live", None, A)
    assert await store.record("rtc_001") is None
    final = ended(rec, turns=[{"speaker": "caller", "text": "hi"}], errors=["x"])
    await store.ended(final)
    await store.ended(final)  # a retry writes the same
    await store.started(rec)  # a start that ran late never reopens the call
    (call,) = (await store.page(CallQuery()))["calls"]
    assert call["status"] == "ended"
    assert (call["end_reason"], call["duration_seconds"], call["turns"], call["errors"]) == (
        "caller_hangup",
        60.0,
        1,
        1,
    )
    assert await store.record("rtc_001") == final


async def test_newest_first_across_days_and_pages_without_gaps(store: CallStore) -> None:
    for n in range(25):  # 22:00 on one day to 02:00 on the next, in shuffled order
        await store.ended(ended(record(n, minutes=(n * 7) % 25 * 10)))
    expected = [f"rtc_{n:03d}" for n in sorted(range(25), key=lambda n: -((n * 7) % 25))]
    seen: list[str] = []
    cursor = ""
    while True:
        page = await store.page(CallQuery.parse({"limit": "4", "cursor": cursor}))
        seen += [call["call_id"] for call in page["calls"]]
        if page["next"] is None:
            break
        cursor = page["next"]
    assert seen == expected


async def test_filters(store: CallStore) -> None:
    await store.ended(ended(record(1, A, minutes=0), "busy"))
    await store.ended(ended(record(2, B, minutes=10)))
    await store.started(record(3, A, minutes=20))
    await store.ended(ended(record(4, None, minutes=30 + 24 * 60)))
    assert await ids(store) == ["rtc_004", "rtc_003", "rtc_002", "rtc_001"]
    assert await ids(store, status="live") == ["rtc_003"]
    assert await ids(store, status="ended") == ["rtc_004", "rtc_002", "rtc_001"]
    assert await ids(store, end_reason="busy") == ["rtc_001"]
    assert await ids(store, caller="+1 415 555 0123") == ["rtc_003", "rtc_001"]
    assert await ids(store, caller=A, status="ended") == ["rtc_001"]
    assert await ids(store, caller="+14155550199") == []
    assert await ids(store, since=(BASE + timedelta(minutes=10)).isoformat()) == [
        "rtc_004",
        "rtc_003",
        "rtc_002",
    ]
    assert await ids(store, until=(BASE + timedelta(minutes=10)).isoformat()) == [
        "rtc_002",
        "rtc_001",
    ]
    day_two = (BASE + timedelta(days=1)).isoformat()
    assert await ids(store, since=day_two) == ["rtc_004"]
    assert await ids(store, until=(BASE - timedelta(seconds=1)).isoformat()) == []


async def test_caller_search_needs_the_key(azurite: Azurite) -> None:
    config = StoreConfig(connection_string=azurite.connection_string, name="callsnokey")
    store = CallStore(await get_account(config))
    try:
        await store.ended(ended(record(1)))
        assert await ids(store) == ["rtc_001"]
        with pytest.raises(QueryError, match="CALL_STORE_CALLER_KEY"):
            await store.page(CallQuery.parse({"caller": A}))
    finally:
        await close_account()


async def test_a_long_transcript_stays_in_the_blob_and_the_row_stays_small(
    store: CallStore,
) -> None:
    turns = [{"speaker": "agent", "text": "x" * 2000, "at": BASE.isoformat()}] * 3000  # ~6 MB
    rec = ended(record(1), turns=turns, errors=["e" * 5000] * 50, decision_reason="r" * 100_000)
    await store.ended(rec)
    (call,) = (await store.page(CallQuery()))["calls"]
    assert call["turns"] == 3000
    assert len(json.dumps(call)) < 4096
    assert await store.record("rtc_001") == rec


async def test_purge_deletes_rows_and_blobs_before_the_cutoff(store: CallStore) -> None:
    await store.ended(ended(record(1, A, minutes=0)))
    await store.started(record(2, A, minutes=5))  # its end was never written
    await store.ended(ended(record(3, A, minutes=10)))
    assert await store.purge(BASE + timedelta(minutes=10)) == 2
    assert await ids(store) == ["rtc_003"]
    assert await ids(store, caller=A) == ["rtc_003"]
    assert await store.record("rtc_001") is None
    assert await store.record("rtc_003") is not None
    assert await store.purge(BASE + timedelta(minutes=10)) == 0


def test_blob_names_are_safe_for_any_call_id() -> None:
    assert blob_name("rtc_abc") == "records/rtc_abc.json"
    odd = blob_name("../../etc/passwd?x#y")
    assert odd.startswith("records/")
    assert "/" not in odd.removeprefix("records/")


async def test_a_sparse_store_is_listed_to_its_end_across_every_day_window(
    store: CallStore,
) -> None:
    now = datetime.now(UTC)
    ages = [0, 0.05, 1.5, 5, 20, 45, 400]  # days: a call in each index query's window and beyond
    for n, days in enumerate(ages):
        received = now - timedelta(days=days)
        await store.ended(ended({**record(n), "received_at": received.isoformat()}))
    expected = [f"rtc_{n:03d}" for n in range(len(ages))]
    assert await ids(store, limit="100") == expected
    seen: list[str] = []
    cursor = ""
    while True:
        page = await store.page(CallQuery.parse({"limit": "1", "cursor": cursor}))
        seen += [call["call_id"] for call in page["calls"]]
        if page["next"] is None:
            break
        cursor = page["next"]
    assert seen == expected
    since = (now - timedelta(days=21)).isoformat()
    assert await ids(store, since=since) == expected[:5]
    until = (now - timedelta(days=2)).isoformat()
    assert await ids(store, until=until, since=since) == expected[3:5]
