"""End to end: emulator webhook → ingress → orchestration (real replay) → activities → emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard.agent import TRANSFER_FAILED_LINE, WRAP_UP_LINE
from tests.blueprints.calls import RECORD_TIMEOUT, place_and_finish, requests, successful
from tests.conftest import TRANSFER_TARGET, CallEnv


async def test_greeting_call_is_accepted_greeted_transcribed_and_recorded(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert record["end_reason"] == "caller_hangup"
    assert record["decision"] == "accept"
    assert record["caller"] is not None
    assert record["accepted_at"] is not None
    assert record["ended_at"] >= record["accepted_at"]
    caller_lines = [t["text"] for t in record["turns"] if t["speaker"] == "caller"]
    agent_lines = [t["text"] for t in record["turns"] if t["speaker"] == "agent"]
    assert caller_lines == ["Hi, what are your opening hours?", "Great, thank you. Goodbye!"]
    assert "We are open from nine to five, Monday to Friday." in agent_lines
    assert len(agent_lines) == 3  # greeting + two replies
    assert record["usage"]["responses"] == 3
    assert record["usage"]["input_tokens"] > 0
    accepts = requests(timeline, "accept")
    assert len(accepts) == 1
    body = accepts[0]["body"]
    assert body["type"] == "realtime"
    assert body["model"] == "gpt-realtime"
    assert {tool["name"] for tool in body["tools"]} == {"transfer_call", "end_call"}
    assert timeline["state"] == "ended"
    assert timeline["sip_status"] == 200
    assert app_host.instances[record["call_id"]].custom_status["phase"] == "ended"


async def test_transfer_by_tool_refers_to_the_target_and_ends_transferred(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "transfer")
    assert record["end_reason"] == "transferred"
    assert record["transfer_target"] == TRANSFER_TARGET
    assert record["transfer_status"] == "completed"
    refers = requests(timeline, "refer")
    assert [r["body"] for r in refers] == [{"target_uri": TRANSFER_TARGET}]
    assert timeline["state"] == "transferred"
    assert "Transferring you now. Please hold." in [t["text"] for t in record["turns"]]


async def test_refer_that_never_completes_is_detected_and_the_caller_is_told(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "refer_never_completes")
    assert record["transfer_status"] == "not_completed"
    assert record["end_reason"] == "caller_hangup"
    assert len(requests(timeline, "refer")) == 1
    asked = [e["payload"] for e in timeline["timeline"] if e.get("type") == "response.create"]
    instructions = [event.get("response", {}).get("instructions") for event in asked]
    assert TRANSFER_FAILED_LINE in instructions


async def test_end_call_tool_hangs_up_after_the_goodbye_has_played(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "end_call")
    assert record["end_reason"] == "agent_end_call"
    assert timeline["reason"] == "hangup"
    entries = timeline["timeline"]
    hangup_at = next(i for i, e in enumerate(entries) if e in requests(timeline, "hangup"))
    stopped = [
        i
        for i, e in enumerate(entries)
        if e["kind"] == "event_sent" and e["type"] == "output_audio_buffer.stopped"
    ]
    assert stopped, "the goodbye never finished playing"
    assert stopped[-1] < hangup_at, "hung up before the goodbye finished"


async def test_caller_hanging_up_while_ringing_ends_as_caller_gone(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "hangup_while_ringing")
    assert record["end_reason"] == "caller_gone"
    assert [r["status"] for r in requests(timeline, "accept")] == [404]
    assert len(app_host.activity_calls("accept_call")) == 1  # a 404 is an outcome, not retried
    assert app_host.activity_calls("monitor_call") == []


@pytest.mark.parametrize(("scenario", "attempts"), [("accept_429", 3), ("accept_500", 2)])
async def test_transient_accept_failures_are_retried_until_one_accept_succeeds(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, scenario: str, attempts: int
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, scenario)
    assert record["end_reason"] == "caller_hangup"
    assert len(requests(timeline, "accept")) == attempts
    assert len(successful(timeline, "accept")) == 1
    assert len(app_host.activity_calls("accept_call")) == attempts


async def test_slow_accept_still_answers_once(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "slow_accept")
    assert record["end_reason"] == "caller_hangup"
    assert len(successful(timeline, "accept")) == 1


async def test_dropped_websocket_is_reattached_and_the_call_goes_on(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "ws_drop")
    assert record["end_reason"] == "caller_hangup"
    assert record["reconnects"] >= 1
    assert "Hello? Are you still there?" in [t["text"] for t in record["turns"]]
    assert len(successful(timeline, "accept")) == 1


async def test_duplicate_and_concurrent_webhooks_start_one_orchestration_and_one_accept(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "duplicate_webhook")
    assert record["end_reason"] == "caller_hangup"
    deliveries = [e for e in timeline["timeline"] if e["kind"] == "webhook"]
    assert len(deliveries) >= 4
    assert all(e.get("status") == 200 for e in deliveries if "status" in e)
    assert list(app_host.instances) == [record["call_id"]]
    assert len(requests(timeline, "accept")) == 1
    assert app_host.starts == {record["call_id"]: 1}


async def test_long_call_keeps_every_turn(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, _ = await place_and_finish(emulator, app_host, app_url, "long_call", time_scale=0.02)
    assert record["end_reason"] == "caller_hangup"
    assert len([t for t in record["turns"] if t["speaker"] == "caller"]) == 21
    assert record["usage"]["responses"] == 22


@pytest.mark.parametrize("scenario", ["bad_signature", "stale_timestamp"])
async def test_bad_webhooks_start_nothing_and_the_call_is_never_answered(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, scenario: str
) -> None:
    call_id = await emulator.place_call(scenario, webhook_url=f"{app_url}/api/calls/incoming")
    call = emulator.calls[call_id]

    def answered() -> list[dict[str, Any]]:
        return [e for e in call.timeline if e["kind"] == "webhook" and "status" in e]

    async with asyncio.timeout(RECORD_TIMEOUT):
        while len(answered()) < 1 + emulator.config.webhook_retries:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert {e["status"] for e in answered()} == {400}
    await emulator.caller_hangup(call_id)
    timeline = await emulator.wait_for_end(call_id)
    assert app_host.instances == {}
    assert requests(timeline, "accept") == []


async def test_screened_out_caller_is_rejected_with_the_configured_sip_status(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(CALLER_BLOCKLIST="+14155550123", REJECT_SIP_STATUS="403")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert (record["decision"], record["decision_reason"]) == ("reject", "blocklisted")
    assert (record["end_reason"], record["sip_status"]) == ("rejected", 403)
    assert record["accepted_at"] is None
    assert [r["body"] for r in requests(timeline, "reject")] == [{"status_code": 403}]
    assert requests(timeline, "accept") == []
    assert (timeline["state"], timeline["reason"], timeline["sip_status"]) == (
        "ended",
        "rejected",
        403,
    )


async def test_calls_reaching_the_time_limit_are_wrapped_up_then_hung_up(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CALL_SECONDS="10")  # the agent is asked to wrap up 2 s before the end
    record, timeline = await place_and_finish(
        emulator, app_host, app_url, "long_call", timeout=20.0
    )
    assert record["end_reason"] == "max_duration"
    assert timeline["reason"] == "hangup"
    asked = [e["payload"] for e in timeline["timeline"] if e.get("type") == "response.create"]
    assert WRAP_UP_LINE in [event.get("response", {}).get("instructions") for event in asked]
    assert len(app_host.activity_calls("monitor_call")) == 2
