"""End to end, a monitor whose worker is lost, as the real host handles it.

The test host models Azure Storage's work-item queue: the lost slice reports nothing and runs again
only once its message's visibility timeout has passed (5 minutes in Azure; scaled down here by
the same factor as the slice, so the numbers printed map to production by ``SCALE``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from azure.functions.decorators.function_app import Function

from activities import names
from devhost.durable_host import WORK_ITEM_VISIBILITY_TIMEOUT
from emulator import Emulator, EmulatorConfig, parse_scenario
from switchboard.connection import close_connection
from switchboard.realtime.lease import watch_seconds
from tests.blueprints.calls import RECORD_TIMEOUT, requests, successful
from tests.blueprints.test_monitor import ShortSliceHost
from tests.conftest import TRANSFER_TARGET, CallEnv

SCALE = 20
"""Production seconds per test second: a 300 s visibility timeout becomes 15 s."""
SLICE_SECONDS = 360 // SCALE
"""A slice whose watch interval is production's 60 s, scaled (18 s: watch 3 s)."""


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """A caller patient enough to wait for a monitor through the whole visibility timeout."""
    return EmulatorConfig(
        ring_timeout_seconds=5.0, webhook_backoff_seconds=0.05, step_timeout_seconds=30.0
    )


@pytest.fixture
async def app_host(call_env: CallEnv, functions: list[Function]) -> AsyncIterator[ShortSliceHost]:
    """The app in a test host whose lost work items reappear after a scaled visibility timeout."""
    async with ShortSliceHost(functions) as host:
        host.slice_seconds = SLICE_SECONDS
        host.visibility_timeout = WORK_ITEM_VISIBILITY_TIMEOUT / SCALE
        yield host
    await close_connection()


def paused_then_transfer(pause: float) -> dict[str, object]:
    """The caller is quiet for ``pause`` seconds after the greeting, then asks for a transfer."""
    return {
        "description": "a long pause while the monitor's worker is lost, then a transfer",
        "refer": {"delay_seconds": 0.2},
        "steps": [
            {"action": "wait_for", "until": "response_done"},
            {"action": "wait", "seconds": pause},
            {
                "action": "say",
                "text": "Are you there? Put me through, please.",
                "reply": "Of course.",
                "tool": "transfer_call",
                "arguments": {},
            },
            {"action": "wait_for", "until": "refer"},
        ],
    }


async def test_a_monitor_on_a_lost_worker_is_replaced_and_the_requeued_one_steps_aside(
    emulator: Emulator, app_host: ShortSliceHost, app_url: str
) -> None:
    data = paused_then_transfer(app_host.visibility_timeout + 8)
    trip = asyncio.Event()
    loss = app_host.lose_worker(names.MONITOR_CALL, when=trip.wait)
    call_id = await emulator.place_call(
        parse_scenario("worker lost", data), webhook_url=f"{app_url}/api/calls/incoming"
    )
    call = emulator.calls[call_id]
    await call.wait_until(lambda: call.counters.response_done >= 1, RECORD_TIMEOUT)
    loop = asyncio.get_running_loop()
    trip.set()  # the worker holding the call's socket is gone
    await app_host.wait_until(lambda: bool(loss.lost_at), what="worker lost")
    await call.wait_until(lambda: len(call.sockets) == 0, RECORD_TIMEOUT)
    await call.wait_until(lambda: len(call.sockets) > 0, 2 * app_host.visibility_timeout)
    unmonitored = loop.time() - loss.lost_at[0]
    print(
        f"\nunmonitored after a lost worker: {unmonitored:.1f} s here, ~{unmonitored * SCALE:.0f} s"
        f" in production (visibility timeout {WORK_ITEM_VISIBILITY_TIMEOUT:.0f} s, watch every"
        f" {watch_seconds(SLICE_SECONDS * SCALE):.0f} s)"
    )

    view = await app_host.wait_for_completion(call_id, timeout=3 * app_host.visibility_timeout)
    timeline = await emulator.wait_for_end(call_id)
    record = view.output
    assert record["end_reason"] == "transferred"
    assert [r["body"]["target_uri"] for r in successful(timeline, "refer")] == [TRANSFER_TARGET]
    tool_outputs = [
        e
        for e in timeline["timeline"]
        if e["kind"] == "event_received" and e["type"] == "conversation.item.create"
    ]
    assert len(tool_outputs) == 1  # one monitor answered the tool call, not two
    assert len(loss.requeued_at) == 1  # the lost slice did run again...
    outcomes = [
        json.loads(e["Result"])["outcome"]
        for e in view.history
        if e["EventType"] == 5 and '"outcome"' in (e.get("Result") or "")
    ]
    assert "superseded" in outcomes  # ...and stepped aside: a newer slice held the call
    assert requests(timeline, "hangup") == []


async def test_a_monitor_on_a_host_that_shuts_down_is_picked_up_again_at_once(
    emulator: Emulator, app_host: ShortSliceHost, app_url: str
) -> None:
    trip = asyncio.Event()
    loss = app_host.lose_worker(names.MONITOR_CALL, when=trip.wait, shutdown=True)
    call_id = await emulator.place_call(
        parse_scenario("host shut down", paused_then_transfer(4)),
        webhook_url=f"{app_url}/api/calls/incoming",
    )
    call = emulator.calls[call_id]
    await call.wait_until(lambda: call.counters.response_done >= 1, RECORD_TIMEOUT)
    loop = asyncio.get_running_loop()
    trip.set()  # the host is stopping: the work item is abandoned, back in the queue at once
    await app_host.wait_until(lambda: bool(loss.lost_at), what="host stopped")
    await call.wait_until(lambda: len(call.sockets) == 0, RECORD_TIMEOUT)
    await call.wait_until(lambda: len(call.sockets) > 0, RECORD_TIMEOUT)
    unmonitored = loop.time() - loss.lost_at[0]
    print(
        f"\nunmonitored after a host shut down: {unmonitored:.3f} s (the slice runs again at once)"
    )

    record = (await app_host.wait_for_completion(call_id, timeout=RECORD_TIMEOUT)).output
    timeline = await emulator.wait_for_end(call_id)
    assert record["end_reason"] == "transferred"
    assert len(successful(timeline, "refer")) == 1
    assert len(loss.requeued_at) == 1
    assert (
        app_host.activity_calls(names.MONITOR_CALL)[0]
        == app_host.activity_calls(names.MONITOR_CALL)[1]
    )  # the same slice, run again: no retry spent, no new slice needed
    assert not [e for e in app_host.instances[call_id].history if e["EventType"] == 6]
