"""The tool desk: one request per function call id, a bounded number per slice, answers kept."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from switchboard.agent_tools import HttpTool
from switchboard.realtime.http_tools import HttpToolCaller
from switchboard.realtime.slice import CarriedAnswer
from switchboard.realtime.tool_desk import MAX_TOOL_CALLS, ToolDesk
from tests.switchboard.realtime.tool_endpoint import Endpoint, endpoint


@pytest.fixture
async def served() -> AsyncIterator[Endpoint]:
    async with endpoint() as running:
        yield running


@pytest.fixture
async def caller(served: Endpoint) -> AsyncIterator[HttpToolCaller]:
    tool = HttpTool.model_validate(
        {"name": "lookup", "description": "x", "url": served.url + "/ok"}
    )
    async with aiohttp.ClientSession() as http:
        yield HttpToolCaller((tool,), http, {})


async def test_a_function_call_id_is_called_once(served: Endpoint, caller: HttpToolCaller) -> None:
    desk = ToolDesk(caller)
    assert desk.start("call_1", "lookup", "{}") == "started"
    assert desk.start("call_1", "lookup", "{}") == "seen"
    answers = await desk.settle()
    assert [a.call_id for a in answers] == ["call_1"]
    assert len(served.requests) == 1
    assert [e["outcome"] for e in desk.entries] == ["ok"]


async def test_a_slice_starts_a_bounded_number_of_calls(
    served: Endpoint, caller: HttpToolCaller
) -> None:
    desk = ToolDesk(caller)
    started = [desk.start(f"call_{n}", "lookup", "{}") for n in range(MAX_TOOL_CALLS + 1)]
    assert started.count("started") == MAX_TOOL_CALLS
    assert started[-1] == "too_many"
    await desk.settle()
    assert len(served.requests) == MAX_TOOL_CALLS


async def test_answers_carried_from_the_last_slice_come_first(caller: HttpToolCaller) -> None:
    carried = CarriedAnswer(call_id="call_0", output="{}")
    desk = ToolDesk(caller, [carried])
    desk.start("call_1", "lookup", "{}")
    assert [a.call_id for a in await desk.settle()] == ["call_0", "call_1"]
    assert desk.take() == []
