"""The fault campaign (``tests/campaigns/fault_matrix.py``) run once per module, then judged.

Every cell of faults x phases is one call through the real app; see the campaign's docstring for
the invariants and the profiles. Cells the current app is known to fail are listed, with the
evidence, in ``KNOWN_VIOLATIONS``: they must keep the invariants every call keeps, and must still
fail their expectations (a fix makes the last test say which entry to delete).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.campaigns.fault_matrix import (
    FAULTS,
    KNOWN_VIOLATIONS,
    PHASES,
    CampaignResult,
    Cell,
    NotApplicable,
    expectation_failures,
    invariant_failures,
    render,
    run_campaign,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def campaign() -> CampaignResult:
    """The whole campaign, on a loop of its own (it brings its own emulator, host and app)."""
    result = asyncio.run(run_campaign())
    print("\n" + render(result))  # shown with -s, and on failure
    return result


def test_the_matrix_covers_every_fault_in_every_phase(campaign: CampaignResult) -> None:
    assert set(campaign.cells) == {(fault, phase) for fault in FAULTS for phase in PHASES}
    not_applicable = [c for c in campaign.cells.values() if isinstance(c.cell, NotApplicable)]
    assert len(not_applicable) <= 2, [c.cell for c in not_applicable]
    for result in campaign.cells.values():
        if isinstance(result.cell, Cell):
            assert len(result.runs) == campaign.repetitions
    assert "n/a" in render(campaign)


def test_every_call_keeps_the_invariants(campaign: CampaignResult) -> None:
    broken = {
        key: problems
        for key, result in campaign.cells.items()
        for problems in (invariant_failures(run) for run in result.runs)
        if problems
    }
    assert broken == {}, render(campaign)


def test_nothing_is_left_running_in_the_host(campaign: CampaignResult) -> None:
    assert campaign.leftovers == []


def test_no_capacity_slot_leaks(campaign: CampaignResult) -> None:
    held = [run.call_id for r in campaign.cells.values() for run in r.runs if run.slots_held]
    assert held == []


def test_every_fault_has_its_expected_effect_except_the_known_violations(
    campaign: CampaignResult,
) -> None:
    failing = {
        key
        for key, result in campaign.cells.items()
        if any(expectation_failures(run) for run in result.runs)
    }
    unexpected = failing - set(KNOWN_VIOLATIONS)
    assert unexpected == set(), render(campaign)
    fixed = set(KNOWN_VIOLATIONS) - failing
    assert fixed == set(), f"now passing, remove from KNOWN_VIOLATIONS: {sorted(fixed)}"
