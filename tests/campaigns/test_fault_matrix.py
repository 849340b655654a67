"""The fault campaign (``tests/campaigns/fault_matrix.py``) run once per module, then judged.

Every cell of faults x phases is one call through the real app; see the campaign's docstring for
the invariants and the profiles. Cells the current app is known to fail are listed, with the
evidence, in ``KNOWN_VIOLATIONS``: they must keep the invariants every call keeps, and must still
fail their expectations (a fix makes the last test say which entry to delete).
"""

from __future__ import annotations

import asyncio
import json

import azure.durable_functions as df
import azure.functions as func
import pytest

from tests.campaigns.fault_matrix import (
    FAULTS,
    KNOWN_VIOLATIONS,
    PHASES,
    CampaignResult,
    Cell,
    NotApplicable,
    capacity_slots,
    expectation_failures,
    invariant_failures,
    render,
    run_campaign,
)
from tests.support.durable_host import DurableTestHost

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
    if not campaign.slots_checked:
        pytest.skip("the app has no call_slots entity yet (fault_matrix.capacity_slots)")
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


slots = df.Blueprint()


@slots.entity_trigger(context_name="context")  # type: ignore[untyped-decorator]
def call_slots(context: df.DurableEntityContext) -> None:
    """The contract the slot invariant is written against (the real entity is on its way)."""
    state = context.get_state(lambda: {"held": {}})
    if context.operation_name == "acquire":
        state["held"][context.get_input()] = "2026-01-01T00:00:00+00:00"
    elif context.operation_name == "release":
        state["held"].pop(context.get_input(), None)
    context.set_state(state)


async def test_capacity_slots_reads_the_call_slots_contract_and_is_none_only_without_it() -> None:
    with_slots = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    with_slots.register_functions(slots)
    async with DurableTestHost(with_slots) as host:
        assert capacity_slots(host) == {}  # registered, never used: nothing held
        host.signal_entity("call_slots", "global", "acquire", json.dumps("rtc_a"))
        assert capacity_slots(host) == {"rtc_a": "2026-01-01T00:00:00+00:00"}
        host.signal_entity("call_slots", "global", "release", json.dumps("rtc_a"))
        assert capacity_slots(host) == {}
    without = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    async with DurableTestHost(without) as host:
        assert capacity_slots(host) is None
