"""The emulator refuses what the service refuses, with the service's error shapes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openai import AsyncOpenAI, BadRequestError

from emulator import Emulator
from switchboard.agent import Agent
from switchboard.setting_values import APP_ROOT
from tests.emulator.emulator_testkit import API_KEY, assert_server_events, sent_events

ACCEPT = {"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."}
Ws = aiohttp.ClientWebSocketResponse


@pytest.fixture
async def ringing(emu: Emulator) -> str:
    """A call nobody answers (its webhook goes to a closed port), still ringing."""
    return await emu.place_call("bad_signature", "http://127.0.0.1:9/unused")


@pytest.mark.parametrize(
    ("extra", "code", "param", "message"),
    [
        ({"colour": "blue"}, "unknown_parameter", "colour", "Unknown parameter: 'colour'."),
        (
            {"audio": {"output": {"voice": "marin", "pitch": 2}}},
            "unknown_parameter",
            "audio.output.pitch",
            "Unknown parameter: 'audio.output.pitch'.",
        ),
        (
            {"tools": [{"type": "function", "name": "f", "meta": {}}]},
            "unknown_parameter",
            "tools[0].meta",
            "Unknown parameter: 'tools[0].meta'.",
        ),
        (
            {"audio": {"output": {"voice": "not-a-voice"}}},
            "invalid_value",
            "audio.output.voice",
            "Invalid value: 'not-a-voice'. Supported values are: 'alloy', 'ash', 'ballad', "
            "'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', and 'cedar'.",
        ),
        (
            {"audio": {"output": {"speed": 9}}},
            "decimal_above_max_value",
            "audio.output.speed",
            "Invalid 'audio.output.speed': decimal above maximum value. "
            "Expected a value <= 1.5, but got 9 instead.",
        ),
        (
            {"audio": {"output": {"speed": 0.1}}},
            "decimal_below_min_value",
            "audio.output.speed",
            "Invalid 'audio.output.speed': decimal below minimum value. "
            "Expected a value >= 0.25, but got 0.1 instead.",
        ),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}}},
            "invalid_value",
            "audio.input.format",
            None,
        ),
        (
            {"audio": {"output": {"format": {"type": "audio/pcma"}}}},
            "invalid_value",
            "audio.output.format",
            None,
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.8}}}},
            "invalid_value",
            "audio.input.turn_detection.threshold",
            None,
        ),
        (
            {
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 200}}
                }
            },
            "invalid_value",
            "audio.input.turn_detection.silence_duration_ms",
            None,
        ),
    ],
)
async def test_accept_refuses_what_the_service_refuses(
    emu: Emulator,
    sdk: AsyncOpenAI,
    ringing: str,
    extra: dict[str, Any],
    code: str,
    param: str,
    message: str | None,
) -> None:
    with pytest.raises(BadRequestError) as refused:
        await sdk.realtime.calls.accept(ringing, **ACCEPT, extra_body=extra)  # type: ignore[arg-type]
    error = refused.value.body
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)
    if message is not None:
        assert error["message"] == message
    assert emu.calls[ringing].state == "ringing"
    assert emu.calls[ringing].accept_count == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"audio": {"output": {"voice": {"id": "voice_1234"}, "speed": 1.5}}},
        {"audio": {"output": {"speed": 0.25}}},
        {"audio": {"input": {"format": {"type": "audio/pcmu"}}}},
        {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.5}}}},
        {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}},
        {"audio": {"input": {"turn_detection": None, "noise_reduction": {"type": "near_field"}}}},
        {"tools": [{"type": "mcp", "server_label": "crm", "server_url": "https://mcp.example"}]},
    ],
)
async def test_accept_takes_what_the_service_takes(
    emu: Emulator, sdk: AsyncOpenAI, ringing: str, extra: dict[str, Any]
) -> None:
    await sdk.realtime.calls.accept(ringing, **{**ACCEPT, **extra})
    assert emu.calls[ringing].state == "active"


@pytest.mark.parametrize("after_hours", [False, True])
async def test_the_apps_own_accept_is_taken(
    emu: Emulator, sdk: AsyncOpenAI, ringing: str, after_hours: bool
) -> None:
    agent = Agent.load(APP_ROOT / "agents" / "front_desk.toml")
    body = agent.session_config("gpt-realtime", after_hours=after_hours)
    body.pop("type")
    await sdk.realtime.calls.accept(ringing, type="realtime", **body)
    assert emu.calls[ringing].state == "active"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def connected(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession, ringing: str
) -> Ws:
    await sdk.realtime.calls.accept(
        ringing,
        **{**ACCEPT, "audio": {"output": {"voice": "marin"}}},  # type: ignore[arg-type]
    )
    url = f"{emu.base_url}/openai/v1/realtime?call_id={ringing}"
    ws = await http.ws_connect(url, headers={"api-key": API_KEY})
    await receive(ws, "session.created")
    return ws


async def receive(ws: Ws, *types: str) -> dict[str, Any]:
    """Events up to and including the first of `types`; returns that one."""
    async with asyncio.timeout(3):
        while True:
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.TEXT, message
            event: dict[str, Any] = json.loads(message.data)
            if event["type"] in types:
                return event


async def request(ws: Ws, payload: dict[str, Any], *answers: str) -> dict[str, Any]:
    await ws.send_json({**payload, "event_id": "evt_client_1"})
    return await receive(ws, "error", *answers)


def error_of(event: dict[str, Any]) -> tuple[str, str, str | None, str | None]:
    assert event["type"] == "error", event
    error = event["error"]
    return error["code"], error["message"], error["param"], error["event_id"]


async def test_session_update_cannot_change_the_model_or_the_voice_once_spoken(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession, ringing: str
) -> None:
    ws = await connected(emu, sdk, http, ringing)
    update = {"type": "session.update"}
    voice = {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}
    updated = await request(ws, {**update, "session": voice}, "session.updated")
    assert updated["session"]["audio"]["output"]["voice"] == "cedar"  # nothing spoken yet
    model = {"type": "realtime", "model": "gpt-realtime-mini"}
    assert error_of(await request(ws, {**update, "session": model})) == (
        "cannot_update_model",
        "Cannot update a session's model once it has started.",
        "session.model",
        "evt_client_1",
    )
    same_model = {"type": "realtime", "model": "gpt-realtime", "instructions": "Hi."}
    assert (await request(ws, {**update, "session": same_model}, "session.updated"))["type"]
    await ws.send_json({"type": "response.create"})
    await receive(ws, "output_audio_buffer.stopped")
    back = {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
    assert error_of(await request(ws, {**update, "session": back})) == (
        "cannot_update_voice",
        "Cannot update a conversation's voice if assistant audio is present.",
        None,
        "evt_client_1",
    )
    unchanged = {"type": "realtime", "audio": {"output": {"voice": "cedar", "speed": 1.2}}}
    assert (await request(ws, {**update, "session": unchanged}, "session.updated"))["type"]
    for session, code, param in [
        ({"type": "realtime", "speed": 1}, "unknown_parameter", "session.speed"),
        (
            {"type": "realtime", "audio": {"output": {"speed": 2}}},
            "decimal_above_max_value",
            "session.audio.output.speed",
        ),
        (
            {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm"}}}},
            "invalid_value",
            "session.audio.input.format",
        ),
    ]:
        code_, message, param_, _ = error_of(await request(ws, {**update, "session": session}))
        assert (code_, param_) == (code, param)
        assert f"'{param}'" in message
    session = emu.calls[ringing].session
    assert session is not None
    assert (session["audio"]["output"]["voice"], session["audio"]["output"]["speed"]) == (
        "cedar",
        1.2,
    )
    await emu.caller_hangup(ringing)
    assert_server_events(sent_events(await emu.wait_for_end(ringing)))


async def test_retrieve_and_commit_answer_as_documented(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession, ringing: str
) -> None:
    ws = await connected(emu, sdk, http, ringing)
    retrieve = {"type": "conversation.item.retrieve", "item_id": "item_nope"}
    assert error_of(await request(ws, retrieve, "conversation.item.retrieved")) == (
        "item_retrieve_invalid_item_id",
        "Error retrieving item: the item with id 'item_nope' does not exist.",
        None,
        "evt_client_1",
    )
    commit = {"type": "input_audio_buffer.commit"}
    assert error_of(await request(ws, commit, "input_audio_buffer.committed")) == (
        "input_audio_buffer_commit_empty",
        "Error committing input audio buffer: buffer too small. "
        "Expected at least 100ms of audio, but buffer only has 0.00ms of audio.",
        None,
        "evt_client_1",
    )
    fifty_ms = base64.b64encode(b"\xff" * 400).decode()  # G.711: 8 bytes a millisecond
    await ws.send_json({"type": "input_audio_buffer.append", "audio": fifty_ms})
    code, message, _, _ = error_of(await request(ws, commit, "input_audio_buffer.committed"))
    assert (code, message.rsplit("has ", 1)[1]) == (
        "input_audio_buffer_commit_empty",
        "50.00ms of audio.",
    )
    await ws.send_json({"type": "input_audio_buffer.append", "audio": fifty_ms})
    committed = await request(ws, commit, "input_audio_buffer.committed")
    assert committed["type"] == "input_audio_buffer.committed"
    retrieve = {"type": "conversation.item.retrieve", "item_id": committed["item_id"]}
    retrieved = await request(ws, retrieve, "conversation.item.retrieved")
    assert (retrieved["type"], retrieved["item"]["role"]) == ("conversation.item.retrieved", "user")
    await ws.send_json({"type": "response.create"})
    done = await receive(ws, "response.done")
    spoken = done["response"]["output"][0]
    retrieve = {"type": "conversation.item.retrieve", "item_id": spoken["id"]}
    retrieved = await request(ws, retrieve, "conversation.item.retrieved")
    assert retrieved["item"] == spoken
    await emu.caller_hangup(ringing)
    assert_server_events(sent_events(await emu.wait_for_end(ringing)))


async def test_every_response_starts_with_rate_limits(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession, ringing: str
) -> None:
    ws = await connected(emu, sdk, http, ringing)
    await ws.send_json({"type": "response.create"})
    created = await receive(ws, "response.created")
    message = json.loads((await ws.receive()).data)
    assert message["type"] == "rate_limits.updated"
    assert {limit["name"] for limit in message["rate_limits"]} == {"requests", "tokens"}
    assert all(0 <= limit["remaining"] < limit["limit"] for limit in message["rate_limits"])
    assert created["response"]["status"] == "in_progress"
    await emu.caller_hangup(ringing)
    assert_server_events(sent_events(await emu.wait_for_end(ringing)))
