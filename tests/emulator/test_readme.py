"""emulator/README.md's scenario table lists every shipped scenario with its real [expect]."""

from __future__ import annotations

import re
from pathlib import Path

from emulator import SCENARIOS, load_scenario

README = Path(__file__).resolve().parents[2] / "emulator" / "README.md"


def _rows() -> dict[str, str]:
    """Scenario name -> the 'expected end' cell of the README's table."""
    section = README.read_text(encoding="utf-8").split("## Scenarios", 1)[1]
    return dict(re.findall(r"^\| `([a-z0-9_]+)` \| .* \| ([^|]+) \|$", section, re.M))


def test_every_shipped_scenario_is_documented_and_nothing_else() -> None:
    assert sorted(_rows()) == sorted(SCENARIOS)


def test_the_documented_end_is_the_scenario_expectation() -> None:
    for name, cell in _rows().items():
        expect = load_scenario(name).expect
        documented = cell.strip().split(", ")
        outcome = [part for part in documented[0].split(" / ") if "accept" not in part]
        actual = [expect.state, expect.reason, expect.sip_status]
        assert outcome == [str(v) for v in actual[: len(outcome)]], (name, cell)
        accepts = [part for part in documented if re.fullmatch(r"\d+ accepts?", part)]
        if accepts:
            assert int(accepts[0].split()[0]) == expect.accepts, (name, cell)
