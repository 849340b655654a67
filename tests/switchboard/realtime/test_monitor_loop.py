"""The worker's monitor loop: work runs there, results and cancellation come back."""

from __future__ import annotations

import asyncio
import threading

import pytest
import uvloop

from switchboard.realtime.monitor_loop import MONITORS, MonitorLoop, call_back


async def test_work_runs_on_the_monitor_loop_a_uvloop_in_its_own_thread() -> None:
    mine = asyncio.get_running_loop()

    async def where() -> tuple[asyncio.AbstractEventLoop, str]:
        return asyncio.get_running_loop(), threading.current_thread().name

    loop, thread = await MONITORS.run(where)
    assert loop is not mine
    assert isinstance(loop, uvloop.Loop)
    assert thread == "switchboard-monitors"
    assert (await MONITORS.run(where))[0] is loop  # one loop for the process


async def test_errors_come_back_to_the_caller() -> None:
    async def fails() -> None:
        raise ValueError("from the monitor loop")

    with pytest.raises(ValueError, match="from the monitor loop"):
        await MONITORS.run(fails)


async def test_cancelling_the_caller_cancels_the_work_and_waits_until_it_stopped() -> None:
    started, stopped = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.2)  # unwinding takes a while (a last write, say)
            stopped.set()

    running = asyncio.create_task(MonitorLoop("test-monitors").run(forever))
    await asyncio.to_thread(started.wait, 5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert stopped.is_set()  # the caller's cancellation ended only once the work had stopped


async def test_call_back_runs_on_the_callers_loop() -> None:
    mine = asyncio.get_running_loop()

    async def which() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def from_the_monitor_loop() -> tuple[object, object]:
        return asyncio.get_running_loop(), await call_back(mine, which)

    there, back = await MONITORS.run(from_the_monitor_loop)
    assert there is not mine
    assert back is mine
    assert await call_back(mine, which) is mine  # already there: no hop
