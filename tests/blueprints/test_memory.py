"""Returning callers end to end: the app, the emulator, the call store on Azurite, the analysis.

A caller's first call is analysed and stored; their second call is accepted with its summary in
the session instructions (read from the accept request the emulator received); the operator
route erases the caller's history, and the next call carries nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import pytest

from devhost.durable_host import DurableTestHost
from emulator import Emulator, Scenario
from emulator.scenario import Caller, load_scenario
from switchboard.memory import CLOSE, OPEN
from tests.blueprints.calls import live_call, place_and_finish, requests
from tests.blueprints.test_records import get_call, ids
from tests.conftest import CallEnv

NUMBER = "+46701234567"
SUMMARY = "Ada Lovelace called about order A-1042, which has not arrived"
FOLLOW_UP = "Follow-up: Call Ada back about the late delivery of order A-1042."


@pytest.fixture(autouse=True)
def memory_on(call_env: CallEnv) -> None:
    call_env.set(
        AGENT_DEFINITION="agents/front_desk.toml",
        TRANSFER_TARGETS="sales=tel:+14155550111,support=tel:+14155550112",
        AZURE_OPENAI_ANALYSIS_DEPLOYMENT="call-analysis",
        CALLER_MEMORY="on",
    )


def from_number(user_part: str) -> Scenario:
    """The scripted callback request, placed from ``sip:<user_part>@carrier.example``."""
    scenario = load_scenario("callback_request")
    caller = Caller(from_header=f'"Ada" <sip:{user_part}@carrier.example>;tag=emu7')
    return dataclasses.replace(scenario, caller=caller)


async def accepted_instructions(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, scenario: Scenario
) -> tuple[str, dict[str, Any]]:
    record, timeline = await place_and_finish(emulator, app_host, app_url, scenario)
    (accept,) = requests(timeline, "accept")
    instructions: str = accept["body"]["instructions"]
    return instructions, record


async def erase(app_url: str, number: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.delete(f"{app_url}/api/callers/{number}/history") as response,
    ):
        return response.status, await response.json()


async def test_a_returning_caller_is_remembered_until_their_history_is_erased(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    first, first_record = await accepted_instructions(
        emulator, app_host, app_url, from_number(NUMBER)
    )
    assert OPEN not in first
    assert first_record["caller"] == NUMBER
    assert first_record["analysis"]["summary"].startswith(SUMMARY)

    # The same number written another way: compared as E.164.
    second, second_record = await accepted_instructions(
        emulator, app_host, app_url, from_number("0046701234567")
    )
    assert second.startswith(first)  # the agent's own instructions come first, unchanged
    memory = second[len(first) :]
    assert memory.count("- on ") == 1
    assert SUMMARY in memory
    assert FOLLOW_UP in memory
    assert memory.index(f"\n{OPEN}\n") < memory.index(SUMMARY) < memory.index(f"\n{CLOSE}")

    # Another caller gets none of it.
    stranger, stranger_record = await accepted_instructions(
        emulator, app_host, app_url, from_number("+14155550199")
    )
    assert stranger == first

    status, body = await erase(app_url, "%2B46701234567")
    assert (status, body) == (200, {"erased": 2, "in_progress": 0})
    assert await ids(app_host) == [stranger_record["call_id"]]
    for call_id in (first_record["call_id"], second_record["call_id"]):
        assert (await get_call(app_host, call_id))[0] == 404  # store and task hub both

    third, _ = await accepted_instructions(emulator, app_host, app_url, from_number(NUMBER))
    assert third == first
    assert await erase(app_url, "+46 70 123 45 67") == (200, {"erased": 1, "in_progress": 0})
    assert await erase(app_url, NUMBER) == (200, {"erased": 0, "in_progress": 0})


@pytest.mark.parametrize(
    "number",
    [
        "12345",  # national forms are not read here: the index holds E.164
        "not-a-number",
        "%2B" + "1" * 70,
        "tel:555",
        "%2B4670123456%EF%BC%97",  # a fullwidth 7
        "%2B46701234567%00",
    ],
)
async def test_erasing_a_number_that_is_not_one_is_refused(app_url: str, number: str) -> None:
    status, body = await erase(app_url, number)
    assert status == 400
    assert body == {"error": "number must be a phone number in E.164 form, e.g. +46701234567"}


async def test_a_call_under_way_is_not_erased(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    call_id = await live_call(emulator, app_host, app_url)
    status, body = await erase(app_url, "+14155550123")  # the emulator's default caller
    assert (status, body) == (200, {"erased": 0, "in_progress": 1})
    assert (await get_call(app_host, call_id))[0] == 200
