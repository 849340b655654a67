"""The live transcript on Azurite: batched appends, the lease gate, a store that is down."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator

import pytest

from switchboard.realtime.slice import Turn
from switchboard.store.account import Account, StoreConfig, close_account, get_account
from switchboard.store.live import (
    MAX_ATTEMPTS,
    WRITES_PER_SECOND,
    LiveTranscript,
    live_blob_name,
    live_turns,
)
from tests.support.azurite import Azurite

FLUSH = 0.05


@pytest.fixture
async def account(azurite: Azurite) -> AsyncIterator[Account]:
    config = StoreConfig(
        connection_string=azurite.connection_string, name=f"calls{uuid.uuid4().hex[:12]}"
    )
    yield await get_account(config)
    await close_account()


def turn(n: int) -> Turn:
    return Turn("caller" if n % 2 else "agent", f"line {n}", f"2026-12-01T10:00:{n:02d}.000+00:00")


async def held() -> bool:
    return True


async def not_held() -> bool:
    return False


def sink(account: Account, may_write: object = held) -> LiveTranscript:
    async def get() -> Account:
        return account

    return LiveTranscript("rtc_live1", may_write, get, flush_seconds=FLUSH)  # type: ignore[arg-type]


async def blocks(account: Account, call_id: str) -> int:
    blob = account.records.get_blob_client(live_blob_name(call_id))
    count = (await blob.get_blob_properties()).append_blob_committed_block_count
    assert isinstance(count, int)
    return count


async def test_turns_are_appended_in_batches_and_readable_while_the_slice_runs(
    account: Account,
) -> None:
    transcript = sink(account)
    for n in range(3):
        transcript.add(turn(n))
    await asyncio.sleep(FLUSH * 6)
    assert [t["text"] for t in await live_turns(account, "rtc_live1")] == [
        "line 0",
        "line 1",
        "line 2",
    ]
    transcript.add(turn(3))
    transcript.add(turn(4))
    await transcript.aclose()
    turns = await live_turns(account, "rtc_live1")
    assert [t["text"] for t in turns] == [f"line {n}" for n in range(5)]
    assert turns[0] == {"speaker": "agent", "text": "line 0", "at": turn(0).at}
    assert await blocks(account, "rtc_live1") == 2  # one write per batch, not one per turn


async def test_the_next_slice_appends_to_the_same_blob(account: Account) -> None:
    first = sink(account)
    first.add(turn(0))
    await first.aclose()
    second = sink(account)
    second.add(turn(1))
    await second.aclose()
    assert [t["text"] for t in await live_turns(account, "rtc_live1")] == ["line 0", "line 1"]


async def test_a_slice_that_no_longer_holds_the_lease_writes_nothing(account: Account) -> None:
    transcript = sink(account, not_held)
    transcript.add(turn(0))
    await transcript.aclose()
    assert await live_turns(account, "rtc_live1") == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_store_that_is_down_costs_the_call_nothing_and_batches_are_dropped_after_a_bound(
    azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    dead = azurite.connection_string.replace(
        azurite.connection_string.split("BlobEndpoint=")[1].split(";")[0],
        f"http://127.0.0.1:{closed_port()}/devstoreaccount1",
    )
    down = Account(StoreConfig(connection_string=dead, name="callsdown"))

    async def get() -> Account:
        return down

    caplog.set_level(logging.WARNING, logger="switchboard.store.live")
    transcript = LiveTranscript("rtc_down", held, get, flush_seconds=FLUSH)
    transcript.add(turn(0))  # never raises, never waits
    transcript.add(turn(1))
    await asyncio.sleep(FLUSH * (MAX_ATTEMPTS + 4))
    transcript.add(turn(2))
    async with asyncio.timeout(10):
        await transcript.aclose()
    await down.aclose()
    failures = [r for r in caplog.records if "live transcript write failed" in r.getMessage()]
    assert len(failures) >= MAX_ATTEMPTS
    assert "3 live transcript turns were not written" in caplog.text


class CountingAccount:
    """Counts appends (the pacing, not the store, is under test here)."""

    def __init__(self) -> None:
        self.appends: list[bytes] = []
        self.records = self
        self.appender = self

    async def create(self, name: str) -> None:
        return None

    async def append(self, name: str, data: bytes) -> None:
        self.appends.append(data)


async def test_writes_are_paced_per_worker_however_many_calls_it_holds() -> None:
    account = CountingAccount()

    async def get() -> Account:
        return account  # type: ignore[return-value]

    calls = 100  # at WRITES_PER_SECOND, each may write every 2 s
    transcripts = [LiveTranscript(f"rtc_{n}", held, get, flush_seconds=0.01) for n in range(calls)]
    for second in range(10):  # a turn every 0.1 s on every call, for 1 s
        for transcript in transcripts:
            transcript.add(turn(second))
        await asyncio.sleep(0.1)
    assert len(account.appends) <= calls * 1.0 / (calls / WRITES_PER_SECOND) * 1.6
    for transcript in transcripts:
        await transcript.aclose()
    assert sum(block.count(b"\n") for block in account.appends) == calls * 10


async def test_the_blob_the_calls_start_made_reads_empty_then_takes_the_turns(
    account: Account,
) -> None:
    await account.records.get_blob_client(live_blob_name("rtc_live1")).create_append_blob()
    assert await live_turns(account, "rtc_live1") == []  # made, nothing appended yet
    transcript = sink(account)
    transcript.add(turn(0))
    await transcript.aclose()
    assert [t["text"] for t in await live_turns(account, "rtc_live1")] == ["line 0"]
    assert await blocks(account, "rtc_live1") == 1
