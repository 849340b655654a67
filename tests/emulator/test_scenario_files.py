from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import SCENARIOS, ScenarioError, load_scenario, parse_scenario

REQUIRED = {
    "greeting",
    "transfer",
    "end_call",
    "hangup_while_ringing",
    "long_call",
    "ws_drop",
    "accept_429",
    "accept_500",
    "slow_accept",
    "duplicate_webhook",
    "bad_signature",
    "stale_timestamp",
    "refer_never_completes",
}


def test_every_required_scenario_ships() -> None:
    assert set(SCENARIOS) >= REQUIRED


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"surprise": 1}, "unknown field surprise"),
        ({"steps": [{"action": "wait"}]}, "steps[0].seconds is required"),
        ({"steps": [{"action": "wait", "seconds": -1}]}, "steps[0].seconds must be >= 0"),
        ({"steps": [{"action": "wait", "seconds": "1"}]}, "steps[0].seconds must be float"),
        ({"steps": [{"action": "dance"}]}, "steps[0].action must be one of"),
        ({"steps": [{"action": "wait_for", "until": "dawn"}]}, "steps[0].until must be one of"),
        ({"steps": [{"action": "say"}]}, "steps[0].text is required"),
        (
            {"steps": [{"action": "say", "text": "hi", "respond": False, "reply": "x"}]},
            "steps[0].respond",
        ),
        (
            {"steps": [{"action": "say", "text": "hi", "arguments": {}}]},
            "steps[0].arguments needs a tool",
        ),
        ({"steps": [{"action": "respond"}]}, "steps[0].reply or steps[0].tool is required"),
        ({"steps": [{"action": "hangup", "seconds": 1}]}, "unknown field steps[0].seconds"),
        ({"steps": [{"action": "repeat", "times": 0}]}, "steps[0].times must be >= 1"),
        (
            {"steps": [{"action": "repeat", "times": 2, "steps": [{"action": "wait"}]}]},
            "steps[0].steps[0].seconds is required",
        ),
        ({"steps": ["wait"]}, "steps[0] must be a table"),
        ({"accept": {"fail_status": 404, "fail_times": 1}}, "accept.fail_status must be one of"),
        ({"accept": {"fail_times": 2}}, "accept.fail_times must be >= 0 and needs fail_status"),
        (
            {"webhook": {"copies": 2, "concurrent": 3}},
            "webhook.concurrent must be between 1 and copies",
        ),
        ({"webhook": {"copies": 0}}, "webhook.copies must be >= 1"),
        (
            {"caller": {"headers": [{"value": "x"}]}},
            "caller.headers[0].name must be a non-empty string",
        ),
        ({"expect": {"accepts": True}}, "expect.accepts must be int"),
    ],
)
def test_errors_name_the_bad_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ScenarioError, match=r"^scenario 'x': ") as error:
        parse_scenario("x", data)
    assert field in str(error.value)


def test_load_by_path_and_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('description = "d"\n[[steps]]\naction = "hangup"\n')
    assert load_scenario(path).name == "mine"
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        load_scenario("nope")
    path.write_text("not toml = = 1")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(path)
