"""Call records listed and purged, through the real functions, SDK client and test host."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)

from activities import names
from emulator import Emulator
from switchboard.records import CallStart
from switchboard.settings import get_settings
from switchboard.webhook import IncomingCall
from tests.blueprints.calls import live_call, place_and_finish
from tests.conftest import CallEnv
from tests.support.durable_host import DurableTestHost, EntityView
from tests.support.functions import call_timer

TIMEOUT = 15.0
SLOTS = "@call_slots@global"


async def list_calls(host: DurableTestHost, **params: str) -> tuple[int, dict[str, Any]]:
    req = func.HttpRequest(method="GET", url="http://127.0.0.1/api/calls", params=params, body=b"")
    response = await host.call_http("list_calls", req)
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


async def every_page(host: DurableTestHost, **params: str) -> list[list[str]]:
    """Follow ``next`` to the end; the call ids of each page."""
    pages: list[list[str]] = []
    cursor = ""
    while True:
        status, body = await list_calls(host, **params, **({"cursor": cursor} if cursor else {}))
        assert status == 200, body
        pages.append([call["call_id"] for call in body["calls"]])
        if body["next"] is None:
            return pages
        cursor = body["next"]
        assert len(pages) < 200, "paging does not end"


def start_call(host: DurableTestHost, call_id: str) -> str:
    """Start the real orchestrator for a call the emulator never rang: it ends ``caller_gone``."""
    call = IncomingCall(call_id, f"wh_{call_id}", f"evt_{call_id}", 1_764_000_000, ())
    settings = get_settings()
    start = CallStart(call, settings.plan(), settings.policy.screen(call, datetime.now(UTC)))
    return host.start(names.CALL_ORCHESTRATOR, start.to_dict(), call.instance_id)


async def finished_calls(host: DurableTestHost, *call_ids: str) -> None:
    for call_id in call_ids:
        start_call(host, call_id)
    for call_id in call_ids:
        view = await host.wait_for_completion(call_id, timeout=TIMEOUT)
        assert view.runtime_status is Status.Completed, view.output


async def failed_call(host: DurableTestHost, call_id: str) -> None:
    host.start(names.CALL_ORCHESTRATOR, {"call": {"call_id": call_id}, "plan": {}}, call_id)
    view = await host.wait_for_completion(call_id, timeout=TIMEOUT)
    assert view.runtime_status is Status.Failed


def add_slots_entity(host: DurableTestHost) -> None:
    """The call-slots entity as a stored row (the store lists entities beside orchestrations)."""
    host.entities[SLOTS] = EntityView("call_slots", "global", exists=True, state_json="3")


def age(host: DurableTestHost, instance_id: str, days: float) -> None:
    host.instances[instance_id].created_time = datetime.now(UTC) - timedelta(days=days)


async def test_lists_a_finished_and_a_live_call_with_phase_and_record(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    live = await live_call(emulator, app_host, app_url)
    status, body = await list_calls(app_host)
    assert status == 200
    assert body["next"] is None
    by_id = {call["call_id"]: call for call in body["calls"]}
    assert set(by_id) == {record["call_id"], live}
    ended = by_id[record["call_id"]]
    assert (ended["status"], ended["phase"], ended["record"]) == ("completed", "ended", record)
    running = by_id[live]
    assert (running["status"], running["phase"], running["record"]) == ("running", "active", None)
    view = app_host.instances[live]
    created = datetime.fromisoformat(running["created_at"])
    assert created == view.created_time.replace(microsecond=0)
    assert datetime.fromisoformat(running["last_updated_at"]) >= created
    app_host.terminate(live, "test over")


async def test_status_and_since_filters(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    running = await live_call(emulator, app_host, app_url)
    ended = await live_call(emulator, app_host, app_url)
    app_host.terminate(ended, "operator gone")
    await app_host.wait_for_completion(ended, timeout=TIMEOUT)
    await finished_calls(app_host, "rtc_done_old", "rtc_done_new")
    await failed_call(app_host, "rtc_broken")
    age(app_host, "rtc_done_old", 3)
    age(app_host, "rtc_broken", 3)

    async def ids(**params: str) -> set[str]:
        status, body = await list_calls(app_host, **params)
        assert (status, body["next"]) == (200, None), body
        return {call["call_id"] for call in body["calls"]}

    everything = {running, ended, "rtc_done_old", "rtc_done_new", "rtc_broken"}
    assert await ids() == everything
    assert await ids(status="completed") == {"rtc_done_old", "rtc_done_new"}
    assert await ids(status="running") == {running}
    assert await ids(status="terminated, FAILED") == {ended, "rtc_broken"}
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert await ids(since=since) == everything - {"rtc_done_old", "rtc_broken"}
    assert await ids(since=since, status="completed,failed") == {"rtc_done_new"}
    assert await ids(since=datetime.now(UTC).isoformat()) == set()
    _, body = await list_calls(app_host, status="failed")
    assert body["calls"][0]["record"] is None  # a failed orchestration has no record
    _, body = await list_calls(app_host, status="terminated")
    assert body["calls"][0]["record"] is None  # its output is the termination reason
    app_host.terminate(running, "test over")


async def test_pages_cover_every_call_once_across_short_store_pages(
    app_host: DurableTestHost,
) -> None:
    calls = [f"rtc_page{n:02d}" for n in range(9)]
    await finished_calls(app_host, *calls)
    await failed_call(app_host, "rtc_page04x")  # between calls in store order, filtered out
    add_slots_entity(app_host)
    pages = await every_page(app_host, status="completed", limit="2")
    assert all(len(page) <= 2 for page in pages)
    listed = [call_id for page in pages for call_id in page]
    assert sorted(listed) == calls  # every call, none twice
    assert len(pages) >= 5
    assert await every_page(app_host, limit="100") == [sorted([*calls, "rtc_page04x"])]


async def test_a_full_page_beyond_the_store_default_of_100_is_not_truncated(
    app_host: DurableTestHost,
) -> None:
    calls = [f"rtc_bulk{n:03d}" for n in range(130)]
    await finished_calls(app_host, *calls)
    add_slots_entity(app_host)
    pages = await every_page(app_host, limit="100")
    assert [len(page) for page in pages] == [100, 30]
    assert [call_id for page in pages for call_id in page] == calls
    status, body = await list_calls(app_host)
    assert (status, len(body["calls"])) == (200, 50)  # the default limit
    assert body["next"] is not None


async def test_entities_are_never_listed(app_host: DurableTestHost) -> None:
    add_slots_entity(app_host)
    await finished_calls(app_host, "rtc_only")
    for params in ({}, {"status": "running"}, {"limit": "1"}):
        pages = await every_page(app_host, **params)
        assert [call_id for page in pages for call_id in page] == (
            [] if params.get("status") == "running" else ["rtc_only"]
        ), params


def cursor_of(**body: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "since must be an ISO 8601 date and time with a time zone"),
        ({"since": "2026-01-31T09:00:00"}, "since must be an ISO 8601 date and time"),
        ({"since": "2026-01-31"}, "since must be an ISO 8601 date and time"),
        ({"status": "done"}, "status must be one or more of running, completed, failed"),
        ({"status": "running,pending"}, "status must be one or more of"),
        ({"limit": "0"}, "limit must be an integer between 1 and 100"),
        ({"limit": "101"}, "limit must be an integer between 1 and 100"),
        ({"limit": "ten"}, "limit must be an integer between 1 and 100"),
        ({"limit": "-1"}, "limit must be an integer between 1 and 100"),
        ({"cursor": "!!!"}, "cursor is not valid"),
        ({"cursor": base64.urlsafe_b64encode(b"not json").decode()}, "cursor is not valid"),
        ({"cursor": cursor_of(token="t", since=None)}, "cursor is not valid"),
        ({"cursor": cursor_of(token=5, since=None, status=[])}, "cursor is not valid"),
        ({"cursor": cursor_of(token="a\r\nb", since=None, status=[])}, "cursor is not valid"),
    ],
)
async def test_bad_parameters_are_400_with_a_message(
    app_host: DurableTestHost, params: dict[str, str], message: str
) -> None:
    status, body = await list_calls(app_host, **params)
    assert status == 400
    assert message in body["error"]


async def test_a_cursor_the_store_refuses_is_a_502_with_a_message(
    app_host: DurableTestHost,
) -> None:
    forged = cursor_of(token="not-a-store-token", since=None, status=[])
    status, body = await list_calls(app_host, cursor=forged)
    assert status == 502
    assert "instance store refused the query" in body["error"]


async def test_a_cursor_only_continues_the_query_it_came_from(app_host: DurableTestHost) -> None:
    await finished_calls(app_host, "rtc_c1", "rtc_c2", "rtc_c3")
    status, body = await list_calls(app_host, status="completed", limit="1")
    assert status == 200
    cursor = body["next"]
    assert cursor is not None
    status, body = await list_calls(app_host, status="completed", limit="5", cursor=cursor)
    assert (status, [c["call_id"] for c in body["calls"]]) == (200, ["rtc_c2", "rtc_c3"])
    for other in ({"status": "failed"}, {}, {"since": "2020-01-01T00:00:00Z"}):
        status, body = await list_calls(app_host, **other, cursor=cursor)
        assert status == 400, other
        assert "cursor belongs to a query with other since/status" in body["error"]


async def test_purge_removes_only_finished_calls_past_retention(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    call_env: CallEnv,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call_env.set(CALL_RECORD_RETENTION_DAYS="30")
    await finished_calls(app_host, "rtc_old", "rtc_recent")
    await failed_call(app_host, "rtc_old_failed")
    stopped = await live_call(emulator, app_host, app_url)
    app_host.terminate(stopped, "test")
    await app_host.wait_for_completion(stopped, timeout=TIMEOUT)
    running = await live_call(emulator, app_host, app_url)
    add_slots_entity(app_host)
    for old in ("rtc_old", "rtc_old_failed", stopped, running):
        age(app_host, old, 31)
    age(app_host, "rtc_recent", 29)

    caplog.set_level(logging.INFO, logger="blueprints.records")
    await call_timer(app_host, "purge_call_records")
    assert set(app_host.instances) == {"rtc_recent", running}
    assert SLOTS in app_host.entities
    assert "purged 3 finished call records" in caplog.text
    assert "retention 30 days" in caplog.text

    call_env.set(CALL_RECORD_RETENTION_DAYS="7")
    await call_timer(app_host, "purge_call_records", past_due=True)
    assert set(app_host.instances) == {running}
    assert "purged 1 finished call records" in caplog.text
    app_host.terminate(running, "test over")
