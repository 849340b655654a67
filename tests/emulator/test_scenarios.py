from __future__ import annotations

import pytest

from emulator import SCENARIOS, Emulator
from tests.emulator.emulator_testkit import FakeApp, assert_server_events, sent_events


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_scenario_runs_to_its_expected_end(
    emu: Emulator, app: FakeApp, scenario: str
) -> None:
    call_id = await emu.place_call(scenario, app.url, time_scale=0.01)
    view = await emu.wait_for_end(call_id, timeout=10.0)
    assert view["expectation_errors"] == []
    assert assert_server_events(sent_events(view)) == len(sent_events(view))
    log = app.calls.get(call_id)
    if log is not None:
        assert_server_events(log.events)
