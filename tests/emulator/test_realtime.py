from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI

from emulator import Emulator, EmulatorConfig, Scenario, load_scenario, parse_scenario
from emulator.scenario import Say, ToolCall
from tests.emulator.emulator_testkit import API_KEY, TOOLS, assert_server_events, sent_events

Ws = aiohttp.ClientWebSocketResponse


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def accepted(
    emu: Emulator, sdk: AsyncOpenAI, scenario: str | Scenario = "transfer", **extra: Any
) -> str:
    """A call accepted by the test itself; its script waits for a greeting nobody requests."""
    call_id = await emu.place_call(scenario, "http://127.0.0.1:9/unused")
    await sdk.realtime.calls.accept(
        call_id, type="realtime", model="gpt-realtime", instructions="Be nice.", **extra
    )
    return call_id


def ws_url(emu: Emulator, call_id: str, prefix: str = "/openai/v1") -> str:
    return f"{emu.base_url}{prefix}/realtime?call_id={call_id}"


async def receive(ws: Ws, type_: str) -> dict[str, Any]:
    """Events up to and including the first of `type_`; returns that one."""
    async with asyncio.timeout(3):
        while True:
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.TEXT, message
            event: dict[str, Any] = json.loads(message.data)
            if event["type"] == type_:
                return event


async def until_closed(ws: Ws) -> int | None:
    async with asyncio.timeout(3):
        while not ws.closed:
            await ws.receive()
    return ws.close_code


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"api-key": "nope"}, 401)])
async def test_socket_needs_auth(
    emu: Emulator,
    sdk: AsyncOpenAI,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    status: int,
) -> None:
    call_id = await accepted(emu, sdk)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(emu, call_id), headers=headers)
    assert refused.value.status == status


async def test_socket_is_404_before_accept_and_for_unknown_calls(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    ringing = await emu.place_call("greeting", "http://127.0.0.1:9/unused")
    for url, status in [
        (ws_url(emu, ringing), 404),
        (ws_url(emu, "rtc_unknown"), 404),
        (f"{emu.base_url}/openai/v1/realtime", 400),
    ]:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers={"api-key": API_KEY})
        assert refused.value.status == status


async def test_sockets_share_the_call_and_closing_one_keeps_it_up(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(emu, sdk)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    first = await http.ws_connect(ws_url(emu, call_id), headers=headers)
    second = await http.ws_connect(ws_url(emu, call_id, "/v1"), headers=headers)
    created = await receive(first, "session.created")
    assert created["session"]["instructions"] == "Be nice."
    assert created["session"]["model"] == "gpt-realtime"
    await receive(second, "session.created")
    await first.send_json(
        {"type": "response.create", "response": {"instructions": "Say 'Welcome to Contoso'."}}
    )
    done = [await receive(ws, "response.output_audio_transcript.done") for ws in (first, second)]
    assert {d["transcript"] for d in done} == {"Welcome to Contoso"}
    await first.close()
    third = await http.ws_connect(ws_url(emu, call_id), headers=headers)
    await receive(third, "session.created")
    assert emu.calls[call_id].state == "active"
    await sdk.realtime.calls.hangup(call_id)
    assert [await until_closed(ws) for ws in (second, third)] == [1000, 1000]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(emu, call_id), headers=headers)
    assert refused.value.status == 404
    view = await emu.wait_for_end(call_id)
    assert assert_server_events(sent_events(view)) > 20


async def test_response_sequence_and_tool_round_trip(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(emu, sdk, tools=TOOLS)
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await ws.send_json({"type": "response.create"})
    types: list[str] = []
    async with asyncio.timeout(3):
        while not types or types[-1] != "output_audio_buffer.stopped":
            types.append(json.loads((await ws.receive()).data)["type"])
    assert [t for t in types if not t.startswith("conversation.")] == [
        "session.created",
        "response.created",
        "rate_limits.updated",
        "response.output_item.added",
        "response.content_part.added",
        "output_audio_buffer.started",
        *["response.output_audio_transcript.delta"]
        * types.count("response.output_audio_transcript.delta"),
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "output_audio_buffer.stopped",
    ]
    assert types.count("response.output_audio_transcript.delta") >= 2
    # The transfer script now has its greeting: the caller asks for a human.
    arguments = await receive(ws, "response.function_call_arguments.done")
    assert (arguments["name"], json.loads(arguments["arguments"])) == (
        "transfer_call",
        {"department": "sales"},
    )
    done = await receive(ws, "response.done")
    usage = done["response"]["usage"]
    assert usage["input_token_details"]["cached_tokens"] >= 0
    assert usage["output_token_details"]
    assert [item["type"] for item in done["response"]["output"]] == ["message", "function_call"]
    output = {"type": "function_call_output", "call_id": arguments["call_id"], "output": "ok"}
    await ws.send_json({"type": "conversation.item.create", "item": output})
    added = await receive(ws, "conversation.item.added")
    assert added["item"]["call_id"] == arguments["call_id"]
    await ws.send_json({"type": "response.create"})
    spoken = await receive(ws, "response.output_audio_transcript.done")
    assert spoken["transcript"] == "Transferring you now. Please hold."  # the scenario's next_reply
    await sdk.realtime.calls.refer(call_id, target_uri="tel:+14155550199")
    assert await until_closed(ws) == 1000
    view = await emu.wait_for_end(call_id)
    assert view["state"] == "transferred"
    assert view["expectation_errors"] == []
    assert_server_events(sent_events(view))


async def test_session_update_and_bad_client_events(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(emu, sdk)
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await ws.send_json(
        {"type": "session.update", "session": {"type": "realtime", "instructions": "New."}}
    )
    updated = await receive(ws, "session.updated")
    assert updated["session"]["instructions"] == "New."
    assert updated["session"]["model"] == "gpt-realtime"
    bad: list[tuple[str, str, str | None]] = [
        ("{nope", "invalid_json", None),
        (json.dumps({"type": "nope"}), "invalid_event_type", "type"),
        (json.dumps({"type": "conversation.item.create"}), "missing_required_parameter", "item"),
        (
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "output_modalities": ["x"]},
                }
            ),
            "invalid_value",
            "session.output_modalities[0]",
        ),
        (json.dumps({"type": "response.cancel"}), "response_cancel_not_active", None),
    ]
    for raw, code, param in bad:
        await ws.send_str(raw)
        error = await receive(ws, "error")
        assert (error["error"]["code"], error["error"]["param"]) == (code, param), raw
    await ws.send_bytes(b"\x00")
    assert (await receive(ws, "error"))["error"]["code"] == "invalid_frame"
    assert emu.calls[call_id].state == "active"
    await emu.caller_hangup(call_id)
    assert await until_closed(ws) == 1000
    view = await emu.wait_for_end(call_id)
    assert (view["reason"], view["sip_status"]) == ("caller_hangup", 200)
    assert_server_events(sent_events(view))


async def test_drop_sockets_keeps_the_call_up(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(emu, sdk)
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await receive(ws, "session.created")
    assert await emu.drop_sockets(call_id) == 1
    assert await until_closed(ws) == 1006
    again = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await receive(again, "session.created")
    assert emu.calls[call_id].state == "active"


async def test_without_auto_response_the_scripted_turn_waits_for_response_create(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(
        emu, sdk, "greeting", tools=TOOLS, audio={"input": {"turn_detection": None}}
    )
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await ws.send_json({"type": "response.create"})
    await receive(ws, "response.done")
    heard = await receive(ws, "conversation.item.input_audio_transcription.completed")
    assert heard["transcript"] == "Hi, what are your opening hours?"
    await asyncio.sleep(0.05)
    assert emu.calls[call_id].counters.response_done == 1  # no server VAD response
    await ws.send_json({"type": "response.create"})
    spoken = await receive(ws, "response.output_audio_transcript.done")
    assert spoken["transcript"] == "We are open from nine to five, Monday to Friday."


async def test_undeclared_tool_is_not_called(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(emu, sdk, "end_call")  # no tools declared
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await ws.send_json({"type": "response.create"})
    await receive(ws, "response.done")
    done = await receive(ws, "response.done")
    assert [item["type"] for item in done["response"]["output"]] == ["message"]
    assert any(e["kind"] == "warning" for e in emu.calls[call_id].timeline)


async def test_script_waiting_for_a_socket_fails_after_the_step_timeout(
    config: EmulatorConfig,
) -> None:
    scenario = parse_scenario(
        "lonely", {"steps": [{"action": "say", "text": "Hello?", "respond": False}]}
    )
    async with (
        Emulator(replace(config, step_timeout_seconds=0.2)) as emu,
        AsyncOpenAI(base_url=emu.base_url + "/openai/v1/", api_key=API_KEY) as sdk,
    ):
        await _script_fails(emu, sdk, scenario)


async def _script_fails(emu: Emulator, sdk: AsyncOpenAI, scenario: Scenario) -> None:
    call_id = await accepted(emu, sdk, scenario)
    call = emu.calls[call_id]
    await call.wait_until(lambda: call.script_status != "running", 1)
    assert call.script_status == "failed"
    assert "no WebSocket" in (call.script_error or "")
    await emu.caller_hangup(call_id)
    view = await emu.wait_for_end(call_id)
    assert view["expectation_errors"] == ["script failed: " + (call.script_error or "")]


def test_transfer_scenario_scripts_transfer_call_to_sales() -> None:
    say = load_scenario("transfer").steps[1]
    assert isinstance(say, Say)
    assert say.turn is not None
    assert say.turn.tool == ToolCall("transfer_call", {"department": "sales"})


async def test_text_only_sessions_get_text_events(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(emu, sdk, "greeting", output_modalities=["text"])
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await ws.send_json(
        {"type": "response.create", "response": {"instructions": "Greet. Then wait."}}
    )
    done = await receive(ws, "response.output_text.done")
    assert done["text"] == "Greet."
    await emu.caller_hangup(call_id)
    view = await emu.wait_for_end(call_id)
    types = {event["type"] for event in sent_events(view)}
    assert "output_audio_buffer.started" not in types
    assert "response.output_audio_transcript.delta" not in types
    assert_server_events(sent_events(view))


async def test_deeply_nested_client_event_is_an_error_event(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    call_id = await accepted(emu, sdk)
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    await ws.send_str("[" * 100000)
    assert (await receive(ws, "error"))["error"]["code"] == "invalid_json"
    assert emu.calls[call_id].state == "active"
