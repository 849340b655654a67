"""Admission: refused callers never hold a slot, and an admitted call waits for few Durable hops."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from azure.durable_functions.models.history import HistoryEventType

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from emulator.scenario import Caller, Fault, load_scenario
from tests.blueprints.calls import held_slots, place_and_finish, requests
from tests.conftest import CallEnv

BLOCKED = "+14155550666"


def hops_before_accept(history: list[dict[str, Any]]) -> tuple[int, int]:
    """(orchestrator episodes, queue messages) up to the one that schedules ``accept_call``.

    Each episode is woken by one message (the start, or an answer); the accept activity's own
    message is one more before the accept request goes out.
    """
    episodes = 0
    for entry in history:
        if entry["EventType"] == HistoryEventType.ORCHESTRATOR_STARTED:
            episodes += 1
        if entry["EventType"] == HistoryEventType.TASK_SCHEDULED and entry["Name"] == "accept_call":
            return episodes, episodes + 1
    raise AssertionError("accept_call was never scheduled")


@pytest.mark.parametrize(("limit", "hops"), [("1", (2, 3)), ("0", (1, 2))])
async def test_an_admitted_call_waits_only_for_the_slot_and_the_accept(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    call_env: CallEnv,
    limit: str,
    hops: tuple[int, int],
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS=limit)
    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert record["end_reason"] == "caller_hangup"
    assert hops_before_accept(app_host.instances[record["call_id"]].history) == hops


async def test_a_refused_caller_never_holds_the_slot_an_admitted_one_needs(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    """With one slot, a blocklisted caller whose refusal is slow must not make another hear 486."""
    call_env.set(MAX_CONCURRENT_CALLS="1", CALLER_BLOCKLIST=BLOCKED, SILENCE_SECONDS="0")
    blocked = dataclasses.replace(
        load_scenario("greeting"),
        caller=Caller(from_header=f'"Mallory" <sip:{BLOCKED}@carrier.example>;tag=emu1'),
        faults=(Fault(on="reject", action="timeout", seconds=1.0),),
    )
    webhook = f"{app_url}/api/calls/incoming"
    refused = await emulator.place_call(blocked, webhook_url=webhook)
    await app_host.wait_until(
        lambda: bool(app_host.activity_calls("reject_call")), what="the refusal under way"
    )
    record, timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert (record["decision"], record["end_reason"]) == ("accept", "caller_hangup")
    assert len(requests(timeline, "accept")) == 1
    refused_record = (await app_host.wait_for_completion(refused)).output
    assert (refused_record["decision_reason"], refused_record["end_reason"]) == (
        "blocklisted",
        "rejected",
    )
    assert app_host.entities["@call_slots@global"].state == {"held": {}}
    assert held_slots(app_host) == {}
    history = app_host.instances[refused].history
    sent = [e for e in history if e["EventType"] == HistoryEventType.EVENT_SENT]
    assert sent == []  # the refused call neither asked for a slot nor released one
