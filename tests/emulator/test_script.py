from __future__ import annotations

import asyncio
from typing import Any

from emulator.call import Call, CallState, EndReason
from emulator.scenario import parse_scenario
from emulator.script import run_script


async def _call_at_its_first_wait(steps: list[dict[str, Any]]) -> Call:
    """A call whose script has reached its first wait."""
    scenario = parse_scenario("t", {"steps": steps})
    call = Call("rtc_script", scenario, "http://127.0.0.1:9/unused", time_scale=0.01)
    call.spawn(run_script(call, step_timeout=5.0), "script")
    await asyncio.sleep(0)  # the script runs up to its first wait
    assert call.timeline[-1]["action"] == "WaitFor"
    return call


async def _end_now(call: Call) -> str:
    """End the call before the script's task runs again (as a hang-up handled eagerly does)."""
    script = list(call.tasks)
    assert call.finish(CallState.ENDED, EndReason.HANGUP, 200)
    async with asyncio.timeout(5):
        await asyncio.gather(*script, return_exceptions=True)
    return call.script_status


async def test_an_end_right_after_the_awaited_event_completes_the_script() -> None:
    # The tool output arrives and the hang-up is handled before the woken script runs: the
    # script still saw everything it waited for, so it completed.
    call = await _call_at_its_first_wait([{"action": "wait_for", "until": "tool_output"}])
    call.counters.tool_output += 1
    await call.notify()  # wakes the script without letting it run
    assert await _end_now(call) == "completed"
    assert call.expectation_errors() == []
    assert [e.get("status") for e in call.timeline if e["kind"] == "script"][-1] == "completed"


async def test_an_end_before_the_awaited_event_stops_the_script() -> None:
    call = await _call_at_its_first_wait([{"action": "wait_for", "until": "tool_output"}])
    assert await _end_now(call) == "stopped"
    assert call.expectation_errors() == ["script stopped: the call ended before the script did"]


async def test_an_end_with_steps_left_stops_the_script() -> None:
    steps: list[dict[str, Any]] = [
        {"action": "wait_for", "until": "tool_output"},
        {"action": "wait", "seconds": 1},
    ]
    call = await _call_at_its_first_wait(steps)
    call.counters.tool_output += 1
    await call.notify()
    assert await _end_now(call) == "stopped"


async def test_the_last_wait_of_a_repeat_counts_only_in_its_last_round() -> None:
    steps: list[dict[str, Any]] = [
        {"action": "repeat", "times": 2, "steps": [{"action": "wait_for", "until": "refer"}]}
    ]
    call = await _call_at_its_first_wait(steps)
    call.counters.refer += 1
    await call.notify()
    assert await _end_now(call) == "stopped"  # the second round never ran
