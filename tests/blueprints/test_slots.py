"""The call-slots sweep: calls left by orchestrations that never ran their last step are hung up
and their slots freed; a suspended call is live."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import azure.functions as func

from devhost.durable_host import DurableTestHost
from devhost.functions import call_timer
from emulator import Emulator
from emulator.scenario import AcceptFaults, load_scenario
from switchboard.webhook import instance_id_for
from tests.blueprints.calls import held_slots, successful
from tests.conftest import CallEnv


async def run_sweep(host: DurableTestHost) -> None:
    await call_timer(host, "reconcile_call_slots")


def answered(host: DurableTestHost, call_id: str) -> bool:
    view = host.instances.get(call_id)
    return view is not None and (view.custom_status or {}).get("phase") == "active"


async def operator(
    host: DurableTestHost, name: str, call_id: str, action: str = ""
) -> tuple[int, dict[str, Any]]:
    req = func.HttpRequest(
        method="POST" if action else "GET",
        url=f"http://127.0.0.1/api/calls/{call_id}/{action}",
        route_params={"call_id": call_id},
        body=b"",
    )
    response = await host.call_http(name, req)
    return response.status_code, json.loads(response.get_body() or b"{}")


async def test_a_terminated_call_is_hung_up_and_its_slot_swept_and_a_live_one_is_kept(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="5", SILENCE_SECONDS="0")
    webhook = f"{app_url}/api/calls/incoming"
    kept = await emulator.place_call("silent_caller", webhook_url=webhook)
    killed = await emulator.place_call("silent_caller", webhook_url=webhook)
    await app_host.wait_until(lambda: len(held_slots(app_host)) == 2, what="two slots")
    await app_host.wait_until(lambda: answered(app_host, killed), what="answered")

    await run_sweep(app_host)
    assert set(held_slots(app_host)) == {kept, killed}  # both live: nothing to free

    app_host.terminate(instance_id_for(killed), "terminated by an administrator")
    await app_host.wait_for_completion(instance_id_for(killed))
    assert killed in held_slots(app_host)  # a terminated orchestration runs no last step
    assert emulator.calls[killed].state.value == "active"  # ... and leaves the call up
    await run_sweep(app_host)
    assert list(held_slots(app_host)) == [kept]
    timeline = await emulator.wait_for_end(killed, timeout=5)
    assert (timeline["state"], len(successful(timeline, "hangup"))) == ("ended", 1)

    await emulator.caller_hangup(kept)
    await app_host.wait_for_completion(instance_id_for(kept), timeout=15)
    assert held_slots(app_host) == {}


async def test_a_call_terminated_while_ringing_is_rejected_by_the_sweep(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="5")
    slow = dataclasses.replace(load_scenario("greeting"), accept=AcceptFaults(delay_seconds=2.0))
    call_id = await emulator.place_call(slow, webhook_url=f"{app_url}/api/calls/incoming")
    await app_host.wait_until(
        lambda: bool(app_host.activity_calls("accept_call")), what="the accept under way"
    )
    app_host.terminate(instance_id_for(call_id), "terminated by an administrator")
    await app_host.wait_for_completion(instance_id_for(call_id))
    await run_sweep(app_host)
    timeline = await emulator.wait_for_end(call_id, timeout=5)
    assert (timeline["state"], timeline["reason"], timeline["sip_status"]) == (
        "ended",
        "rejected",
        480,
    )
    assert held_slots(app_host) == {}


async def test_a_suspended_call_is_live_for_the_sweep_and_the_operator_api(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="5", SILENCE_SECONDS="0")
    call_id = await emulator.place_call(
        "silent_caller", webhook_url=f"{app_url}/api/calls/incoming"
    )
    await app_host.wait_until(lambda: call_id in held_slots(app_host), what="its slot")
    await app_host.wait_until(lambda: answered(app_host, call_id), what="answered")
    app_host.suspend(call_id)
    await run_sweep(app_host)
    assert list(held_slots(app_host)) == [call_id]
    assert emulator.calls[call_id].state.value == "active"
    status, view = await operator(app_host, "get_call", call_id)
    assert (status, view["runtime_status"]) == (200, "Suspended")
    status, body = await operator(app_host, "hang_up_live_call", call_id, "hangup")
    assert (status, body["action"]) == (202, "hangup")  # kept until the orchestration resumes
    assert emulator.calls[call_id].state.value == "active"

    app_host.resume(call_id)
    record = (await app_host.wait_for_completion(call_id, timeout=15)).output
    assert record["end_reason"] == "operator_hangup"
    assert held_slots(app_host) == {}


async def test_the_sweep_is_a_no_op_before_any_call(app_host: DurableTestHost) -> None:
    await run_sweep(app_host)
    assert held_slots(app_host) == {}
