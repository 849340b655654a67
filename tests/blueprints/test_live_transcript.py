"""A live call's transcript, read through the operator API while the call is up, and purged.

The long-call scenario says a line every 3 s; the monitor appends turns to the call's blob in
Azurite in batches (``switchboard.store.live``), and ``GET /api/calls/{id}`` returns them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from devhost.durable_host import DurableTestHost
from devhost.functions import call_timer
from emulator import Emulator
from switchboard.realtime.slice import Turn
from switchboard.store.account import get_account
from switchboard.store.calls import CallStore
from switchboard.store.live import LiveTranscript, live_blob_name
from tests.blueprints.calls import live_call
from tests.blueprints.test_records import finished_call, get_call
from tests.conftest import CallEnv
from tests.support.azurite import Azurite

TIMEOUT = 30.0


async def hang_up(host: DurableTestHost, call_id: str) -> None:
    req = func.HttpRequest(
        method="POST",
        url=f"http://127.0.0.1/api/calls/{call_id}/hangup",
        body=b"",
        route_params={"call_id": call_id},
    )
    assert (await host.call_http("hang_up_live_call", req)).status_code == 202
    await host.wait_for_completion(call_id, timeout=TIMEOUT)


async def live_turns_seen(
    host: DurableTestHost, call_id: str, more_than: int
) -> list[dict[str, Any]]:
    """Polls the operator API until the live call shows more than ``more_than`` turns."""
    seen: list[dict[str, Any]] = []

    async def grew() -> bool:
        nonlocal seen
        status, body = await get_call(host, call_id)
        assert (status, body["runtime_status"], body["record"]) == (200, "Running", None)
        seen = body["live_turns"]
        return len(seen) > more_than

    deadline = datetime.now(UTC) + timedelta(seconds=TIMEOUT)
    while not await grew():
        assert datetime.now(UTC) < deadline, f"live turns stayed at {len(seen)}"
        await asyncio.sleep(0.25)
    return seen


async def test_a_live_calls_transcript_is_readable_while_it_is_up_and_grows(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    call_id = await live_call(emulator, app_host, app_url)
    first = await live_turns_seen(app_host, call_id, 0)
    assert {turn["speaker"] for turn in first} <= {"caller", "agent"}
    assert all(set(turn) == {"speaker", "text", "at"} for turn in first)
    later = await live_turns_seen(app_host, call_id, len(first))
    assert later[: len(first)] == first  # it grows: appended, never rewritten
    assert any(t["text"] == "Can you tell me a bit more about that?" for t in later)
    await hang_up(app_host, call_id)
    status, body = await get_call(app_host, call_id)  # ended: the record, not the live turns
    assert status == 200
    assert "live_turns" not in body
    recorded = [(t["speaker"], t["text"]) for t in body["record"]["turns"]]
    assert [(t["speaker"], t["text"]) for t in later] == recorded[: len(later)]


async def blob_exists(azurite: Azurite, name: str) -> bool:
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        blob = service.get_blob_client(os.environ["CALL_STORE_NAME"], name)
        try:
            await blob.get_blob_properties()
        except ResourceNotFoundError:
            return False
        return True


async def write_live(call_id: str) -> None:
    async def held() -> bool:
        return True

    transcript = LiveTranscript(call_id, held)
    transcript.add(Turn("caller", "hello", "2026-10-01T10:00:00.000+00:00"))
    await transcript.aclose()


async def test_the_purge_deletes_the_live_transcript_with_the_record(
    app_host: DurableTestHost,
    call_env: CallEnv,
    azurite: Azurite,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call_env.set(CALL_RECORD_RETENTION_DAYS="30")
    recent = await finished_call(app_host, "rtc_recent")
    old_at = datetime.now(UTC) - timedelta(days=31)
    await CallStore(await get_account()).ended(
        {**recent, "call_id": "rtc_old", "received_at": old_at.isoformat()}
    )
    for call_id in ("rtc_old", "rtc_recent"):
        await write_live(call_id)
    assert await blob_exists(azurite, live_blob_name("rtc_old"))
    caplog.set_level(logging.INFO, logger="blueprints.records")
    await call_timer(app_host, "purge_call_records")
    assert "purged 1 stored calls" in caplog.text
    assert not await blob_exists(azurite, live_blob_name("rtc_old"))
    assert await blob_exists(azurite, live_blob_name("rtc_recent"))
