"""Signed call events to a real receiver, through the real app, test host and emulator."""

from __future__ import annotations

from typing import Any

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard.events import webhook_id
from switchboard.store.account import get_account
from switchboard.store.calls import CallStore
from tests.blueprints.calls import place_and_finish
from tests.blueprints.conftest import DEFAULT_CALLER
from tests.conftest import CallEnv
from tests.support.receiver import SECRET, Receiver, closed_port_url


def outcomes(record: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(e["type"], e["status"], e["attempts"]) for e in record["events"]]


async def test_call_started_and_call_ended_reach_a_verifying_receiver(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    async with Receiver() as receiver:
        call_env.set(CALL_EVENTS_URL=receiver.url, CALL_EVENTS_SECRET=SECRET)
        record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    call_id = record["call_id"]
    started_id, ended_id = webhook_id(call_id, "call.started"), webhook_id(call_id, "call.ended")
    assert receiver.attempts == [
        {"id": started_id, "verified": True},
        {"id": ended_id, "verified": True},
    ]
    started, ended = receiver.events[started_id], receiver.events[ended_id]
    assert (started["type"], started["data"]["status"]) == ("call.started", "live")
    assert (started["data"]["call_id"], started["data"]["caller"]) == (call_id, DEFAULT_CALLER)
    assert (ended["type"], ended["data"]["end_reason"]) == ("call.ended", "caller_hangup")
    assert ended["data"]["record_url"] == f"/api/calls/{call_id}"
    assert ended["data"]["turns"] == len(record["turns"])
    assert outcomes(record) == [("call.started", "delivered", 1), ("call.ended", "delivered", 1)]
    assert [e["webhook_id"] for e in record["events"]] == [started_id, ended_id]
    assert record["errors"] == []
    stored = await CallStore(await get_account()).record(call_id)
    assert stored == record  # stored again once the events had settled


async def test_a_failed_attempt_is_retried_with_the_same_webhook_id(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    async with Receiver(fail_next=1) as receiver:
        call_env.set(
            CALL_EVENTS_URL=receiver.url, CALL_EVENTS_SECRET=SECRET, CALL_EVENTS_RETRY_SECONDS="0.2"
        )
        record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    started_id = webhook_id(record["call_id"], "call.started")
    ended_id = webhook_id(record["call_id"], "call.ended")
    assert [a["id"] for a in receiver.attempts] == [started_id, started_id, ended_id]
    assert set(receiver.events) == {started_id, ended_id}
    assert outcomes(record) == [("call.started", "delivered", 2), ("call.ended", "delivered", 1)]


async def test_a_receiver_that_is_down_gets_retries_then_a_recorded_failure(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(
        CALL_EVENTS_URL=closed_port_url(),
        CALL_EVENTS_SECRET=SECRET,
        CALL_EVENTS_RETRY_SECONDS="0.2,0.4",
    )
    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert record["end_reason"] == "caller_hangup"  # the call itself is not affected
    assert record["turns"]
    assert record["errors"] == []
    assert outcomes(record) == [("call.started", "failed", 4), ("call.ended", "failed", 3)]
    assert all("Connect" in e["detail"] for e in record["events"])
    stored = await CallStore(await get_account()).record(record["call_id"])
    assert stored is not None
    assert stored["events"] == record["events"]
    assert len(app_host.activity_calls("send_call_event")) == 6  # the first is record_call_started


async def test_call_started_is_settled_even_when_the_store_failed_at_the_answer(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    """``call.started`` goes out in the same activity as the live row: when the store fails that
    activity, the event's outcome was lost with it. The record must still say what became of
    ``call.started`` (settled at the end, under the same webhook id), not leave it out."""
    async with Receiver() as receiver:
        call_env.set(
            CALL_EVENTS_URL=receiver.url,
            CALL_EVENTS_SECRET=SECRET,
            AzureWebJobsStorage="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            "AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
            "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        )
        record, _ = await place_and_finish(emulator, app_host, app_url, "greeting", timeout=30)
    call_id = record["call_id"]
    assert record["end_reason"] == "caller_hangup"
    assert [e["type"] for e in record["events"]] == ["call.started", "call.ended"]
    assert [e["status"] for e in record["events"]] == ["delivered", "delivered"]
    assert set(receiver.events) == {
        webhook_id(call_id, "call.started"),
        webhook_id(call_id, "call.ended"),
    }
