"""The monitor's HTTP tool calls and keypad input, against the emulator's call socket.

A tool call runs as a task while the monitor keeps reading events; the slice ending, the socket
dropping or the slice losing its socket while a call is in flight still gets the model exactly
one answer, and the endpoint exactly one request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from emulator import Emulator, parse_scenario
from emulator.config import DEFAULT_API_KEY
from switchboard.agent import TOOL_ANSWER_LINE, Agent
from switchboard.agent_tools import HttpTool, KeypadAction
from switchboard.realtime.channel import RealtimeChannel
from switchboard.realtime.http_tools import HttpToolCaller
from switchboard.realtime.keypad import keyed_text
from switchboard.realtime.monitor import CallMonitor, MonitorOutcome, MonitorRequest
from switchboard.realtime.slice import SliceState
from tests.switchboard.realtime.tool_endpoint import Endpoint, endpoint

HEADERS = {"api-key": DEFAULT_API_KEY}
WAITING = "One moment while I look that up."
LOOKUP_STEP = {
    "action": "respond",
    "reply": "Let me check.",
    "tool": "lookup",
    "arguments": {"order_number": "A-1"},
    "next_reply": "It has shipped.",
}


@pytest.fixture
async def served() -> AsyncIterator[Endpoint]:
    async with endpoint() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def lookup(served: Endpoint) -> HttpTool:
    return HttpTool.model_validate(
        {
            "name": "lookup",
            "description": "Look an order up.",
            "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}},
            "url": served.url + "/slow",
            "say_while_waiting": WAITING,
        }
    )


async def answered_call(
    emulator: Emulator, http: aiohttp.ClientSession, served: Endpoint, data: dict[str, Any]
) -> str:
    """A call on the emulator accepted with an agent that declares the ``lookup`` tool."""
    call_id = await emulator.place_call(
        parse_scenario("actions", data), webhook_url="http://127.0.0.1:9/unused"
    )
    body = Agent(http_tools=(lookup(served),)).session_config("gpt-realtime")
    url = f"{emulator.base_url}/openai/v1/realtime/calls/{call_id}/accept"
    async with http.post(url, json=body, headers=HEADERS) as response:
        assert response.status == 200
    return call_id


def monitor(
    emulator: Emulator,
    http: aiohttp.ClientSession,
    served: Endpoint,
    request: MonitorRequest,
    keypad: dict[str, KeypadAction] | None = None,
) -> CallMonitor:
    url = f"{emulator.base_url.replace('http', 'ws')}/openai/v1/realtime?call_id={request.call_id}"

    async def open_channel() -> RealtimeChannel:
        return RealtimeChannel(http, url, HEADERS)

    tools = HttpToolCaller((lookup(served),), http, {})
    return CallMonitor(request, open_channel, tools=tools, keypad=keypad)


def received(timeline: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in timeline if e["kind"] == "event_received" and e["type"] == kind]


def answers(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["payload"]["item"]
        for e in received(timeline, "conversation.item.create")
        if e["payload"]["item"]["type"] == "function_call_output"
    ]


def asked(timeline: list[dict[str, Any]]) -> list[str]:
    return [
        e["payload"].get("response", {}).get("instructions", "")
        for e in received(timeline, "response.create")
    ]


async def test_a_call_in_flight_when_the_slice_runs_out_is_still_answered_once(
    emulator: Emulator, http: aiohttp.ClientSession, served: Endpoint
) -> None:
    served.delay = 1.6  # past the slice's end, and slow enough for the waiting line
    steps = [
        {"action": "wait", "seconds": 0.3},
        LOOKUP_STEP,
        {"action": "wait_for", "until": "tool_output"},
        {"action": "wait_for", "until": "response_done"},
        {"action": "hangup"},
    ]
    call_id = await answered_call(emulator, http, served, {"steps": steps})
    started = asyncio.get_running_loop().time()
    result = await monitor(emulator, http, served, MonitorRequest(call_id, slice_seconds=1)).run()
    took = asyncio.get_running_loop().time() - started
    timeline = (await emulator.wait_for_end(call_id))["timeline"]

    assert result.outcome is MonitorOutcome.SLICE_ENDED
    assert 1.6 < took < 3.0  # waited for the call, not for a whole tool timeout more
    assert len(served.requests) == 1
    [answer] = answers(timeline)
    assert json.loads(answer["output"]) == {"echo": {"order_number": "A-1"}}
    assert asked(timeline)[-2:] == [f'Say to the caller: "{WAITING}"', TOOL_ANSWER_LINE]
    assert [(c["name"], c["outcome"]) for c in result.tool_calls] == [("lookup", "ok")]
    assert result.state.tool_answers == ()


async def test_an_answer_ready_while_the_socket_is_down_goes_out_on_the_next_socket(
    emulator: Emulator, http: aiohttp.ClientSession, served: Endpoint
) -> None:
    served.delay = 0.3
    steps = [
        {"action": "wait", "seconds": 0.3},
        LOOKUP_STEP,
        {"action": "drop_sockets"},
        {"action": "wait_for", "until": "tool_output"},
        {"action": "wait_for", "until": "response_done"},
        {"action": "hangup"},
    ]
    call_id = await answered_call(emulator, http, served, {"steps": steps})
    result = await monitor(emulator, http, served, MonitorRequest(call_id, slice_seconds=10)).run()
    timeline = (await emulator.wait_for_end(call_id))["timeline"]

    assert result.outcome is MonitorOutcome.CALL_ENDED
    assert len(served.requests) == 1
    assert len(answers(timeline)) == 1
    sockets = [e["socket"] for e in timeline if e["kind"] == "socket_opened"]
    answered_on = received(timeline, "conversation.item.create")[0]["socket"]
    assert len(sockets) == 2
    assert answered_on == sockets[1]
    assert [c["outcome"] for c in result.tool_calls] == ["ok"]


async def test_a_slice_that_loses_its_socket_carries_the_answer_to_the_next_slice(
    emulator: Emulator, http: aiohttp.ClientSession, served: Endpoint
) -> None:
    served.delay = 0.3
    data = {
        "faults": [{"on": "connect", "action": "status", "status": 503, "skip": 1, "times": 2}],
        "steps": [
            {"action": "wait", "seconds": 0.3},
            LOOKUP_STEP,
            {"action": "drop_sockets"},
            {"action": "wait_for", "until": "tool_output", "timeout_seconds": 8},
            {"action": "wait_for", "until": "response_done"},
            {"action": "hangup"},
        ],
    }
    call_id = await answered_call(emulator, http, served, data)
    first_request = MonitorRequest(call_id, slice_seconds=10, reconnect_attempts=1)
    first = await monitor(emulator, http, served, first_request).run()
    assert first.outcome is MonitorOutcome.SOCKET_LOST
    assert [a.call_id for a in first.state.tool_answers] != []
    assert [c["outcome"] for c in first.tool_calls] == ["ok"]

    carried = SliceState.model_validate(first.state.model_dump(mode="json"))  # as Durable would
    second = await monitor(
        emulator, http, served, MonitorRequest(call_id, slice_seconds=10, state=carried)
    ).run()
    timeline = (await emulator.wait_for_end(call_id))["timeline"]

    assert second.outcome is MonitorOutcome.CALL_ENDED
    assert len(served.requests) == 1  # the next slice sends the answer, it does not call again
    [answer] = answers(timeline)
    assert json.loads(answer["output"]) == {"echo": {"order_number": "A-1"}}
    assert second.tool_calls == []
    assert not any("unknown call_id" in e.get("message", "") for e in timeline)


async def test_keys_without_a_hash_reach_the_model_once_the_caller_stops_pressing(
    emulator: Emulator, http: aiohttp.ClientSession, served: Endpoint
) -> None:
    steps = [
        {"action": "wait", "seconds": 0.3},
        {"action": "keypad", "keys": "42", "interval_seconds": 0.2},
        {"action": "wait", "seconds": 2.5},
        {"action": "hangup"},
    ]
    call_id = await answered_call(emulator, http, served, {"steps": steps})
    result = await monitor(emulator, http, served, MonitorRequest(call_id, slice_seconds=10)).run()
    timeline = (await emulator.wait_for_end(call_id))["timeline"]

    [item] = received(timeline, "conversation.item.create")
    assert item["payload"]["item"]["content"][0]["text"] == keyed_text("42")
    last_key = max(
        e["t"]
        for e in timeline
        if e["kind"] == "event_sent" and e["type"] == "input_audio_buffer.dtmf_event_received"
    )
    assert 1.4 < item["t"] - last_key < 2.2  # the inter-key gap (1.5 s) completed the group
    assert [(t.speaker, t.text) for t in result.turns if t.speaker == "keypad"] == [
        ("keypad", "42")
    ]


async def test_a_mapped_key_ends_the_call_and_other_keys_are_not_sent(
    emulator: Emulator, http: aiohttp.ClientSession, served: Endpoint
) -> None:
    steps = [
        {"action": "wait", "seconds": 0.3},
        {"action": "keypad", "keys": "19", "interval_seconds": 0.05},
        {"action": "wait", "seconds": 3},
        {"action": "hangup"},
    ]
    call_id = await answered_call(emulator, http, served, {"steps": steps})
    keypad = {"9": KeypadAction("end_call")}
    request = MonitorRequest(call_id, slice_seconds=10)
    result = await monitor(emulator, http, served, request, keypad).run()
    await emulator.caller_hangup(call_id)
    timeline = (await emulator.wait_for_end(call_id))["timeline"]

    assert result.outcome is MonitorOutcome.END_CALL_REQUESTED
    assert received(timeline, "conversation.item.create") == []
    assert [(t.speaker, t.text) for t in result.turns if t.speaker == "keypad"] == [("keypad", "9")]
