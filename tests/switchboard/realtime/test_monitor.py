"""The monitor against the emulator's call socket, on its own: two slices of one call at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from emulator import Emulator, parse_scenario
from emulator.config import DEFAULT_API_KEY
from switchboard.agent import Agent
from switchboard.realtime.channel import RealtimeChannel
from switchboard.realtime.lease import LeaseState
from switchboard.realtime.monitor import CallMonitor, MonitorOutcome, MonitorRequest
from switchboard.realtime.slice import PendingEnd

HEADERS = {"api-key": DEFAULT_API_KEY}


class SharedLease:
    """The lease entity's rules, kept in memory for monitors on one loop."""

    def __init__(self, state: LeaseState, number: int, run: str) -> None:
        self._state, self._number, self._run = state, number, run

    async def beat(self) -> bool:
        self._state.claim(self._number, self._run)
        return await self.held()

    async def held(self) -> bool:
        return self._state.standing(self._number, self._run) == "holds"

    async def record(self, ending: PendingEnd) -> None:
        self._state.record(self._number, self._run, ending.model_dump(mode="json"))

    async def ending_after(self, lease_seen: int) -> PendingEnd | None:
        return self._state.ending_after(lease_seen)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def answered_call(
    emulator: Emulator, http: aiohttp.ClientSession, steps: list[object]
) -> str:
    """A call placed on the emulator and accepted over REST with the default agent's tools."""
    scenario = parse_scenario("two monitors", {"steps": steps})
    call_id = await emulator.place_call(scenario, webhook_url="http://127.0.0.1:9/unused")
    body = Agent().session_config("gpt-realtime")
    url = f"{emulator.base_url}/openai/v1/realtime/calls/{call_id}/accept"
    async with http.post(url, json=body, headers=HEADERS) as response:
        assert response.status == 200
    return call_id


def monitor(
    emulator: Emulator, http: aiohttp.ClientSession, call_id: str, state: LeaseState, number: int
) -> CallMonitor:
    """Slice ``number`` of the call, holding its lease in the shared ``state``."""
    url = f"{emulator.base_url.replace('http', 'ws')}/openai/v1/realtime?call_id={call_id}"

    async def open_channel() -> RealtimeChannel:
        return RealtimeChannel(http, url, HEADERS)

    request = MonitorRequest(call_id, slice_seconds=20, lease=number)
    return CallMonitor(request, open_channel, SharedLease(state, number, f"run-{number}"))


async def test_of_two_live_slices_only_the_newest_answers_the_tool_and_the_older_steps_aside(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    steps: list[object] = [
        {"action": "wait_for", "until": "accepted"},
        {"action": "wait", "seconds": 1.0},  # both monitors attach
        {
            "action": "say",
            "text": "Put me through, please.",
            "reply": "Sure.",
            "tool": "transfer_call",
            "arguments": {},
        },
        {"action": "wait_for", "until": "tool_output"},
        {"action": "wait", "seconds": 1.0},
        {"action": "hangup"},
    ]
    call_id = await answered_call(emulator, http, steps)
    state = LeaseState()
    older = monitor(emulator, http, call_id, state, 1)
    first = asyncio.create_task(older.run())
    await asyncio.sleep(0.3)  # the older slice is attached: then a newer one starts beside it
    newer = monitor(emulator, http, call_id, state, 2)
    second = asyncio.create_task(newer.run())
    results = await asyncio.wait_for(asyncio.gather(first, second), timeout=20)
    timeline = (await emulator.wait_for_end(call_id))["timeline"]
    answers = [
        e
        for e in timeline
        if e["kind"] == "event_received" and e["type"] == "conversation.item.create"
    ]
    assert len(answers) == 1  # one answer to the tool call, not two
    assert [r.outcome for r in results] == [
        MonitorOutcome.SUPERSEDED,
        MonitorOutcome.TRANSFER_REQUESTED,
    ]
    sockets = [e for e in timeline if e["kind"] == "socket_opened"]
    assert len(sockets) == 2  # they were live at the same time
