"""Call records in the call store (Azurite), through the real app, test host and emulator.

Calls are placed through the emulator or started on the real orchestrator; what the store holds
is read back both through the app's functions and directly with the storage SDKs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.data.tables.aio import TableServiceClient
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)
from azure.storage.blob.aio import BlobServiceClient

from activities import names
from devhost.durable_host import DurableTestHost
from devhost.functions import call_timer
from emulator import Emulator
from switchboard.records import CallStart
from switchboard.settings import get_settings
from switchboard.store.account import get_account
from switchboard.store.calls import CallStore
from switchboard.store.keys import caller_key
from switchboard.webhook import IncomingCall
from tests.blueprints.calls import live_call, place_and_finish
from tests.blueprints.conftest import DEFAULT_CALLER
from tests.conftest import CALLER_KEY, CallEnv
from tests.support.azurite import Azurite

TIMEOUT = 15.0


async def get(
    host: DurableTestHost, function: str, url: str, **params: str
) -> tuple[int, dict[str, Any]]:
    req = func.HttpRequest(method="GET", url=url, params=params, body=b"")
    if function == "get_call":
        req = func.HttpRequest(
            method="GET", url=url, body=b"", route_params={"call_id": url.rsplit("/", 1)[1]}
        )
    response = await host.call_http(function, req)
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


def _forged_cursor(after: str) -> str:
    """A cursor built by hand for an unfiltered list (its scope digest is not secret)."""
    scope = hashlib.sha256(json.dumps([None] * 5).encode()).hexdigest()[:16]
    body = json.dumps({"after": after, "scope": scope}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


FORGED_FAR_FUTURE_CURSOR = _forged_cursor("000000000000000000_rtc_x")
"""Row key zero: a received time tens of thousands of years from now."""


async def list_calls(host: DurableTestHost, **params: str) -> tuple[int, dict[str, Any]]:
    return await get(host, "list_calls", "http://127.0.0.1/api/calls", **params)


async def get_call(host: DurableTestHost, call_id: str) -> tuple[int, dict[str, Any]]:
    return await get(host, "get_call", f"http://127.0.0.1/api/calls/{call_id}")


async def ids(host: DurableTestHost, **params: str) -> list[str]:
    status, body = await list_calls(host, **params)
    assert (status, body["next"]) == (200, None), body
    return [call["call_id"] for call in body["calls"]]


async def finished_call(host: DurableTestHost, call_id: str) -> dict[str, Any]:
    """The real orchestrator for a call the emulator never rang: it ends ``caller_gone``."""
    call = IncomingCall(call_id, f"wh_{call_id}", f"evt_{call_id}", 1_764_000_000, ())
    settings = get_settings()
    start = CallStart(call, settings.plan(), settings.policy.screen(call, datetime.now(UTC)))
    host.start(names.CALL_ORCHESTRATOR, start.to_dict(), call_id)
    view = await host.wait_for_completion(call_id, timeout=TIMEOUT)
    assert view.runtime_status is Status.Completed, view.output
    assert isinstance(view.output, dict)
    return view.output


async def stored_rows(azurite: Azurite, table: str) -> list[dict[str, Any]]:
    async with TableServiceClient.from_connection_string(azurite.connection_string) as service:
        client = service.get_table_client(table)
        return [dict(row) async for row in client.list_entities()]


async def stored_blob(azurite: Azurite, name: str) -> dict[str, Any]:
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        blob = service.get_blob_client(os.environ["CALL_STORE_NAME"], name)
        data: dict[str, Any] = json.loads(await (await blob.download_blob()).readall())
        return data


async def test_a_call_through_the_emulator_ends_with_a_row_and_a_blob_in_azurite(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, azurite: Azurite
) -> None:
    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    call_id = record["call_id"]
    assert record["errors"] == []
    name = os.environ["CALL_STORE_NAME"]
    (row,) = await stored_rows(azurite, name)
    assert row["RowKey"].endswith(f"_{call_id}")
    assert (row["call_id"], row["status"], row["end_reason"]) == (call_id, "ended", "caller_hangup")
    assert (row["caller"], row["turns"]) == (DEFAULT_CALLER, len(record["turns"]))
    assert len(record["turns"]) > 0
    assert "turns" in record
    (by_caller,) = await stored_rows(azurite, f"{name}bycaller")
    assert DEFAULT_CALLER is not None
    assert by_caller["PartitionKey"] == caller_key(DEFAULT_CALLER, CALLER_KEY.encode())
    assert by_caller["RowKey"] == row["RowKey"]
    assert await stored_blob(azurite, f"records/{call_id}.json") == record
    assert [a["call_id"] for a in app_host.activity_calls(names.RECORD_CALL_STARTED)] == [call_id]
    assert [a["call_id"] for a in app_host.activity_calls(names.RECORD_CALL_ENDED)] == [call_id]

    status, body = await get_call(app_host, call_id)
    assert (status, body["record"]) == (200, record)


async def test_a_live_call_is_listed_live_and_then_ended(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    live = await live_call(emulator, app_host, app_url)
    status, body = await list_calls(app_host)
    (call,) = body["calls"]
    assert (status, call["call_id"], call["status"], call["ended_at"]) == (200, live, "live", None)
    assert await ids(app_host, status="ended") == []
    assert DEFAULT_CALLER is not None
    assert await ids(app_host, caller=DEFAULT_CALLER, status="live") == [live]
    req = func.HttpRequest(
        method="POST",
        url=f"http://127.0.0.1/api/calls/{live}/hangup",
        body=b"",
        route_params={"call_id": live},
    )
    assert (await app_host.call_http("hang_up_live_call", req)).status_code == 202
    await app_host.wait_for_completion(live, timeout=TIMEOUT)
    (call,) = (await list_calls(app_host, status="ended"))[1]["calls"]
    assert (call["call_id"], call["end_reason"]) == (live, "operator_hangup")
    assert call["ended_at"] is not None
    assert await ids(app_host, status="live") == []


async def test_newest_first_in_pages_with_filters(app_host: DurableTestHost) -> None:
    calls = [f"rtc_page{n:02d}" for n in range(7)]
    for call_id in calls:  # one after the other: each is received after the one before
        await finished_call(app_host, call_id)
    newest_first = calls[::-1]
    pages: list[list[str]] = []
    cursor = ""
    while True:
        status, body = await list_calls(
            app_host, limit="3", **({"cursor": cursor} if cursor else {})
        )
        assert status == 200, body
        pages.append([call["call_id"] for call in body["calls"]])
        if body["next"] is None:
            break
        cursor = body["next"]
    assert pages == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    assert await ids(app_host, end_reason="caller_gone", status="ended") == newest_first
    assert await ids(app_host, end_reason="busy") == []
    received = (await list_calls(app_host))[1]["calls"][2]["received_at"]
    assert await ids(app_host, until=received) == newest_first[2:]
    assert await ids(app_host, since=received) == newest_first[:3]
    assert await ids(app_host, caller="+14155550123") == []
    status, body = await list_calls(app_host)
    assert set(body["calls"][0]) >= {"call_id", "status", "received_at", "end_reason", "caller"}
    assert "turns" in body["calls"][0]
    assert not isinstance(body["calls"][0]["turns"], list)  # a count: summaries only


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "since must be an ISO 8601 date and time with a time zone"),
        ({"until": "2026-01-31"}, "until must be an ISO 8601 date and time"),
        ({"status": "running"}, "status must be live or ended"),
        ({"end_reason": "x' or '1' eq '1"}, "end_reason must be one end reason"),
        ({"caller": "anonymous"}, "caller must be a phone number in E.164 form"),
        ({"limit": "101"}, "limit must be an integer between 1 and 100"),
        ({"cursor": "!!!"}, "cursor is not valid"),
        ({"cursor": "eyJhZnRlciI6IngifQ"}, "cursor is not valid"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since must be an ISO 8601 date and time"),
        ({"until": "9999-12-31T23:59:59-01:00"}, "until must be an ISO 8601 date and time"),
        ({"until": "0001-01-01T00:30:00Z"}, "until must be an ISO 8601 date and time"),
        ({"cursor": FORGED_FAR_FUTURE_CURSOR}, "cursor is not valid"),
    ],
)
async def test_bad_parameters_are_400_with_a_message(
    app_host: DurableTestHost,
    params: dict[str, str],
    message: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    status, body = await list_calls(app_host, **params)
    assert status == 400
    assert message in body["error"]
    assert "call list refused" in caplog.text


async def test_a_cursor_only_continues_the_query_it_came_from(app_host: DurableTestHost) -> None:
    for call_id in ("rtc_c1", "rtc_c2", "rtc_c3"):
        await finished_call(app_host, call_id)
    status, body = await list_calls(app_host, status="ended", limit="1")
    cursor = body["next"]
    assert (status, cursor is not None) == (200, True)
    status, body = await list_calls(app_host, status="ended", limit="5", cursor=cursor)
    assert (status, [c["call_id"] for c in body["calls"]]) == (200, ["rtc_c2", "rtc_c1"])
    for other in ({"status": "live"}, {}, {"since": "2020-01-01T00:00:00Z"}):
        status, body = await list_calls(app_host, **other, cursor=cursor)
        assert status == 400, other
        assert "cursor belongs to a query with other filters" in body["error"]


@pytest.mark.slow
async def test_a_store_that_is_down_never_costs_the_call(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(
        AzureWebJobsStorage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
        "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    )
    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting", timeout=30)
    assert record["end_reason"] == "caller_hangup"
    assert record["turns"]
    assert [e.split(":")[0] for e in record["errors"]] == [
        names.RECORD_CALL_STARTED,
        names.RECORD_CALL_ENDED,
    ]
    assert len(app_host.activity_calls(names.RECORD_CALL_STARTED)) == 2  # retried, then noted
    assert len(app_host.activity_calls(names.RECORD_CALL_ENDED)) == 5
    status, body = await get_call(app_host, record["call_id"])  # answered from the task hub
    assert (status, body["record"]) == (200, record)


async def test_purge_deletes_old_rows_and_blobs_and_old_finished_instances(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    call_env: CallEnv,
    azurite: Azurite,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call_env.set(CALL_RECORD_RETENTION_DAYS="30")
    recent = await finished_call(app_host, "rtc_recent")
    store = CallStore(await get_account())
    old_at = datetime.now(UTC) - timedelta(days=31)
    old = {
        **recent,
        "call_id": "rtc_old",
        "received_at": old_at.isoformat(),
        "caller": "+14155550123",
    }
    await store.ended(old)
    live = await live_call(emulator, app_host, app_url)
    app_host.instances["rtc_recent"].created_time = old_at  # gone from the hub, kept in the store
    assert await ids(app_host) == [live, "rtc_recent", "rtc_old"]

    caplog.set_level(logging.INFO, logger="blueprints.records")
    await call_timer(app_host, "purge_call_records")
    assert "purged 1 stored calls and 1 finished instances" in caplog.text
    assert await ids(app_host) == [live, "rtc_recent"]
    assert await ids(app_host, caller="+46701234567") == []
    assert await store.record("rtc_old") is None
    assert set(app_host.instances) == {live}
    name = os.environ["CALL_STORE_NAME"]
    assert sorted(r["call_id"] for r in await stored_rows(azurite, name)) == [live, "rtc_recent"]

    status, body = await get_call(app_host, "rtc_recent")  # its instance is purged: the blob stays
    assert (status, body["runtime_status"], body["record"]) == (200, None, recent)
    assert (await get_call(app_host, "rtc_old"))[0] == 404
    app_host.terminate(live, "test over")
