"""SIP behaviours a scenario asks for: keypad presses, an unnoticed cancel, several signatures."""

from __future__ import annotations

import itertools
import time
from typing import Any

import aiohttp
import pytest
import standardwebhooks
from openai import AsyncOpenAI, InvalidWebhookSignatureError
from openai.types.realtime import InputAudioBufferDtmfEventReceivedEvent

from emulator import Emulator, ScenarioError, parse_scenario
from tests.emulator.emulator_testkit import (
    API_KEY,
    SECRET,
    FakeApp,
    assert_server_events,
    sent_events,
)

ACCEPT = {"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."}


async def test_keypad_presses_reach_every_socket_in_the_documented_shape(
    emu: Emulator, app: FakeApp
) -> None:
    before = int(time.time())
    call_id = await emu.place_call("keypad", app.url, time_scale=0.1)
    view = await emu.wait_for_end(call_id, timeout=10)
    assert view["expectation_errors"] == []
    received = [e for e in app.calls[call_id].events if e["type"].endswith("dtmf_event_received")]
    assert [e["event"] for e in received] == list("1234#")
    for payload in received:
        event = InputAudioBufferDtmfEventReceivedEvent.model_validate(payload)
        assert set(payload) == {"type", "event", "received_at"}
        assert before <= event.received_at <= time.time()
    assert_server_events(sent_events(view))
    types = [e["type"] for e in app.calls[call_id].events]
    first_key = types.index("input_audio_buffer.dtmf_event_received")
    assert types[first_key - 1] == "output_audio_buffer.stopped"  # after the agent asked
    sent = [e for e in view["timeline"] if e.get("type", "").endswith("dtmf_event_received")]
    gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 0.025  # interval_seconds 0.3, scaled by 0.1


async def test_a_cancel_the_service_misses_can_still_be_accepted(
    emu: Emulator, sdk: AsyncOpenAI
) -> None:
    call_id = await emu.place_call("cancelled_but_accepted", "http://127.0.0.1:9/unused")
    call = emu.calls[call_id]
    await call.wait_until(lambda: call.caller_gone, timeout=2)
    assert (call.state, call.sip_status) == ("ringing", None)
    await sdk.realtime.calls.accept(call_id, **ACCEPT)  # type: ignore[arg-type]
    assert call.state == "active"
    await emu.caller_hangup(call_id)
    assert call.state == "active"  # nobody was on the line to hang up
    await sdk.realtime.calls.hangup(call_id)
    view = await emu.wait_for_end(call_id, timeout=2)
    assert (view["state"], view["reason"], view["accept_count"]) == ("ended", "hangup", 1)
    gone = [e for e in view["timeline"] if e["kind"] == "caller_gone"]
    assert [(e["state"], e["noticed"]) for e in gone] == [("ringing", False)]
    assert view["expectation_errors"] == []


async def test_an_unanswered_ghost_call_ends_at_the_scenario_session_limit(
    emu: Emulator, sdk: AsyncOpenAI
) -> None:
    call_id = await emu.place_call(
        "cancelled_but_accepted", "http://127.0.0.1:9/unused", time_scale=0.02
    )
    await emu.calls[call_id].wait_until(lambda: emu.calls[call_id].caller_gone, timeout=2)
    await sdk.realtime.calls.accept(call_id, **ACCEPT)  # type: ignore[arg-type]
    view = await emu.wait_for_end(call_id, timeout=5)
    assert (view["state"], view["reason"]) == ("ended", "session_limit")


async def test_a_gone_caller_cannot_speak_or_press_keys(emu: Emulator, sdk: AsyncOpenAI) -> None:
    scenario = parse_scenario(
        "ghost_speaks",
        {
            "accept": {"accepts_cancelled_calls": True},
            "steps": [
                {"action": "hangup"},
                {"action": "wait_for", "until": "accepted"},
                {"action": "respond", "reply": "Hello? Anyone there?"},
                {"action": "say", "text": "I am not here."},
            ],
        },
    )
    call_id = await emu.place_call(scenario, "http://127.0.0.1:9/unused")
    await sdk.realtime.calls.accept(call_id, **ACCEPT)  # type: ignore[arg-type]
    call = emu.calls[call_id]
    async with aiohttp.ClientSession() as http:
        url = f"{emu.base_url}/openai/v1/realtime?call_id={call_id}"
        async with http.ws_connect(url, headers={"api-key": API_KEY}):
            await call.wait_until(lambda: call.script_status != "running", timeout=3)
    assert call.script_status == "failed"
    assert call.script_error == "steps[3]: the caller hung up while ringing and cannot be heard"
    assert call.counters.response_done == 1  # the model spoke, to nobody
    await sdk.realtime.calls.hangup(call_id)


async def test_several_signatures_one_of_which_matches(emu: Emulator, app: FakeApp) -> None:
    call_id = await emu.place_call("signature_rotation", app.url, time_scale=0.1)
    view = await emu.wait_for_end(call_id, timeout=10)
    assert view["expectation_errors"] == []
    (body, headers), *_ = app.deliveries
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 3
    assert all(s.startswith("v1,") and len(s) == 47 for s in signatures)
    standardwebhooks.Webhook(SECRET).verify(body, headers)
    sdk = AsyncOpenAI(api_key="unused")
    sdk.webhooks.verify_signature(body, headers, secret=SECRET)
    for alone in signatures[:-1]:
        with pytest.raises(InvalidWebhookSignatureError):
            sdk.webhooks.verify_signature(
                body, {**headers, "webhook-signature": alone}, secret=SECRET
            )
    assert app.webhook_statuses == [200]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"steps": [{"action": "keypad"}]}, "steps[0].keys must be 1-64 keypad keys"),
        ({"steps": [{"action": "keypad", "keys": "12x"}]}, "steps[0].keys must be"),
        ({"steps": [{"action": "keypad", "keys": "1" * 65}]}, "steps[0].keys must be"),
        (
            {"steps": [{"action": "keypad", "keys": "1", "interval_seconds": -1}]},
            "steps[0].interval_seconds must be >= 0",
        ),
        ({"webhook": {"extra_signatures": 6}}, "webhook.extra_signatures must be between 0 and 5"),
        ({"accept": {"accepts_cancelled_calls": "yes"}}, "accept.accepts_cancelled_calls must be"),
        ({"session_limit_seconds": 0}, "session_limit_seconds must be >= 0.01"),
    ],
)
def test_errors_name_the_bad_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ScenarioError, match=r"^scenario 'x': ") as error:
        parse_scenario("x", data)
    assert field in str(error.value)
