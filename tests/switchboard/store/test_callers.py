"""One caller's calls against Azurite: the memory's lookup and the erasure."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from switchboard.store.account import Account, StoreConfig, close_account, get_account
from switchboard.store.callers import CallerHistory, EarlierCall, NoCallerIndex
from switchboard.store.calls import CallStore, blob_name
from switchboard.store.query import CallQuery
from tests.support.azurite import Azurite
from tests.switchboard.store.test_calls import BASE, SECRET, A, B, ended, record

REASON = "Call back about the refund."
FOLLOW_UP = {"needed": True, "reason": REASON}


def analysed(n: int, caller: str | None = A, minutes: float = 0, **analysis: Any) -> dict[str, Any]:
    """An ended call whose analysis says ``call n``, with a follow-up when given."""
    return ended(
        record(n, caller, minutes),
        analysis={"summary": f"call {n}", "follow_up": {"needed": False, "reason": ""}, **analysis},
    )


@pytest.fixture
async def account(azurite: Azurite) -> AsyncIterator[Account]:
    config = StoreConfig(
        connection_string=azurite.connection_string,
        name=f"calls{uuid.uuid4().hex[:12]}",
        caller_secret=SECRET,
    )
    yield await get_account(config)
    await close_account()


async def test_the_newest_summarised_ended_calls_of_one_caller_within_retention(
    account: Account,
) -> None:
    store = CallStore(account)
    await store.ended(analysed(1, minutes=0))  # before `since`
    await store.ended(analysed(2, minutes=10, follow_up=FOLLOW_UP))
    await store.ended(ended(record(3, A, minutes=20), "busy"))  # refused: no summary
    await store.ended(analysed(4, minutes=30))
    await store.ended(analysed(5, B, minutes=40))  # another caller
    await store.ended(analysed(6, minutes=50))
    await store.started(record(7, A, minutes=60))  # this call, ringing
    history = CallerHistory(account)
    since = BASE + timedelta(minutes=5)
    found = await history.recent(A, since=since, limit=3)
    assert found == [
        EarlierCall("rtc_006", BASE + timedelta(minutes=50), "call 6"),
        EarlierCall("rtc_004", BASE + timedelta(minutes=30), "call 4"),
        EarlierCall("rtc_002", BASE + timedelta(minutes=10), "call 2", REASON),
    ]
    assert [c.call_id for c in await history.recent(A, since=since, limit=1)] == ["rtc_006"]
    assert await history.recent("+14155550199", since=since, limit=3) == []


async def test_a_record_gone_from_the_blob_leaves_the_row_summary(account: Account) -> None:
    await CallStore(account).ended(analysed(1, follow_up=FOLLOW_UP))
    await account.records.delete_blob(blob_name("rtc_001"))
    (call,) = await CallerHistory(account).recent(A, since=BASE, limit=3)
    assert (call.summary, call.follow_up) == ("call 1", None)


async def test_erasing_one_callers_calls_leaves_the_others(account: Account) -> None:
    store = CallStore(account)
    await store.ended(analysed(1))
    await store.ended(analysed(2, minutes=24 * 60))  # another day's partition
    await store.ended(analysed(3, B, minutes=5))
    await store.started(record(4, A, minutes=30))
    history = CallerHistory(account)
    calls = await history.calls(A)
    assert sorted((c["call_id"], c["status"]) for c in calls) == [
        ("rtc_001", "ended"),
        ("rtc_002", "ended"),
        ("rtc_004", "live"),
    ]
    for call in calls:
        if call["status"] == "ended":
            await history.erase(call)
            await history.erase(call)  # a repeat finds nothing and is fine
    page = await store.page(CallQuery())
    assert [c["call_id"] for c in page["calls"]] == ["rtc_004", "rtc_003"]
    assert await store.record("rtc_001") is None
    assert await store.record("rtc_002") is None
    assert await store.record("rtc_003") is not None
    assert [c["call_id"] for c in await history.calls(A)] == ["rtc_004"]


async def test_without_the_caller_key_there_is_no_history(azurite: Azurite) -> None:
    config = StoreConfig(connection_string=azurite.connection_string, name="callsnohistory")
    try:
        with pytest.raises(NoCallerIndex, match="CALL_STORE_CALLER_KEY"):
            CallerHistory(await get_account(config))
    finally:
        await close_account()
