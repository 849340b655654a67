"""Deploys during live calls: a call started under one orchestration version finishes under the
next, whose orchestrator schedules differently (see docs/deploy.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from activities import names
from blueprints.flow.base import VERSION
from devhost.durable_host import DurableTestHost, host_json_default_version
from emulator import Emulator
from tests.blueprints.calls import place_and_finish, successful
from tests.conftest import CallEnv
from tests.support.durable_adopt import adopt, moved_to_now

VERSION_1_RINGING = Path(__file__).parent / "data" / "call_v1_ringing.json"


def version_1_call(call_id: str, version: str = "") -> tuple[Any, list[dict[str, Any]]]:
    """The recorded version-1 call, as the call ``call_id`` now, stamped ``version``."""
    recorded = json.loads(VERSION_1_RINGING.read_text(encoding="utf-8"))
    moved = json.loads(moved_to_now(json.dumps(recorded), {recorded["call_id"]: call_id}))
    started = next(e for e in moved["history"] if e["EventType"] == 0)
    started["Version"] = version
    return moved["input"], moved["history"]


def scheduled(history: list[dict[str, Any]]) -> list[str]:
    return [e["Name"] for e in history if e["EventType"] == 4]


def monitor_leases(history: list[dict[str, Any]]) -> list[int]:
    """The lease of every monitor slice scheduled (0: none, as version 1 schedules them)."""
    slices = [e for e in history if e["EventType"] == 4 and e["Name"] == names.MONITOR_CALL]
    return [int(json.loads(e["Input"])["lease"]) for e in slices]


def test_new_calls_start_under_the_version_the_code_runs() -> None:
    assert host_json_default_version() == str(VERSION)


async def test_a_call_started_under_version_1_finishes_under_version_2(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(MAX_CONCURRENT_CALLS="5")
    call_id = await emulator.place_call("greeting", webhook_url=f"{app_url}/api/calls/incoming")
    wire_input, history = version_1_call(call_id)  # ringing: accept and ring limit under way
    adopt(app_host, call_id, wire_input, history)  # before its webhook arrives: a duplicate
    view = await app_host.wait_for_completion(call_id, timeout=15)
    timeline = await emulator.wait_for_end(call_id)
    assert (view.runtime_status.value, view.output["end_reason"]) == ("Completed", "caller_hangup")
    assert view.output["decision_reason"] == "allowed"
    assert len(successful(timeline, "accept")) == 1
    assert scheduled(view.history)[0] == names.SCREEN_CALL
    assert app_host.problems == []
    # its slices keep version 1's schedule too: no lease, so no watch timer or lease entity
    assert monitor_leases(view.history) == [0]
    assert not any("monitor_lease" in json.dumps(e) for e in view.history)

    record, _ = await place_and_finish(emulator, app_host, app_url, "greeting")
    fresh = app_host.instances[record["call_id"]].history
    assert names.SCREEN_CALL not in scheduled(fresh)  # the code did change between versions
    assert monitor_leases(fresh) == [1]  # version 2 numbers and watches its slices


async def test_without_the_version_the_new_code_would_break_the_call(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    """The same call replayed as a version-2 one (the input given the decision version 2 gets
    from ingress): the replay schedules differently from the history and the call fails."""
    call_env.set(MAX_CONCURRENT_CALLS="5")
    call_id = await emulator.place_call("greeting", webhook_url=f"{app_url}/api/calls/incoming")
    wire_input, history = version_1_call(call_id, version=str(VERSION))
    decided = {"accept": True, "reason": "allowed", "caller": None, "callee": None}
    wire_input = json.dumps(json.loads(wire_input) | {"decision": decided})
    next(e for e in history if e["EventType"] == 0)["Input"] = wire_input
    app_host.raise_on_problems = False
    adopt(app_host, call_id, wire_input, history)
    assert app_host.instances[call_id].runtime_status.value == "Failed"
    assert "Non-Deterministic" in app_host.problems[0]
    await emulator.caller_hangup(call_id)
