"""End to end, the receptionist behaviours: admission control, limits, transfers, the agent file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard.agent import (
    CHECK_IN_LINE,
    SILENCE_GOODBYE_LINE,
    TRANSFER_FAILED_LINE,
)
from switchboard.records import CallRecord
from switchboard.usage import Prices, Usage
from tests.blueprints.calls import held_slots, place_and_finish, requests, successful
from tests.conftest import TRANSFER_TARGET, CallEnv

SALES = "tel:+14155550111"
FALLBACK = "sip:operator@pbx.example.com"


def spoken_instructions(timeline: dict[str, Any]) -> list[str]:
    """What the app asked the agent to say, in order (``response.create`` instructions)."""
    return [
        entry["payload"]["response"]["instructions"]
        for entry in timeline["timeline"]
        if entry["kind"] == "event_received"
        and entry["type"] == "response.create"
        and "instructions" in entry["payload"].get("response", {})
    ]


def weekday(at: datetime) -> str:
    return ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[at.weekday()]


async def test_a_full_house_is_refused_with_486_and_slots_come_back(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="1", SILENCE_SECONDS="0")
    webhook = f"{app_url}/api/calls/incoming"
    first = await emulator.place_call("silent_caller", webhook_url=webhook, time_scale=0.5)
    await app_host.wait_until(lambda: first in held_slots(app_host), what="first call's slot")

    busy, busy_timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert (busy["decision"], busy["end_reason"], busy["sip_status"]) == ("reject", "busy", 486)
    assert busy_timeline["sip_status"] == 486
    assert requests(busy_timeline, "accept") == []
    assert list(held_slots(app_host)) == [first]

    await emulator.wait_for_end(first, timeout=15)
    await app_host.wait_for_completion(first, timeout=15)
    await app_host.wait_until(lambda: not held_slots(app_host), what="slot released")
    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert record["end_reason"] == "caller_hangup"
    assert held_slots(app_host) == {}


async def test_every_way_a_call_ends_releases_its_slot_exactly_once(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="2", CALLER_BLOCKLIST="+14155550999")
    ends = {}
    for scenario in ("greeting", "end_call", "transfer", "hangup_while_ringing", "accept_429"):
        record, _ = await place_and_finish(emulator, app_host, app_url, scenario)
        ends[scenario] = record["end_reason"]
        assert held_slots(app_host) == {}, scenario
    assert ends == {
        "greeting": "caller_hangup",
        "end_call": "agent_end_call",
        "transfer": "transferred",
        "hangup_while_ringing": "caller_gone",
        "accept_429": "caller_hangup",
    }
    releases = [
        entry
        for view in app_host.instances.values()
        for entry in view.history
        if entry.get("Name") == "op" and '"op": "release"' in entry.get("Input", "")
    ]
    assert len(releases) == len(ends)  # exactly one release per call


async def test_a_call_whose_activity_fails_for_good_still_releases_its_slot(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="1")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "accept_unavailable")
    assert record["end_reason"] == "error:accept_call"
    assert len(app_host.activity_calls("accept_call")) == 4  # every retry Durable allowed
    assert successful(timeline, "accept") == []
    assert held_slots(app_host) == {}


async def test_after_hours_calls_are_refused_with_the_after_hours_status(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    closed_day = datetime.now(UTC) + timedelta(days=2)  # never today, in any time zone
    call_env.set(BUSINESS_HOURS=f"{weekday(closed_day)} 09:00-17:00", AFTER_HOURS="reject")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert (record["decision_reason"], record["end_reason"]) == ("after_hours", "rejected")
    assert record["sip_status"] == timeline["sip_status"] == 480
    assert requests(timeline, "accept") == []


async def test_after_hours_calls_can_get_the_after_hours_agent(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    closed_day = datetime.now(UTC) + timedelta(days=2)
    call_env.set(
        AGENT_DEFINITION="agents/front_desk.toml",
        BUSINESS_HOURS=f"{weekday(closed_day)} 09:00-17:00",
        AFTER_HOURS="accept",
    )
    record, timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert record["after_hours"] is True
    assert record["decision_reason"] == "after_hours"
    body = requests(timeline, "accept")[0]["body"]
    assert "outside business hours" in body["instructions"]
    # the agent's HTTP tools are offered after hours too
    assert [tool["name"] for tool in body["tools"]] == ["end_call", "order_status"]
    assert "We're closed right now" in spoken_instructions(timeline)[0]


async def test_open_hours_use_the_agent_definition_file(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(
        AGENT_DEFINITION="agents/front_desk.toml",
        BUSINESS_HOURS="mon-sun 00:00-24:00",
        TRANSFER_TARGETS=f"sales={SALES},support={FALLBACK}",
    )
    record, timeline = await place_and_finish(emulator, app_host, app_url, "transfer")
    body = requests(timeline, "accept")[0]["body"]
    assert body["instructions"].startswith("You are the front desk of Contoso")
    transfer = next(tool for tool in body["tools"] if tool["name"] == "transfer_call")
    assert transfer["parameters"]["properties"]["department"]["enum"] == ["sales", "support"]
    assert "Contoso" in spoken_instructions(timeline)[0]
    assert record["after_hours"] is False
    # the model asked for sales: the department's own target, not the default one
    assert [r["body"]["target_uri"] for r in successful(timeline, "refer")] == [SALES]
    assert record["transfers"] == [{"target": SALES, "status": "completed"}]


async def test_an_unanswerable_accept_is_abandoned_at_the_ring_limit(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(RING_TIMEOUT_SECONDS="2")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "accept_too_slow")
    assert record["end_reason"] == "ring_timeout"
    assert record["accepted_at"] is None
    assert [r["body"]["status_code"] for r in requests(timeline, "reject")] == [480]
    assert successful(timeline, "accept") == []
    assert timeline["state"] != "active"


async def test_a_silent_caller_is_checked_on_once_then_the_call_ends(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(SILENCE_SECONDS="1")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "silent_caller")
    assert record["end_reason"] == "silence"
    said = spoken_instructions(timeline)
    assert said[1:] == [CHECK_IN_LINE, SILENCE_GOODBYE_LINE]
    hangup = requests(timeline, "hangup")
    assert len(hangup) == 1
    stopped = [e for e in timeline["timeline"] if e.get("type") == "output_audio_buffer.stopped"]
    assert stopped
    assert stopped[-1]["t"] <= hangup[0]["t"]  # the goodbye played first


async def test_a_failed_transfer_tries_the_fallback_once_then_tells_the_caller(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(TRANSFER_FALLBACK_URI=FALLBACK, TRANSFER_VERIFY_SECONDS="3")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "refer_fails_twice")
    assert [r["body"]["target_uri"] for r in successful(timeline, "refer")] == [
        TRANSFER_TARGET,
        FALLBACK,
    ]
    assert record["transfers"] == [
        {"target": TRANSFER_TARGET, "status": "not_completed"},
        {"target": FALLBACK, "status": "not_completed"},
    ]
    assert TRANSFER_FAILED_LINE in spoken_instructions(timeline)
    assert record["end_reason"] == "caller_hangup"


async def test_caller_hanging_up_during_the_goodbye_is_a_caller_hangup(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "hangup_during_goodbye")
    assert record["end_reason"] == "caller_hangup"
    assert requests(timeline, "hangup") == []
    assert record["errors"] == []


async def test_records_carry_turn_offsets_and_a_cost_estimate(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(USAGE_PRICES="audio_out=100")
    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    answered = datetime.fromisoformat(record["accepted_at"])
    offsets = [turn["offset_seconds"] for turn in record["turns"]]
    assert offsets == sorted(offsets)
    assert 0 <= offsets[0] <= offsets[-1] < 15
    for turn in record["turns"]:
        seconds = (datetime.fromisoformat(turn["at"]) - answered).total_seconds()
        assert turn["offset_seconds"] == round(seconds, 3)
    usage = Usage.from_dict(record["usage"])
    assert usage.output_audio_tokens > 0
    assert record["estimated_cost_usd"] == Prices(audio_out=100).cost(usage) > 0
    assert CallRecord(**{**record, "usage": usage}).to_dict() == record


async def test_a_socket_lost_for_good_hands_over_to_a_new_slice_that_greets_once(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(
        emulator, app_host, app_url, "socket_lost", timeout=45
    )
    assert record["end_reason"] == "caller_hangup"
    assert record["monitor_slices"] == 2  # the first lost its socket, the second took over
    greetings = [line for line in spoken_instructions(timeline) if line.startswith("Greet")]
    assert len(greetings) == 1
    assert [t["speaker"] for t in record["turns"]] == ["agent", "caller", "agent"]
    assert record["errors"] == []
