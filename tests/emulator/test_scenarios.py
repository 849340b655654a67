from __future__ import annotations

import aiohttp
import pytest

from emulator import SCENARIOS, Emulator
from tests.emulator.emulator_testkit import API_KEY, FakeApp, assert_server_events, sent_events


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_scenario_runs_to_its_expected_end(
    emu: Emulator, app: FakeApp, scenario: str
) -> None:
    app.mcp = scenario in ("mcp", "front_desk_actions")  # the scenarios that call MCP servers
    call_id = await emu.place_call(scenario, app.url, time_scale=0.01)
    view = await emu.wait_for_end(call_id, timeout=10.0)
    assert view["expectation_errors"] == []
    assert assert_server_events(sent_events(view)) == len(sent_events(view))
    log = app.calls.get(call_id)
    if log is not None:
        assert_server_events(log.events)
    if view["accept_count"]:
        # Every socket was closed by the server, and an ended call refuses new ones.
        assert view["open_sockets"] == 0
        url = f"{emu.base_url}/openai/v1/realtime?call_id={call_id}"
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url, headers={"api-key": API_KEY})
        assert refused.value.status == 404
