"""Helpers for end-to-end call tests: place a call through the emulator and read what happened."""

from __future__ import annotations

import json
from typing import Any

from devhost.durable_host import DurableTestHost
from emulator import Emulator, Scenario

RECORD_TIMEOUT = 15.0


async def place_and_finish(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    scenario: str | Scenario,
    *,
    time_scale: float | None = None,
    timeout: float = RECORD_TIMEOUT,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Place a call, wait for both sides to finish; return (call record, emulator timeline)."""
    call_id = await emulator.place_call(
        scenario, webhook_url=f"{app_url}/api/calls/incoming", time_scale=time_scale
    )
    await app_host.wait_until(lambda: call_id in app_host.instances, what="orchestration start")
    instance = await app_host.wait_for_completion(call_id, timeout=timeout)
    assert instance.runtime_status.value == "Completed", instance
    timeline = await emulator.wait_for_end(call_id, timeout=timeout)
    return instance.output, timeline


def requests(timeline: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in timeline["timeline"]
        if entry["kind"] == "request" and entry.get("path", "").endswith(f"/{verb}")
    ]


def successful(timeline: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [r for r in requests(timeline, verb) if r.get("status") == 200]


SLOTS_ENTITY = "@call_slots@global"
"""The ``call_slots`` entity's instance id in the test host."""


def held_slots(app_host: DurableTestHost) -> dict[str, str]:
    """Calls holding a slot in the ``call_slots`` entity (empty when it was never used)."""
    entity = app_host.entities.get(SLOTS_ENTITY)
    if entity is None or not entity.exists:
        return {}
    held: dict[str, str] = entity.state["held"]
    return held


async def live_call(emulator: Emulator, host: DurableTestHost, app_url: str) -> str:
    """A long call placed through the emulator, waited on until it is answered and listed."""
    call_id = await emulator.place_call(
        "long_call", webhook_url=f"{app_url}/api/calls/incoming", time_scale=1.0
    )

    def answered() -> bool:
        view = host.instances.get(call_id)
        return (
            view is not None
            and (view.custom_status or {}).get("phase") == "active"
            and "monitor_call" in json.dumps(view.history)  # after its live row was written
        )

    await host.wait_until(answered, timeout=RECORD_TIMEOUT, what=f"call {call_id} answered")
    return call_id
