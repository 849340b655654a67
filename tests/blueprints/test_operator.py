"""The operator API against live and ended calls, through the real functions and test host."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from tests.blueprints.calls import held_slots, live_call
from tests.conftest import TRANSFER_TARGET

TIMEOUT = 15.0


async def operator(
    host: DurableTestHost, name: str, call_id: str, action: str = "", body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    route = f"calls/{call_id}" + (f"/{action}" if action else "")
    req = func.HttpRequest(
        method="POST" if action else "GET",
        url=f"http://127.0.0.1/api/{route}",
        headers={"content-type": "application/json"},
        route_params={"call_id": call_id},
        body=body,
    )
    response = await host.call_http(name, req)
    return response.status_code, json.loads(response.get_body() or b"{}")


async def test_operator_hangup_ends_a_live_call(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    call_id = await live_call(emulator, app_host, app_url)
    assert list(held_slots(app_host)) == [call_id]
    status, view = await operator(app_host, "get_call", call_id)
    assert status == 200
    assert view["runtime_status"] == "Running"
    assert view["phase"] == "active"
    assert view["record"] is None
    status, body = await operator(app_host, "hang_up_live_call", call_id, "hangup")
    assert (status, body["action"]) == (202, "hangup")
    record = (await app_host.wait_for_completion(call_id, timeout=TIMEOUT)).output
    assert record["end_reason"] == "operator_hangup"
    assert held_slots(app_host) == {}
    timeline = await emulator.wait_for_end(call_id)
    assert timeline["reason"] == "hangup"
    status, view = await operator(app_host, "get_call", call_id)
    assert (status, view["phase"], view["record"]["end_reason"]) == (
        200,
        "ended",
        "operator_hangup",
    )
    status, body = await operator(app_host, "hang_up_live_call", call_id, "hangup")
    assert (status, body) == (409, {"error": "call has ended"})


async def test_operator_transfer_to_a_given_target(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    call_id = await live_call(emulator, app_host, app_url)
    target = b'{"target_uri": "sip:desk@example.com"}'
    status, _ = await operator(app_host, "transfer_live_call", call_id, "transfer", target)
    assert status == 202
    record = (await app_host.wait_for_completion(call_id, timeout=TIMEOUT)).output
    assert record["end_reason"] == "transferred"
    assert record["transfer_target"] == "sip:desk@example.com"
    assert record["transfer_status"] == "completed"
    assert (await emulator.wait_for_end(call_id))["state"] == "transferred"


async def test_operator_transfer_defaults_to_the_configured_target(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    call_id = await live_call(emulator, app_host, app_url)
    status, _ = await operator(app_host, "transfer_live_call", call_id, "transfer")
    assert status == 202
    record = (await app_host.wait_for_completion(call_id, timeout=TIMEOUT)).output
    assert (record["end_reason"], record["transfer_target"]) == ("transferred", TRANSFER_TARGET)


async def test_operator_errors_unknown_calls_and_bad_targets(app_host: DurableTestHost) -> None:
    assert (await operator(app_host, "get_call", "rtc_nope"))[0] == 404
    assert (await operator(app_host, "hang_up_live_call", "rtc_nope", "hangup"))[0] == 404
    for body in (b"{", b"[]", b'{"target_uri": "mailto:x@y"}', b'{"target_uri": 5}'):
        status, error = await operator(app_host, "transfer_live_call", "rtc_x", "transfer", body)
        assert status == 400, body
        assert "error" in error
