from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import APIStatusError, AsyncOpenAI, ConflictError, NotFoundError

from emulator import Emulator
from tests.emulator.emulator_testkit import API_KEY

ACCEPT = {"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def ringing(emu: Emulator) -> str:
    """A call nobody answers (its webhook goes to a closed port), still ringing."""
    return await emu.place_call("bad_signature", "http://127.0.0.1:9/unused")


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = (
        body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    )
    async with http.post(
        url, data=data, headers={"api-key": API_KEY} if headers is None else headers
    ) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None)


def assert_error(body: Any, code: str, param: str | None = None) -> None:
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code
    assert body["error"]["param"] == param


async def test_sdk_accept_then_hangup(emu: Emulator, sdk: AsyncOpenAI, ringing: str) -> None:
    await sdk.realtime.calls.accept(
        ringing, type="realtime", model="gpt-realtime", instructions="Hi"
    )
    call = emu.calls[ringing]
    assert (call.state, call.sip_status, call.accept_count) == ("active", 200, 1)
    await sdk.realtime.calls.hangup(ringing)
    view = await emu.wait_for_end(ringing, timeout=2)
    assert (view["state"], view["reason"]) == ("ended", "hangup")
    requests = [e for e in view["timeline"] if e["kind"] == "request"]
    assert [(r["path"].rsplit("/", 1)[-1], r["auth"], r["status"]) for r in requests] == [
        ("accept", "bearer", 200),
        ("hangup", "bearer", 200),
    ]
    assert requests[0]["body"]["instructions"] == "Hi"


async def test_sdk_reject_sends_the_status_code(
    emu: Emulator, sdk: AsyncOpenAI, ringing: str
) -> None:
    await sdk.realtime.calls.reject(ringing, status_code=486)
    view = emu.timeline(ringing)
    assert (view["state"], view["reason"], view["sip_status"]) == ("ended", "rejected", 486)


async def test_reject_defaults_to_603(emu: Emulator, sdk: AsyncOpenAI, ringing: str) -> None:
    await sdk.realtime.calls.reject(ringing)
    assert emu.calls[ringing].sip_status == 603


async def test_sdk_refer_transfers_after_the_scenario_delay(
    emu: Emulator, sdk: AsyncOpenAI
) -> None:
    call_id = await emu.place_call("transfer", "http://127.0.0.1:9/unused")
    await sdk.realtime.calls.accept(call_id, type="realtime", model="m", instructions="i")
    await sdk.realtime.calls.refer(call_id, target_uri="sip:agent@example.com")
    assert emu.calls[call_id].state == "active"
    view = await emu.wait_for_end(call_id, timeout=2)
    assert (view["state"], view["reason"], view["refer_targets"]) == (
        "transferred",
        "refer",
        ["sip:agent@example.com"],
    )


async def test_sdk_sees_documented_state_errors(
    emu: Emulator, sdk: AsyncOpenAI, ringing: str
) -> None:
    with pytest.raises(ConflictError) as not_active:
        await sdk.realtime.calls.refer(ringing, target_uri="tel:+14155550123")
    assert not_active.value.code == "call_not_active"
    with pytest.raises(ConflictError):
        await sdk.realtime.calls.hangup(ringing)
    await sdk.realtime.calls.accept(ringing, **ACCEPT)  # type: ignore[arg-type]
    with pytest.raises(ConflictError) as twice:
        await sdk.realtime.calls.accept(ringing, **ACCEPT)  # type: ignore[arg-type]
    assert twice.value.code == "call_already_accepted"
    with pytest.raises(ConflictError):
        await sdk.realtime.calls.reject(ringing)
    await emu.caller_hangup(ringing)
    with pytest.raises(NotFoundError) as gone:
        await sdk.realtime.calls.accept(ringing, **ACCEPT)  # type: ignore[arg-type]
    assert gone.value.code == "call_not_found"
    for verb in ("reject", "hangup"):
        with pytest.raises(NotFoundError):
            await getattr(sdk.realtime.calls, verb)(ringing)
    assert emu.calls[ringing].accept_count == 1


async def test_unknown_call_is_404(sdk: AsyncOpenAI) -> None:
    with pytest.raises(NotFoundError):
        await sdk.realtime.calls.hangup("rtc_doesnotexist")


async def test_sdk_retries_429_transparently(emu: Emulator) -> None:
    call_id = await emu.place_call("accept_429", "http://127.0.0.1:9/unused")
    client = AsyncOpenAI(base_url=emu.base_url + "/openai/v1/", api_key=API_KEY, max_retries=2)
    async with client:
        await client.realtime.calls.accept(call_id, **ACCEPT)  # type: ignore[arg-type]
    call = emu.calls[call_id]
    assert (call.accept_attempts, call.accept_count, call.state) == (3, 1, "active")
    statuses = [e["status"] for e in call.timeline if e["kind"] == "request"]
    assert statuses == [429, 429, 200]


async def test_429_carries_retry_after(emu: Emulator, http: aiohttp.ClientSession) -> None:
    call_id = await emu.place_call("accept_429", "http://127.0.0.1:9/unused")
    url = f"{emu.base_url}/openai/v1/realtime/calls/{call_id}/accept"
    async with http.post(url, json=ACCEPT, headers={"api-key": API_KEY}) as response:
        assert response.status == 429
        assert response.headers["retry-after"] == "1"
        assert response.headers["retry-after-ms"] == "100"
        assert (await response.json())["error"]["type"] == "rate_limit_error"


async def test_accept_500_then_200(emu: Emulator, sdk: AsyncOpenAI) -> None:
    call_id = await emu.place_call("accept_500", "http://127.0.0.1:9/unused")
    with pytest.raises(APIStatusError) as failed:
        await sdk.realtime.calls.accept(call_id, **ACCEPT)  # type: ignore[arg-type]
    assert failed.value.status_code == 500
    await sdk.realtime.calls.accept(call_id, **ACCEPT)  # type: ignore[arg-type]
    assert emu.calls[call_id].accept_count == 1


async def test_slow_accept_takes_its_time(emu: Emulator, sdk: AsyncOpenAI) -> None:
    call_id = await emu.place_call("slow_accept", "http://127.0.0.1:9/unused")
    loop = __import__("asyncio").get_running_loop()
    started = loop.time()
    await sdk.realtime.calls.accept(call_id, **ACCEPT)  # type: ignore[arg-type]
    assert loop.time() - started >= 0.5


@pytest.mark.parametrize("prefix", ["/openai/v1", "/v1"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"api-key": "wrong"}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic dGVzdC1rZXk="}, 401),
        ({"api-key": API_KEY}, 200),
        ({"Authorization": f"Bearer {API_KEY}"}, 200),
    ],
)
async def test_auth(
    emu: Emulator,
    http: aiohttp.ClientSession,
    ringing: str,
    prefix: str,
    headers: dict[str, str],
    status: int,
) -> None:
    got, body = await post(
        http, f"{emu.base_url}{prefix}/realtime/calls/{ringing}/accept", ACCEPT, headers=headers
    )
    assert got == status
    if status == 401:
        assert_error(body, "invalid_api_key")
    else:
        assert body is None  # 200 with an empty body, like the real API


@pytest.mark.parametrize(
    ("verb", "body", "status", "code", "param"),
    [
        ("accept", b"{not json", 400, "invalid_json", None),
        ("accept", [1, 2], 400, "invalid_json", None),
        ("accept", {"model": "m", "instructions": "i"}, 400, "missing_required_parameter", "type"),
        (
            "accept",
            {"type": "session", "model": "m", "instructions": "i"},
            400,
            "invalid_value",
            "type",
        ),
        (
            "accept",
            {"type": "realtime", "instructions": "i"},
            400,
            "missing_required_parameter",
            "model",
        ),
        (
            "accept",
            {"type": "realtime", "model": "", "instructions": "i"},
            400,
            "invalid_value",
            "model",
        ),
        (
            "accept",
            {"type": "realtime", "model": "m"},
            400,
            "missing_required_parameter",
            "instructions",
        ),
        ("accept", {**ACCEPT, "instructions": 42}, 400, "invalid_type", "instructions"),
        (
            "accept",
            {**ACCEPT, "output_modalities": ["video"]},
            400,
            "invalid_value",
            "output_modalities[0]",
        ),
        (
            "accept",
            {**ACCEPT, "audio": {"output": {"speed": "fast"}}},
            400,
            "invalid_type",
            "audio.output.speed",
        ),
        ("reject", {"status_code": 200}, 400, "invalid_value", "status_code"),
        ("reject", {"status_code": "busy"}, 400, "invalid_type", "status_code"),
        ("refer", {}, 400, "missing_required_parameter", "target_uri"),
        ("refer", {"target_uri": "https://example.com"}, 400, "invalid_value", "target_uri"),
        ("refer", {"target_uri": "tel:"}, 400, "invalid_value", "target_uri"),
        ("transfer", {}, 404, "not_found", None),
    ],
)
async def test_bad_requests_get_documented_4xx(
    emu: Emulator,
    http: aiohttp.ClientSession,
    ringing: str,
    verb: str,
    body: Any,
    status: int,
    code: str,
    param: str | None,
) -> None:
    got, answer = await post(
        http, f"{emu.base_url}/openai/v1/realtime/calls/{ringing}/{verb}", body
    )
    assert got == status
    assert_error(answer, code, param)
    assert emu.calls[ringing].state == "ringing"


async def test_deeply_nested_json_is_400(
    emu: Emulator, http: aiohttp.ClientSession, ringing: str
) -> None:
    got, answer = await post(
        http, f"{emu.base_url}/openai/v1/realtime/calls/{ringing}/accept", b"[" * 60000
    )
    assert got == 400
    assert_error(answer, "invalid_json")


@pytest.mark.parametrize("header", ["api-key", "Authorization"])
async def test_non_ascii_credentials_are_401(
    emu: Emulator, http: aiohttp.ClientSession, ringing: str, header: str
) -> None:
    value = "Bearer clé-\udcff" if header == "Authorization" else "clé"
    url = f"{emu.base_url}/openai/v1/realtime/calls/{ringing}/accept"
    async with http.post(
        url,
        json=ACCEPT,
        headers={header: value.encode("utf-8", "surrogateescape").decode("latin-1")},
    ) as response:
        assert response.status == 401


async def test_oversized_body_is_413(
    emu: Emulator, http: aiohttp.ClientSession, ringing: str
) -> None:
    body = {**ACCEPT, "instructions": "x" * (emu.config.max_body_bytes + 1)}
    got, answer = await post(
        http, f"{emu.base_url}/openai/v1/realtime/calls/{ringing}/accept", body
    )
    assert got == 413
    assert_error(answer, "request_too_large")


async def test_unknown_call_and_route_are_json_404(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    got, body = await post(http, f"{emu.base_url}/openai/v1/realtime/calls/rtc_nope/accept", ACCEPT)
    assert (got, body["error"]["code"], body["error"]["param"]) == (
        404,
        "call_not_found",
        "call_id",
    )
    got, body = await post(http, f"{emu.base_url}/openai/v1/nothing/here", {})
    assert (got, body["error"]["code"]) == (404, "not_found")
    url = f"{emu.base_url}/openai/v1/realtime/calls/rtc_nope/accept"
    async with http.get(url, headers={"api-key": API_KEY}) as response:
        assert response.status == 405


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    verb=st.sampled_from(["accept", "reject", "refer", "hangup"]),
    body=st.dictionaries(
        st.sampled_from(
            ["type", "model", "instructions", "audio", "tools", "status_code", "target_uri"]
        ),
        json_values,
    )
    | json_values,
)
async def test_arbitrary_bodies_never_500(emu: Emulator, verb: str, body: Any) -> None:
    call_id = await emu.place_call("greeting", "http://127.0.0.1:9/unused")
    async with aiohttp.ClientSession() as http:
        got, answer = await post(
            http, f"{emu.base_url}/openai/v1/realtime/calls/{call_id}/{verb}", body
        )
    assert got in (200, 400, 409), answer
    await emu.caller_hangup(call_id)
