"""A scenario's ``[[faults]]``: every trigger and action, seen through the real SDK and aiohttp."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openai import (
    APIConnectionError,
    APITimeoutError,
    AsyncOpenAI,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)

from emulator import Emulator, Scenario, ScenarioError, parse_scenario
from emulator.scenario import CLIENT_EVENT_TYPES
from tests.emulator.emulator_testkit import API_KEY, FakeApp

ACCEPT: dict[str, Any] = {"type": "realtime", "model": "gpt-realtime", "instructions": "Hi."}
UNUSED = "http://127.0.0.1:9/unused"


def scenario(*faults: dict[str, Any], **extra: Any) -> Scenario:
    return parse_scenario("faulty", {"faults": list(faults), **extra})


def entries(emu: Emulator, call_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in emu.calls[call_id].timeline if e["kind"] == kind]


def ws_url(emu: Emulator, call_id: str) -> str:
    return f"{emu.base_url}/openai/v1/realtime?call_id={call_id}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_status_faults_hit_after_skip_for_times_then_let_requests_through(
    emu: Emulator, sdk: AsyncOpenAI
) -> None:
    faults = scenario(
        {"on": "accept", "action": "status", "status": 500, "skip": 1, "times": 2},
        {"on": "hangup", "action": "status", "status": 429, "retry_after_seconds": 1.5},
    )
    call_id = await emu.place_call(faults, UNUSED)
    await sdk.realtime.calls.accept(call_id, **ACCEPT)  # skipped: carried out
    for _ in range(2):
        with pytest.raises(InternalServerError):
            await sdk.realtime.calls.accept(call_id, **ACCEPT)
    with pytest.raises(Exception, match="already been accepted"):
        await sdk.realtime.calls.accept(call_id, **ACCEPT)
    with pytest.raises(RateLimitError) as limited:
        await sdk.realtime.calls.hangup(call_id)
    assert limited.value.response.headers["retry-after"] == "2"
    assert limited.value.response.headers["retry-after-ms"] == "1500"
    await sdk.realtime.calls.hangup(call_id)
    call = emu.calls[call_id]
    assert (call.accept_count, call.state, call.reason) == (1, "ended", "hangup")
    assert [e["status"] for e in entries(emu, call_id, "request")] == [200, 500, 500, 409, 429, 200]
    assert [(e["on"], e["action"], e["match"]) for e in entries(emu, call_id, "fault")] == [
        ("accept", "status", 2),
        ("accept", "status", 3),
        ("hangup", "status", 1),
    ]


async def test_timeout_holds_the_request_then_carries_it_out(emu: Emulator) -> None:
    call_id = await emu.place_call(
        scenario({"on": "accept", "action": "timeout", "seconds": 0.6}), UNUSED
    )
    client = AsyncOpenAI(
        base_url=emu.base_url + "/openai/v1/", api_key=API_KEY, max_retries=0, timeout=0.2
    )
    async with client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.realtime.calls.accept(call_id, **ACCEPT)
        assert time.monotonic() - started < 0.5
        assert emu.calls[call_id].state == "ringing"
        await emu.calls[call_id].wait_until(lambda: emu.calls[call_id].state == "active", 3)
        with pytest.raises(Exception, match="already been accepted"):
            await client.realtime.calls.accept(call_id, **ACCEPT)
    assert emu.calls[call_id].accept_count == 1
    released = entries(emu, call_id, "released")
    assert [(e["on"], e["client_waiting"]) for e in released] == [("accept", False)]


async def test_reset_closes_the_connection_and_does_not_carry_the_request_out(
    emu: Emulator, sdk: AsyncOpenAI
) -> None:
    call_id = await emu.place_call(scenario({"on": "reject", "action": "reset"}), UNUSED)
    with pytest.raises(APIConnectionError):
        await sdk.realtime.calls.reject(call_id, status_code=486)
    assert emu.calls[call_id].state == "ringing"
    await sdk.realtime.calls.reject(call_id, status_code=486)
    assert (emu.calls[call_id].state, emu.calls[call_id].sip_status) == ("ended", 486)
    assert [e["status"] for e in entries(emu, call_id, "request")] == [None, 200]


async def test_caller_hangup_fault_makes_the_request_find_the_call_gone(
    emu: Emulator, sdk: AsyncOpenAI
) -> None:
    call_id = await emu.place_call(scenario({"on": "accept", "action": "caller_hangup"}), UNUSED)
    with pytest.raises(NotFoundError):
        await sdk.realtime.calls.accept(call_id, **ACCEPT)
    call = emu.calls[call_id]
    assert (call.state, call.reason, call.sip_status) == ("ended", "caller_cancelled", 487)


async def test_redeliver_webhook_fault_delivers_the_same_webhook_before_the_request(
    emu: Emulator, app: FakeApp, sdk: AsyncOpenAI
) -> None:
    faults = scenario({"on": "hangup", "action": "redeliver_webhook"})
    call_id = await emu.place_call(faults, app.url)
    call = emu.calls[call_id]
    await call.wait_until(lambda: call.state == "active", 3)
    await sdk.realtime.calls.hangup(call_id)
    webhooks = entries(emu, call_id, "webhook")
    assert [(e["copy"], e["status"]) for e in webhooks] == [(1, 200), (2, 200)]
    assert len({e["webhook_id"] for e in webhooks}) == 1
    assert len(app.deliveries) == 2
    assert app.deliveries[0][0] == app.deliveries[1][0]  # same body, re-signed
    hangup = entries(emu, call_id, "request")[-1]
    assert hangup["seq"] > webhooks[-1]["seq"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"action": "status", "status": 503}, 503),
        ({"action": "caller_hangup"}, 404),
    ],
)
async def test_connect_faults_refuse_the_handshake(
    emu: Emulator,
    sdk: AsyncOpenAI,
    http: aiohttp.ClientSession,
    fault: dict[str, Any],
    expected: int,
) -> None:
    call_id = await emu.place_call(scenario({"on": "connect", **fault}), UNUSED)
    await sdk.realtime.calls.accept(call_id, **ACCEPT)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    assert refused.value.status == expected


async def test_connect_reset_then_held_handshake(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession
) -> None:
    faults = scenario(
        {"on": "connect", "action": "reset", "times": 2},
        {"on": "connect", "action": "timeout", "seconds": 0.3, "skip": 2},
    )
    call_id = await emu.place_call(faults, UNUSED)
    await sdk.realtime.calls.accept(call_id, **ACCEPT)
    with pytest.raises(aiohttp.ClientError):  # aiohttp retries a reset GET once by itself
        await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    assert [e["action"] for e in entries(emu, call_id, "fault")] == ["reset", "reset"]
    started = time.monotonic()
    async with http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY}) as ws:
        assert time.monotonic() - started >= 0.3
        assert (await ws.receive_json())["type"] == "session.created"
    assert emu.calls[call_id].counters.connected == 1
    assert [e["client_waiting"] for e in entries(emu, call_id, "released")] == [True]


@pytest.mark.parametrize(
    ("action", "state"), [("drop_sockets", "active"), ("caller_hangup", "ended")]
)
async def test_client_event_faults_lose_the_event(
    emu: Emulator, sdk: AsyncOpenAI, http: aiohttp.ClientSession, action: str, state: str
) -> None:
    call_id = await emu.place_call(scenario({"on": "response.create", "action": action}), UNUSED)
    await sdk.realtime.calls.accept(call_id, **ACCEPT)
    ws = await http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY})
    assert (await ws.receive_json())["type"] == "session.created"
    await ws.send_json({"type": "response.create"})
    async with asyncio.timeout(3):
        while not ws.closed:
            message = await ws.receive()
            assert message.type is not aiohttp.WSMsgType.TEXT, message.data  # nothing answered
    call = emu.calls[call_id]
    assert call.state == state
    assert call.counters.response_done == 0
    if state == "active":  # the call survives a drop, and the next response.create is served
        async with http.ws_connect(ws_url(emu, call_id), headers={"api-key": API_KEY}) as again:
            await again.receive_json()
            await again.send_json({"type": "response.create"})
            await call.wait_until(lambda: call.counters.response_done == 1, 3)


async def test_script_redelivers_the_webhook_and_waits_for_a_new_socket(
    emu: Emulator, app: FakeApp
) -> None:
    steps = [
        {"action": "wait_for", "until": "connected"},
        {"action": "redeliver_webhook"},
        {"action": "drop_sockets"},
        {"action": "wait_for", "until": "connected"},
        {"action": "hangup"},
    ]
    call_id = await emu.place_call(parse_scenario("s", {"steps": steps}), app.url)
    view = await emu.wait_for_end(call_id, timeout=5)
    assert view["script"]["status"] == "completed"
    assert [e["copy"] for e in view["timeline"] if e["kind"] == "webhook"] == [1, 2]
    assert view["sockets_opened"] == 2


def test_every_client_event_trigger_is_one_the_emulator_handles() -> None:
    from emulator.realtime import HANDLERS

    assert set(CLIENT_EVENT_TYPES) == set(HANDLERS)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"action": "reset"}, "faults[0].on must be one of"),
        ({"on": "dial", "action": "reset"}, "faults[0].on must be one of"),
        ({"on": "accept", "action": "explode"}, "faults[0].action must be one of"),
        ({"on": "response.create", "action": "reset"}, "faults[0].action 'reset' needs an HTTP"),
        ({"on": "accept", "action": "status"}, "faults[0].status is required for action 'status'"),
        ({"on": "accept", "action": "reset", "status": 500}, "faults[0].status is required"),
        ({"on": "accept", "action": "status", "status": 404}, "faults[0].status must be one of"),
        (
            {"on": "accept", "action": "status", "status": 500, "retry_after_seconds": 1},
            "faults[0].retry_after_seconds only applies to status 429",
        ),
        ({"on": "accept", "action": "timeout"}, "faults[0].seconds is required"),
        ({"on": "accept", "action": "reset", "seconds": 1}, "faults[0].seconds is required"),
        ({"on": "accept", "action": "timeout", "seconds": 0}, "faults[0].seconds must be > 0"),
        ({"on": "accept", "action": "timeout", "seconds": 601}, "faults[0].seconds must be > 0"),
        ({"on": "accept", "action": "reset", "skip": -1}, "faults[0].skip must be >= 0"),
        ({"on": "accept", "action": "reset", "times": 0}, "faults[0].times must be >= 1"),
        ({"on": "accept", "action": "reset", "when": 1}, "unknown field faults[0].when"),
        ({"on": "accept", "action": "reset", "times": True}, "faults[0].times must be int"),
    ],
)
def test_fault_errors_name_the_bad_field(fault: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=r"^scenario 'x': ") as error:
        parse_scenario("x", {"faults": [fault]})
    assert message in str(error.value)


def test_faults_must_be_tables() -> None:
    with pytest.raises(ScenarioError, match=r"faults\[0\] must be a table"):
        parse_scenario("x", {"faults": ["reset"]})
