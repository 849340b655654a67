"""Operator commands in every phase of a call: each has exactly one effect, ever.

The Durable Python SDK hands an external event raised while the orchestrator was not waiting for
it to every later wait of that name; these tests raise commands exactly then (screening, ringing,
a REFER in flight, a hang-up in flight) and count what reached the service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import warnings
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from emulator.scenario import AcceptFaults, Fault, ReferBehaviour, Scenario, load_scenario
from switchboard.agent import HANDOFF_LINE, TRANSFER_FAILED_LINE
from switchboard.operator import COMMANDS_PER_CALL
from switchboard.policy import Decision
from switchboard.records import CallStart
from switchboard.settings import get_settings
from switchboard.store.account import get_account
from switchboard.store.calls import CallStore
from switchboard.webhook import IncomingCall
from tests.blueprints.calls import RECORD_TIMEOUT, held_slots, requests, successful
from tests.conftest import CallEnv
from tests.support.receiver import SECRET, closed_port_url

DUPLICATE_WARNING = "Potential duplicate Task completion for TaskId: operator"
HISTORY_BOUND = 160
"""Events in one call's history, commands included (these calls take 24-39; a flood, <130)."""


async def command(
    host: DurableTestHost, call_id: str, action: str, body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    """POST an operator command through the real HTTP function."""
    name = {"transfer": "transfer_live_call", "hangup": "hang_up_live_call"}[action]
    req = func.HttpRequest(
        method="POST",
        url=f"http://127.0.0.1/api/calls/{call_id}/{action}",
        headers={"content-type": "application/json"},
        route_params={"call_id": call_id},
        body=body,
    )
    response = await host.call_http(name, req)
    return response.status_code, json.loads(response.get_body() or b"{}")


def scenario(name: str, **changes: Any) -> Scenario:
    return dataclasses.replace(load_scenario(name), **changes)


async def in_phase(host: DurableTestHost, call_id: str, phase: str) -> None:
    def reached() -> bool:
        view = host.instances.get(call_id)
        return view is not None and (view.custom_status or {}).get("phase") == phase

    await host.wait_until(reached, timeout=RECORD_TIMEOUT, what=f"{call_id} {phase}")


async def finish(
    emulator: Emulator, host: DurableTestHost, call_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    view = await host.wait_for_completion(call_id, timeout=RECORD_TIMEOUT)
    assert view.runtime_status.value == "Completed", view
    await asyncio.sleep(0.3)  # anything still going out would reach the emulator now
    if emulator.calls[call_id].state.value not in ("ended", "transferred"):
        await emulator.caller_hangup(call_id)
    timeline = await emulator.wait_for_end(call_id, timeout=RECORD_TIMEOUT)
    return view.output, timeline


def effects(timeline: dict[str, Any]) -> dict[str, int]:
    """How many of each call-control request the service carried out."""
    verbs = ("accept", "reject", "refer", "hangup")
    return {verb: len(successful(timeline, verb)) for verb in verbs}


@pytest.fixture
def no_duplicate_deliveries(recwarn: pytest.WarningsRecorder) -> Iterator[None]:
    """The SDK's warning for a re-delivered event (a Python warning) must not appear."""
    yield
    assert [str(w.message) for w in recwarn if DUPLICATE_WARNING in str(w.message)] == []


async def test_a_transfer_while_ringing_is_refused_and_never_refers(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, no_duplicate_deliveries: Any
) -> None:
    slow = scenario("long_call", accept=AcceptFaults(delay_seconds=1.0))
    call_id = await emulator.place_call(slow, webhook_url=f"{app_url}/api/calls/incoming")
    await in_phase(app_host, call_id, "ringing")
    status, body = await command(app_host, call_id, "transfer")
    assert (status, body) == (409, {"error": "call not answered yet"})
    await in_phase(app_host, call_id, "active")
    await emulator.caller_hangup(call_id)
    record, timeline = await finish(emulator, app_host, call_id)
    assert effects(timeline) == {"accept": 1, "reject": 0, "refer": 0, "hangup": 0}
    assert record["end_reason"] == "caller_hangup"


def raise_command(host: DurableTestHost, call_id: str, action: str, command_id: str) -> None:
    """Raise a command as the API does, bypassing its phase check (a command that raced it)."""
    host.raise_event(call_id, "operator", {"id": command_id, "action": action})


FALLBACK = "sip:operator@pbx.example.com"
HELD = 1.0
"""How long the step in flight is held at the service while commands arrive."""

PHASES: dict[str, tuple[str, dict[str, Any]]] = {
    "ringing": ("ringing", {"accept": AcceptFaults(delay_seconds=HELD)}),
    "active": ("active", {}),
    "transferring": (
        "transferring",
        {"faults": (Fault(on="refer", action="timeout", seconds=HELD),)},
    ),
    "ending": ("ending", {"faults": (Fault(on="hangup", action="timeout", seconds=HELD),)}),
}


async def to_phase(emulator: Emulator, host: DurableTestHost, app_url: str, phase: str) -> str:
    """A long call brought to ``phase`` (a REFER or a hang-up held at the service if need be)."""
    status, changes = PHASES[phase]
    call_id = await emulator.place_call(
        scenario("long_call", **changes), webhook_url=f"{app_url}/api/calls/incoming"
    )
    if phase in ("transferring", "ending"):
        await in_phase(host, call_id, "active")
        raise_command(host, call_id, "transfer" if phase == "transferring" else "hangup", "first")
    await in_phase(host, call_id, status)
    return call_id


EXPECTED = {
    # phase, command: (accepts, rejects, refers, hang-ups, end reason)
    ("ringing", "hangup"): (0, 1, 0, 0, "operator_hangup"),
    ("ringing", "transfer"): (1, 0, 0, 0, "caller_hangup"),
    ("active", "hangup"): (1, 0, 0, 1, "operator_hangup"),
    ("active", "transfer"): (1, 0, 1, 0, "transferred"),
    ("transferring", "hangup"): (1, 0, 1, 0, "transferred"),
    ("transferring", "transfer"): (1, 0, 1, 0, "transferred"),
    ("ending", "hangup"): (1, 0, 0, 1, "operator_hangup"),
    ("ending", "transfer"): (1, 0, 0, 1, "operator_hangup"),
}


@pytest.mark.parametrize(("phase", "action"), list(EXPECTED))
async def test_every_command_in_every_phase_has_exactly_one_effect(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    phase: str,
    action: str,
    no_duplicate_deliveries: Any,
) -> None:
    call_id = await to_phase(emulator, app_host, app_url, phase)
    for _ in range(3):  # the same command delivered three times
        raise_command(app_host, call_id, action, "cmd-1")
    if phase in ("ringing", "active") and EXPECTED[phase, action][4] == "caller_hangup":
        await in_phase(app_host, call_id, "active")
        await asyncio.sleep(0.3)
        await emulator.caller_hangup(call_id)
    record, timeline = await finish(emulator, app_host, call_id)
    accepts, rejects, refers, hangups, reason = EXPECTED[phase, action]
    history = len(app_host.instances[call_id].history)
    seen = (*effects(timeline).values(), record["end_reason"], history < HISTORY_BOUND)
    assert seen == (accepts, rejects, refers, hangups, reason, True), f"history {history}"


async def test_commands_while_screening_decline_or_wait_for_the_answer(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    call_env: CallEnv,
    no_duplicate_deliveries: None,
) -> None:
    """Commands raised before the orchestration's first step: it is waiting for its slot."""
    call_env.set(MAX_CONCURRENT_CALLS="5")
    webhook = f"{app_url}/api/calls/incoming"
    declined, kept = [await emulator.place_call("long_call", webhook_url=webhook) for _ in "ab"]
    for call_id, action in ((declined, "hangup"), (kept, "transfer")):
        # Before the webhook arrives: the same start, with the command already queued.
        call = IncomingCall(call_id, "wh_test", "evt_test", int(time.time()), ())
        start = CallStart(call, get_settings().plan(), Decision(True, "allowed", None, None))
        app_host.start("call_orchestrator", start.to_dict(), call_id)
        raise_command(app_host, call_id, action, "early")
        raise_command(app_host, call_id, action, "early")
    record, timeline = await finish(emulator, app_host, declined)
    assert effects(timeline) == {"accept": 0, "reject": 1, "refer": 0, "hangup": 0}
    assert [r["body"] for r in requests(timeline, "reject")] == [{"status_code": 603}]
    assert (record["end_reason"], record["commands"]) == (
        "operator_hangup",
        [{"id": "early", "action": "hangup", "outcome": "done"}],
    )
    await in_phase(app_host, kept, "active")
    await emulator.caller_hangup(kept)
    record, timeline = await finish(emulator, app_host, kept)
    assert effects(timeline) == {"accept": 1, "reject": 0, "refer": 0, "hangup": 0}
    assert record["commands"] == [
        {"id": "early", "action": "transfer", "outcome": "refused:not_answered"}
    ]
    assert held_slots(app_host) == {}


async def test_the_api_gives_each_command_an_id_and_refuses_what_the_phase_cannot_do(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, no_duplicate_deliveries: None
) -> None:
    held = (Fault(on="refer", action="timeout", seconds=HELD),)
    call_id = await emulator.place_call(
        scenario("long_call", faults=held), webhook_url=f"{app_url}/api/calls/incoming"
    )
    await in_phase(app_host, call_id, "active")
    status, body = await command(app_host, call_id, "transfer", b'{"handoff": false}')
    assert (status, body["action"], len(body["command_id"])) == (202, "transfer", 32)
    await in_phase(app_host, call_id, "transferring")
    assert await command(app_host, call_id, "transfer") == (
        409,
        {"error": "a transfer is in progress"},
    )
    assert (await command(app_host, call_id, "hangup"))[0] == 409
    record, timeline = await finish(emulator, app_host, call_id)
    assert effects(timeline)["refer"] == 1
    assert record["commands"] == [
        {"id": body["command_id"], "action": "transfer", "outcome": "done"}
    ]
    assert await command(app_host, call_id, "hangup") == (409, {"error": "call has ended"})


@pytest.mark.parametrize("at_once", [False, True], ids=["one by one", "all at once"])
async def test_a_flood_of_commands_is_bounded_per_call(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    at_once: bool,
) -> None:
    """300 transfers to a call whose REFERs all fail: at most 10 are taken, history bounded.

    One by one, the API answers 429 once the call shows 10 commands taken. All at once, many
    pass that check before the count moves; the orchestration takes 10 and has no wait for the
    rest, which leave only their EventRaised in the history (and the SDK's warning that an event
    found no wait, on each replay: only when events went past the limit, never otherwise).
    """
    forbidden: Any = 403  # not retried by the app (the emulator types only retried statuses)
    refused = (Fault(on="refer", action="status", status=forbidden, times=1000),)
    call_id = await emulator.place_call(
        scenario("long_call", faults=refused), webhook_url=f"{app_url}/api/calls/incoming"
    )
    await in_phase(app_host, call_id, "active")
    body = b'{"handoff": false}'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every occurrence, not once per place
        if at_once:
            sent = [command(app_host, call_id, "transfer", body) for _ in range(300)]
            statuses = [status for status, _ in await asyncio.gather(*sent)]
        else:
            statuses = [(await command(app_host, call_id, "transfer", body))[0] for _ in range(300)]
        await emulator.caller_hangup(call_id)
        record, timeline = await finish(emulator, app_host, call_id)
    history = len(app_host.instances[call_id].history)
    assert len(record["commands"]) == COMMANDS_PER_CALL
    done = [c for c in record["commands"] if c["outcome"] == "done"]
    assert len(requests(timeline, "refer")) == len(done) >= 1
    assert statuses.count(202) == COMMANDS_PER_CALL  # a burst too: the API counts what it raised
    assert set(statuses) <= {202, 409, 429}  # 409 while a REFER is under way
    assert statuses[-100:] == [429] * 100 or at_once
    assert history < HISTORY_BOUND, history
    unwaited = [w for w in caught if DUPLICATE_WARNING in str(w.message)]
    assert not unwaited


def spoken(timeline: dict[str, Any]) -> list[tuple[int, str]]:
    """(timeline position, instructions) of every line the app asked the agent for."""
    return [
        (e["seq"], e["payload"].get("response", {}).get("instructions"))
        for e in timeline["timeline"]
        if e.get("type") == "response.create"
    ]


async def test_an_operator_transfer_takes_the_agents_path(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    call_env: CallEnv,
    no_duplicate_deliveries: None,
) -> None:
    """Hand-off line, REFER, verify, the fallback once, and the caller told it did not work."""
    call_env.set(TRANSFER_FALLBACK_URI=FALLBACK, TRANSFER_VERIFY_SECONDS="1")
    never = scenario("long_call", refer=ReferBehaviour(completes=False))
    call_id = await emulator.place_call(never, webhook_url=f"{app_url}/api/calls/incoming")
    await in_phase(app_host, call_id, "active")
    target = b'{"target_uri": "sip:desk@example.com"}'
    assert (await command(app_host, call_id, "transfer", target))[0] == 202
    await app_host.wait_until(
        lambda: len(app_host.activity_calls("say_line")) == 2, timeout=15, what="caller told"
    )
    await asyncio.sleep(0.5)
    await emulator.caller_hangup(call_id)
    record, timeline = await finish(emulator, app_host, call_id)
    assert [(t["target"], t["status"]) for t in record["transfers"]] == [
        ("sip:desk@example.com", "not_completed"),
        (FALLBACK, "not_completed"),
    ]
    lines = spoken(timeline)
    handoff = next(seq for seq, text in lines if text == HANDOFF_LINE)
    first_refer = requests(timeline, "refer")[0]["seq"]
    assert handoff < first_refer
    assert [text for seq, text in lines if seq > first_refer][-1] == TRANSFER_FAILED_LINE
    assert record["end_reason"] == "caller_hangup"


async def test_an_operator_may_skip_the_hand_off_line(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, no_duplicate_deliveries: None
) -> None:
    call_id = await emulator.place_call("long_call", webhook_url=f"{app_url}/api/calls/incoming")
    await in_phase(app_host, call_id, "active")
    assert (await command(app_host, call_id, "transfer", b'{"handoff": false}'))[0] == 202
    record, timeline = await finish(emulator, app_host, call_id)
    assert (record["end_reason"], record["transfer_status"]) == ("transferred", "completed")
    assert HANDOFF_LINE not in [text for _, text in spoken(timeline)]
    assert app_host.activity_calls("say_line") == []


async def test_a_command_that_races_the_end_is_recorded_refused_in_the_stored_record(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    call_env: CallEnv,
    no_duplicate_deliveries: Any,
) -> None:
    """After the hang-up the orchestration still runs its post-call steps (here: call events
    retried on durable timers); a command that raced the API's phase check lands then, and must
    have its one effect too: listed as refused, in the record the store keeps."""
    call_env.set(
        CALL_EVENTS_URL=closed_port_url(),
        CALL_EVENTS_SECRET=SECRET,
        CALL_EVENTS_RETRY_SECONDS="0.5,0.5",
    )
    call_id = await emulator.place_call(
        scenario("long_call"), webhook_url=f"{app_url}/api/calls/incoming"
    )
    await in_phase(app_host, call_id, "active")
    await emulator.caller_hangup(call_id)
    await in_phase(app_host, call_id, "ended")
    assert app_host.instances[call_id].runtime_status.value == "Running"  # post-call steps
    raise_command(app_host, call_id, "hangup", "late-1")
    record, timeline = await finish(emulator, app_host, call_id)
    late = {"id": "late-1", "action": "hangup", "outcome": "refused:ended"}
    assert record["end_reason"] == "caller_hangup"
    assert effects(timeline)["hangup"] == 0
    assert record["commands"] == [late]
    stored = await CallStore(await get_account()).record(call_id)
    assert stored is not None
    assert stored["commands"] == [late]
