"""Fault campaign: every fault in every phase of a call, against the real app, with invariants.

For each cell of the matrix *faults x phases* one call is placed on the emulator (a scripted
caller and model), the fault is injected at that phase (by the emulator's ``[[faults]]`` and
script steps, or by ``DurableTestHost.fail_activity`` for activity crashes), and the call is run
through the real ingress, the real orchestration (real Durable replay) and the real activities.
All cells of one repetition run concurrently on one loop, one host and one emulator.

Invariants checked for every call (the brief's; a cell fails if any does not hold):

* its orchestration completed (not Running/Pending, not Failed) with a record whose
  ``end_reason`` is set;
* the emulator saw at most one successful accept for it;
* exactly one orchestration was started for its call_id;
* no capacity slot is held for it after the call (the ``call_slots`` entity); and, after the
  campaign, the entity was used, no slot is held and nothing runs in the host.

Plus what each fault should specifically cause (the cell's *expectations*: the planned end, the
faulted request retried and carried out once, the conversation going on after a drop, a crash
being retried or ending the call as ``error:<activity>`` and hung up) and, for every call, that
the app did not leave it up (ringing or active) at the service once its orchestration ended.

Profiles (the campaigns' mechanism, ``tests/campaigns/conftest.py``): ``ci`` and ``dev`` run
each cell once (~30 s on 2 cores); ``full`` runs each cell 3 times, one repetition after another.
``HYPOTHESIS_PROFILE`` picks it, ``CI=true`` defaults to ``ci``. Run it by hand and print the
matrix with::

    python -m tests.campaigns.fault_matrix [--profile full] [--only PHASE]

Cells the current app is known to fail are listed in :data:`KNOWN_VIOLATIONS` with the evidence;
the pytest campaign asserts that they still fail (so a fix shows up) and that every other cell
passes. They print as failing, marked "(known)"; the command exits 1 unless exactly the known
cells failed and nothing was left running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)

from activities import names
from devhost.durable_host import (
    TERMINAL,
    ActivityFault,
    CrashWhen,
    DurableTestHost,
    indexed_functions,
)
from devhost.http_front import HttpFront
from emulator import Emulator, EmulatorConfig, parse_scenario
from emulator.call import Call
from emulator.config import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET
from switchboard.connection import REST_TIMEOUT_SECONDS, close_connection
from switchboard.settings import get_settings
from tests.blueprints.calls import SLOTS_ENTITY, held_slots
from tests.campaigns.conftest import campaign_profile

logger = logging.getLogger(__name__)

PHASES = ("ringing", "accept", "greeting", "mid call", "tool call", "transfer", "goodbye")
FAULTS = (
    "429",
    "500",
    "timeout",
    "connection reset",
    "WebSocket drop",
    "caller hang-up",
    "duplicate webhook",
    "activity crash once",
    "activity crash always",
)
REPETITIONS = {"ci": 1, "dev": 1, "full": 3}

HOLD_SECONDS = REST_TIMEOUT_SECONDS + 0.5
"""A ``timeout`` fault holds the request just past the app's HTTP timeout (not a setting)."""
CELL_TIMEOUT = 50.0
"""A cell whose orchestration is not over by then fails (and its caller hangs up)."""
CALLER_PATIENCE = 20.0
"""How long the scripted caller waits on a silent line after its script ended, then hangs up."""
LEFT_UP_GRACE = 3.0
"""How long the service may take to end a call after its orchestration completed."""
BLOCKED_NUMBER = "+14155550666"
"""On CALLER_BLOCKLIST: the ringing phase's caller, declined while the call rings."""
TRANSFER_TARGET = "tel:+14155550100"

# ------------------------------------------------------------------------------- the phases

GREETED = {"action": "wait_for", "until": "response_done"}
QUESTION = {"action": "say", "text": "What are your opening hours?", "reply": "Nine to five."}
AGAIN = {"action": "say", "text": "And on Saturdays?", "reply": "Closed on Saturdays."}
HANG_UP = {"action": "hangup"}
ASK_TRANSFER = {
    "action": "say",
    "text": "Can I speak to a person, please?",
    "reply": "Of course, let me transfer you.",
    "tool": "transfer_call",
    "arguments": {"department": "sales"},
    "next_reply": "Transferring you now.",
}
SAY_BYE = {
    "action": "say",
    "text": "That's all, thanks. Bye!",
    "reply": "Thanks for calling, goodbye!",
    "tool": "end_call",
    "arguments": {"reason": "caller_done"},
}


@dataclass(frozen=True)
class Phase:
    """A phase: the caller's script around a point where faults go in, and the planned end."""

    name: str
    before: tuple[dict[str, Any], ...]
    """Script steps up to the phase's point (where script-driven faults are inserted)."""
    after: tuple[dict[str, Any], ...]
    planned_end: str
    verb: str | None = None
    """The call-control verb the app uses in this phase, or None: the WebSocket phases."""
    caller: dict[str, Any] = field(default_factory=dict)
    refer: dict[str, Any] = field(default_factory=dict)


PHASE_PLANS = {
    "ringing": Phase(
        "ringing",
        (),
        (),
        "rejected",
        verb="reject",
        caller={"from": f'"Mallory" <sip:{BLOCKED_NUMBER}@carrier.example>;tag=emu1'},
    ),
    "accept": Phase("accept", (), (GREETED, QUESTION, HANG_UP), "caller_hangup", verb="accept"),
    "greeting": Phase("greeting", (), (GREETED, QUESTION, HANG_UP), "caller_hangup"),
    "mid call": Phase(
        "mid call",
        (GREETED, QUESTION),
        (AGAIN, {"action": "wait", "seconds": 0.1}, HANG_UP),
        "caller_hangup",
    ),
    "tool call": Phase(
        "tool call",
        (),
        (GREETED, ASK_TRANSFER, {"action": "wait_for", "until": "refer"}),
        "transferred",
    ),
    "transfer": Phase(
        "transfer",
        (
            {"action": "wait_for", "until": "connected"},
            GREETED,
            ASK_TRANSFER,
            {"action": "wait_for", "until": "refer"},
        ),
        (),
        "transferred",
        verb="refer",
        refer={"delay_seconds": 1.0},
    ),
    "goodbye": Phase(
        "goodbye",
        (),
        (GREETED, SAY_BYE, {"action": "wait_for", "until": "tool_output"}),
        "agent_end_call",
        verb="hangup",
    ),
}

# ---------------------------------------------------------------------------- the cells


@dataclass(frozen=True)
class Crash:
    """An activity crash to arm for the cell's call."""

    activity: str
    times: int | None
    when: str
    """``before``, ``after``, or ``during:<trip>`` with a trip from :data:`TRIPS`."""


TRIPS: dict[str, Callable[[Call], bool]] = {
    "mid-call": lambda call: call.counters.response_done >= 2,
    "tool-call": lambda call: bool(call.tool_calls),
}
"""Points in the emulated call at which a ``during`` crash cancels the running activity."""


@dataclass(frozen=True)
class Cell:
    """One fault in one phase: the scenario to place, the crash to arm, what must happen."""

    fault: str
    phase: str
    what: str
    scenario: dict[str, Any]
    end_reasons: frozenset[str]
    crash: Crash | None = None
    retried_trigger: tuple[str, int] | None = None
    """(trigger, n): the app must have sent at least n requests on the faulted trigger."""
    once_verb: str | None = None
    """This verb must have been carried out (answered 200) exactly once."""
    converses: bool = True
    """The caller's whole script must have run (the conversation went on)."""
    hung_up: bool = False
    """An accepted call must have been ended by the app's hang-up."""
    inherent: str | None = None
    """What the cell cannot check by construction, printed as a footnote."""


@dataclass(frozen=True)
class NotApplicable:
    """A fault that cannot happen in a phase, and why."""

    fault: str
    phase: str
    reason: str


def _scenario(
    plan: Phase,
    *,
    faults: tuple[dict[str, Any], ...] = (),
    at_point: tuple[dict[str, Any], ...] = (),
    webhook: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "description": f"fault campaign: {plan.name}",
        "steps": [*plan.before, *at_point, *plan.after],
        "faults": list(faults),
    }
    if plan.caller:
        data["caller"] = plan.caller
    if plan.refer:
        data["refer"] = plan.refer
    if webhook:
        data["webhook"] = webhook
    return data


def _http_fault(fault: str) -> dict[str, Any]:
    faults: dict[str, dict[str, Any]] = {
        "429": {"action": "status", "status": 429, "retry_after_seconds": 0.1},
        "500": {"action": "status", "status": 500},
        "timeout": {"action": "timeout", "seconds": HOLD_SECONDS},
        "connection reset": {"action": "reset"},
    }
    return faults[fault]


def _http_cell(fault: str, plan: Phase) -> Cell:
    """429/500/timeout/reset on the request the app makes in this phase."""
    injected = _http_fault(fault)
    # aiohttp retries a reset GET once by itself: two resets reach the app's reconnect code.
    socket_times = 2 if fault == "connection reset" else 1
    what = {"429": "answered 429", "500": "answered 500", "timeout": f"held {HOLD_SECONDS}s"}.get(
        fault, "connection closed unanswered"
    )
    if plan.verb is not None:
        return Cell(
            fault,
            plan.name,
            f"{plan.verb} {what}",
            _scenario(plan, faults=({"on": plan.verb, **injected},)),
            frozenset({plan.planned_end}),
            # A REFER that got no answer is not sent again blindly (the caller would be
            # transferred twice): the transfer check decides, and only then is it re-sent.
            retried_trigger=None if (plan.verb, fault) == ("refer", "timeout") else (plan.verb, 2),
            once_verb=plan.verb,
        )
    if plan.name == "greeting":
        faults: tuple[dict[str, Any], ...] = ({"on": "connect", "times": socket_times, **injected},)
        at_point: tuple[dict[str, Any], ...] = ()
        where = "first WebSocket handshake"
        need = socket_times + 1
    else:
        skip = {"skip": 1, "times": socket_times}
        if plan.name == "mid call":
            at_point = ({"action": "drop_sockets"},)
            faults = ({"on": "connect", **skip, **injected},)
            where = "socket dropped mid call, reattach handshake"
        else:  # tool call
            at_point = ()
            faults = (
                {"on": "conversation.item.create", "action": "drop_sockets"},
                {"on": "connect", **skip, **injected},
            )
            where = "socket dropped at the tool output, reattach handshake"
        need = 1 + socket_times + 1
    return Cell(
        fault,
        plan.name,
        f"{where} {what}",
        _scenario(plan, faults=faults, at_point=at_point),
        frozenset({plan.planned_end}),
        retried_trigger=("connect", need),
    )


def _drop_cell(plan: Phase) -> Cell | NotApplicable:
    reason = {
        "ringing": "no WebSocket exists while the call rings (none before accept)",
        "accept": "no WebSocket exists until accept returns; a drop right after is 'greeting'",
    }.get(plan.name)
    if reason is not None:
        return NotApplicable("WebSocket drop", plan.name, reason)
    faults: tuple[dict[str, Any], ...] = ()
    at_point: tuple[dict[str, Any], ...] = ()
    if plan.name == "greeting":
        faults, what = ({"on": "response.create", "action": "drop_sockets"},), "on the greeting"
    elif plan.name == "mid call":
        at_point, what = ({"action": "drop_sockets"},), "between two turns"
    elif plan.name == "tool call":
        faults = ({"on": "conversation.item.create", "action": "drop_sockets"},)
        what = "as the app sends the tool output"
    elif plan.name == "transfer":
        at_point = ({"action": "wait_for", "until": "connected"}, {"action": "drop_sockets"})
        what = "while the app watches the transferred leg"
    else:  # goodbye
        faults = ({"on": "response.create", "skip": 1, "action": "drop_sockets"},)
        what = "as the app asks for the goodbye"
    return Cell(
        "WebSocket drop",
        plan.name,
        f"socket dropped {what}",
        _scenario(plan, faults=faults, at_point=at_point),
        frozenset({plan.planned_end}),
    )


def _hangup_cell(plan: Phase) -> Cell:
    faults: tuple[dict[str, Any], ...] = ()
    script = plan
    if plan.name == "goodbye":
        faults = ({"on": "response.create", "skip": 1, "action": "caller_hangup"},)
        what = "as the agent is asked for its goodbye"
    elif plan.verb is not None:
        faults, what = ({"on": plan.verb, "action": "caller_hangup"},), f"as {plan.verb} arrives"
    elif plan.name == "greeting":
        faults = ({"on": "response.create", "action": "caller_hangup"},)
        what = "as the greeting is asked for"
    elif plan.name == "tool call":
        faults = ({"on": "conversation.item.create", "action": "caller_hangup"},)
        what = "as the app answers the tool call"
    else:  # mid call: right after the agent's answer, instead of asking again
        script = Phase(plan.name, plan.before, (HANG_UP,), plan.planned_end)
        what = "right after the agent's answer"
    return Cell(
        "caller hang-up",
        plan.name,
        f"caller hangs up {what}",
        _scenario(script, faults=faults),
        frozenset({"caller_hangup", "caller_gone"}),
        converses=False,
    )


def _duplicate_cell(plan: Phase) -> Cell:
    faults: tuple[dict[str, Any], ...] = ()
    at_point: tuple[dict[str, Any], ...] = ()
    webhook = None
    trigger = {
        "accept": "accept",
        "greeting": "connect",
        "tool call": "conversation.item.create",
        "transfer": "refer",
        "goodbye": "hangup",
    }.get(plan.name)
    if plan.name == "ringing":
        webhook, what = {"copies": 3, "concurrent": 3}, "3 copies at once while ringing"
    elif plan.name == "mid call":
        at_point, what = ({"action": "redeliver_webhook"},), "one more copy between two turns"
    else:
        assert trigger is not None
        faults = ({"on": trigger, "action": "redeliver_webhook"},)
        what = f"one more copy as {trigger} arrives"
    return Cell(
        "duplicate webhook",
        plan.name,
        what,
        _scenario(plan, faults=faults, at_point=at_point, webhook=webhook),
        frozenset({plan.planned_end}),
        once_verb=plan.verb,
    )


CRASH_ONCE = {
    "ringing": Crash(names.REJECT_CALL, 1, "before"),
    "accept": Crash(names.ACCEPT_CALL, 1, "after"),
    "greeting": Crash(names.MONITOR_CALL, 1, "before"),
    "mid call": Crash(names.MONITOR_CALL, 1, "during:mid-call"),
    "tool call": Crash(names.MONITOR_CALL, 1, "after"),
    "transfer": Crash(names.REFER_CALL, 1, "after"),
    "goodbye": Crash(names.HANGUP_CALL, 1, "after"),
}
"""The phase's activity crashes once: before it runs, after it ran, or while it runs."""
CRASH_ALWAYS = {
    "ringing": Crash(names.REJECT_CALL, None, "before"),
    "accept": Crash(names.ACCEPT_CALL, None, "before"),
    "greeting": Crash(names.MONITOR_CALL, None, "before"),
    "mid call": Crash(names.MONITOR_CALL, None, "during:mid-call"),
    "tool call": Crash(names.MONITOR_CALL, None, "during:tool-call"),
    "transfer": Crash(names.REFER_CALL, None, "before"),
    "goodbye": Crash(names.HANGUP_CALL, None, "before"),
}
"""The phase's activity crashes every time from that point on: the failure path must run."""


def _crash_cell(plan: Phase, *, always: bool) -> Cell:
    crash = (CRASH_ALWAYS if always else CRASH_ONCE)[plan.name]
    when = crash.when.replace("during:", "during the ")
    what = f"{crash.activity} crashes {'every time' if always else 'once'}, {when}"
    if not always:
        scenario = _scenario(plan)
        if plan.name == "mid call":  # the caller goes on once the retried monitor is back
            connected = {"action": "wait_for", "until": "connected"}
            first = Phase(plan.name, (connected, *plan.before), plan.after, plan.planned_end)
            scenario = _scenario(first, at_point=(connected,))
        return Cell(
            "activity crash once",
            plan.name,
            what,
            scenario,
            frozenset({plan.planned_end}),
            crash=crash,
            once_verb=plan.verb,
        )
    inherent = {
        names.HANGUP_CALL: "hangup_call is what crashes, so the app cannot hang up: checked that "
        "the record lists the failed hang-up instead",
        names.REJECT_CALL: "reject_call is what crashes, so the app cannot refuse the call: "
        "checked that the record lists the failed refusal instead (the service's ring timeout "
        "ends the call)",
    }.get(crash.activity)
    return Cell(
        "activity crash always",
        plan.name,
        what,
        _scenario(plan),
        frozenset({f"error:{crash.activity}"}),
        crash=crash,
        converses=False,
        hung_up=inherent is None,
        inherent=inherent,
    )


def build_cells() -> list[Cell | NotApplicable]:
    """Every cell of the matrix, faults x phases."""
    cells: list[Cell | NotApplicable] = []
    for fault in FAULTS:
        for phase in PHASES:
            plan = PHASE_PLANS[phase]
            if fault in ("429", "500", "timeout", "connection reset"):
                cells.append(_http_cell(fault, plan))
            elif fault == "WebSocket drop":
                cells.append(_drop_cell(plan))
            elif fault == "caller hang-up":
                cells.append(_hangup_cell(plan))
            elif fault == "duplicate webhook":
                cells.append(_duplicate_cell(plan))
            else:
                cells.append(_crash_cell(plan, always=fault == "activity crash always"))
    return cells


KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    ("activity crash once", "transfer"): (
        "a refer_call that REFERred and then failed is retried, gets 404 (the caller is gone, "
        "transferred), and the call is recorded as call_gone / caller_hangup"
    ),
}
"""(fault, phase) → what the current app gets wrong there (evidence in the printed matrix)."""

# ---------------------------------------------------------------------------- the checks


@dataclass
class Observed:
    """What one call did, on both sides."""

    cell: Cell
    call_id: str
    started: float
    instance_status: str | None = None
    record: dict[str, Any] | None = None
    starts: int = 0
    view: dict[str, Any] = field(default_factory=dict)
    crash: ActivityFault | None = None
    activity_runs: dict[str, int] = field(default_factory=dict)
    slots_held: bool = False
    notes: list[str] = field(default_factory=list)
    """What the campaign had to do (the caller gave up...), as evidence."""
    left_up: str | None = None
    seconds: float = 0.0


def failures(seen: Observed) -> list[str]:
    """Every check the call failed, each with its evidence; empty when the cell passed."""
    problems = invariant_failures(seen) + expectation_failures(seen)
    return problems + [f"({note})" for note in seen.notes] if problems else []


def invariant_failures(seen: Observed) -> list[str]:
    """The invariants every call must keep, whatever the fault."""
    record, view = seen.record or {}, seen.view
    problems: list[str] = []
    if seen.instance_status != Status.Completed.value:
        problems.append(f"orchestration {seen.instance_status or 'never started'}")
    if not record.get("end_reason"):
        problems.append(f"no end_reason in the record: {record or None}")
    if view.get("accept_count", 0) > 1:
        problems.append(f"accepted {view['accept_count']} times")
    if seen.starts != 1:
        problems.append(f"{seen.starts} orchestrations started for the call")
    if seen.slots_held:
        problems.append("a capacity slot is still held for the call")
    return problems


def expectation_failures(seen: Observed) -> list[str]:
    """What this fault in this phase should (or should not) have caused."""
    cell, record, view = seen.cell, seen.record or {}, seen.view
    problems: list[str] = []
    reason = record.get("end_reason")
    if reason is not None and reason not in cell.end_reasons:
        problems.append(f"end_reason {reason!r}, expected {' or '.join(sorted(cell.end_reasons))}")
    if seen.left_up is not None and cell.inherent is None:
        problems.append(seen.left_up)
    unanswered = [
        e["status"] or e["error"]
        for e in view.get("timeline", [])
        if e["kind"] == "webhook" and not 200 <= (e["status"] or 0) < 300
    ]
    if unanswered:
        problems.append(f"webhook deliveries not acknowledged: {unanswered}")
    script = view.get("script", {})
    if cell.converses and script.get("status") != "completed":
        problems.append(f"the conversation did not go on: script {script}")
    if cell.retried_trigger is not None:
        trigger, wanted = cell.retried_trigger
        sent = _requests_on(view, trigger)
        if sent < wanted:
            problems.append(
                f"the app did not try again: {sent} {trigger} request(s), wanted >= {wanted}"
            )
    held = [e for e in view.get("timeline", []) if e["kind"] == "released"]
    if any(e["client_waiting"] for e in held):
        problems.append(
            f"the app did not give up on a request held {HOLD_SECONDS}s: it was still waiting "
            f"when the hold ended ({[e['on'] for e in held if e['client_waiting']]})"
        )
    if cell.once_verb is not None:
        done = [r for r in _verb_requests(view, cell.once_verb) if r["status"] == 200]
        if len(done) != 1:
            statuses = [r["status"] for r in _verb_requests(view, cell.once_verb)]
            problems.append(f"{cell.once_verb} carried out {len(done)} times: {statuses}")
    if cell.crash is not None and cell.crash.times is not None:
        runs = seen.activity_runs.get(cell.crash.activity, 0)
        if seen.crash is None or seen.crash.crashed != 1 or runs < 2:
            crashed = seen.crash.crashed if seen.crash else 0
            problems.append(f"crash not retried: crashed {crashed}, {runs} run(s)")
    if (
        cell.hung_up
        and record.get("accepted_at") is not None
        and not _verb_requests(view, "hangup")
    ):
        problems.append(f"accepted but never hung up: the service ended it as {view.get('reason')}")
    if cell.inherent is not None and not any(
        "leaving after failure" in e for e in record.get("errors", [])
    ):
        problems.append(f"the failed hang-up is not in the record's errors: {record.get('errors')}")
    if cell.phase == "goodbye" and reason == "agent_end_call" and not _goodbye_heard(view):
        problems.append("hung up before any goodbye was heard")
    return problems


def _holds_released(view: dict[str, Any]) -> bool:
    """Every request held by a ``timeout`` fault has been let go (and so recorded)."""
    timeline = view.get("timeline", [])
    held = sum(1 for e in timeline if e["kind"] == "fault" and e.get("action") == "timeout")
    return held == sum(1 for e in timeline if e["kind"] == "released")


def _verb_requests(view: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [
        e
        for e in view.get("timeline", [])
        if e["kind"] == "request" and e["path"].endswith(f"/{verb}")
    ]


def _requests_on(view: dict[str, Any], trigger: str) -> int:
    """Requests the app sent on `trigger` while the call was up (refused, reset or served)."""
    if trigger != "connect":
        return len(_verb_requests(view, trigger))
    live = []
    for entry in view.get("timeline", []):
        if entry["kind"] == "state" and entry["state"] in ("ended", "transferred"):
            break
        live.append(entry)
    refused = [e for e in live if e["kind"] == "request" and e["path"].endswith("/realtime")]
    abandoned = [  # held handshakes the app gave up on: they never open a socket
        e
        for e in view.get("timeline", [])
        if e["kind"] == "released" and e.get("on") == "connect" and not e.get("client_waiting")
    ]
    opened = sum(1 for e in live if e["kind"] == "socket_opened")
    return len(refused) + len(abandoned) + opened


def _goodbye_heard(view: dict[str, Any]) -> bool:
    """A response finished after the end_call tool output and before the app's hang-up."""
    timeline = view.get("timeline", [])
    output = next(
        (
            i
            for i, e in enumerate(timeline)
            if e["kind"] == "event_received" and e.get("type") == "conversation.item.create"
        ),
        None,
    )
    hangup = next(
        (
            i
            for i, e in enumerate(timeline)
            if e["kind"] == "request" and e["path"].endswith("/hangup")
        ),
        len(timeline),
    )
    return output is not None and any(
        e["kind"] == "event_sent" and e.get("type") == "response.done"
        for e in timeline[output:hangup]
    )


# ---------------------------------------------------------------------------- the runner


@dataclass
class CellResult:
    """One cell over every repetition."""

    cell: Cell | NotApplicable
    runs: list[Observed] = field(default_factory=list)

    @property
    def passed(self) -> int:
        """Repetitions in which every check held."""
        return sum(1 for run in self.runs if not failures(run))


@dataclass
class CampaignResult:
    """The whole matrix, plus what the campaign found after the last call."""

    profile: str
    repetitions: int
    cells: dict[tuple[str, str], CellResult]
    leftovers: list[str]
    seconds: float

    def failing(self) -> dict[tuple[str, str], list[str]]:
        """(fault, phase) → the first failing run's problems, for every cell that failed."""
        found = {}
        for key, result in self.cells.items():
            for run in result.runs:
                problems = failures(run)
                if problems:
                    found[key] = problems
                    break
        return found


@contextlib.contextmanager
def app_settings(values: dict[str, str]) -> Iterator[None]:
    """Set the app's settings in the environment for the campaign, and restore them after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


class Campaign:
    """One emulator, one Durable test host and one HTTP front, shared by every cell."""

    def __init__(self, emulator: Emulator, host: DurableTestHost, webhook_url: str) -> None:
        self.emulator = emulator
        self.host = host
        self.webhook_url = webhook_url

    async def run_cell(self, cell: Cell, repetition: int) -> Observed:
        """Place the cell's call, inject its fault, and collect what both sides saw."""
        scenario = parse_scenario(f"{cell.phase}/{cell.fault}#{repetition}", cell.scenario)
        call_id = await self.emulator.place_call(scenario, self.webhook_url)
        call = self.emulator.calls[call_id]
        seen = Observed(cell, call_id, time.monotonic())
        if cell.crash is not None:
            seen.crash = self.host.fail_activity(
                cell.crash.activity,
                times=cell.crash.times,
                when=self._when(cell.crash, call),
                instance_id=call_id,
            )
        try:
            await self._until_over(seen, call)
        finally:
            await self._collect(seen, call)
        return seen

    def _when(self, crash: Crash, call: Call) -> CrashWhen:
        if crash.when in ("before", "after"):
            return "before" if crash.when == "before" else "after"
        trip = TRIPS[crash.when.removeprefix("during:")]

        async def reached() -> None:
            await call.wait_until(lambda: trip(call), CELL_TIMEOUT)

        return reached

    async def _until_over(self, seen: Observed, call: Call) -> None:
        """Wait for the orchestration to end, playing a caller who gives up on a dead line."""
        ended_script_at: float | None = None
        deadline = seen.started + CELL_TIMEOUT
        while not self._finished(seen.call_id):
            now = time.monotonic()
            if now > deadline:
                seen.notes.append(f"orchestration not over after {CELL_TIMEOUT}s")
                call.caller_hangup()
                return
            if call.live and call.script_status == "failed":
                seen.notes.append(f"caller gave up: {call.script_error}")
                call.caller_hangup()
            elif call.live and call.script_status == "completed" and call.accept_count:
                ended_script_at = ended_script_at or now
                if now - ended_script_at > CALLER_PATIENCE:
                    seen.notes.append(f"caller hung up after {CALLER_PATIENCE}s of nothing")
                    call.caller_hangup()
            elif (
                not call.live and seen.call_id not in self.host.instances and now > seen.started + 5
            ):
                return  # the call is over and its webhook never started anything
            with contextlib.suppress(TimeoutError):
                await self.host.wait_until(lambda: self._finished(seen.call_id), timeout=0.25)

    def _finished(self, call_id: str) -> bool:
        view = self.host.instances.get(call_id)
        return view is not None and view.runtime_status in TERMINAL

    async def _collect(self, seen: Observed, call: Call) -> None:
        try:
            await call.wait_until(lambda: not call.live, LEFT_UP_GRACE)
        except TimeoutError:
            seen.left_up = (
                f"left {call.state.value} at the service {LEFT_UP_GRACE}s after the "
                "orchestration ended"
            )
            call.caller_hangup()
        with contextlib.suppress(TimeoutError):
            await self.emulator.wait_for_end(seen.call_id, timeout=5.0)
        with contextlib.suppress(TimeoutError):  # a held request is recorded when released
            await call.wait_until(lambda: _holds_released(call.view()), HOLD_SECONDS + 1)
        instance = self.host.instances.get(seen.call_id)
        if instance is not None:
            seen.instance_status = instance.runtime_status.value
            if isinstance(instance.output, dict):
                seen.record = instance.output
        seen.starts = self.host.starts.get(seen.call_id, 0)
        seen.view = call.view()
        for name in names.ACTIVITIES:
            seen.activity_runs[name] = sum(
                1 for value in self.host.activity_calls(name) if _call_id_of(value) == seen.call_id
            )
        seen.slots_held = seen.call_id in held_slots(self.host)
        seen.seconds = time.monotonic() - seen.started


def _call_id_of(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if "call" in value and isinstance(value["call"], dict):
        return value["call"].get("call_id")
    call_id = value.get("call_id")
    return call_id if isinstance(call_id, str) else None


def campaign_settings(emulator: Emulator) -> dict[str, str]:
    """The app's settings: the emulator, a transfer target, a blocked number for 'ringing'."""
    return {
        "AZURE_OPENAI_ENDPOINT": emulator.base_url,
        "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
        "AZURE_OPENAI_API_KEY": DEFAULT_API_KEY,
        "OPENAI_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET,
        "TRANSFER_TARGET_URI": TRANSFER_TARGET,
        "TRANSFER_VERIFY_SECONDS": "5",
        "MONITOR_SLICE_SECONDS": "60",
        "CALLER_BLOCKLIST": BLOCKED_NUMBER,
        "MAX_CONCURRENT_CALLS": "500",  # every cell's call is live at once
    }


EMULATOR_CONFIG = EmulatorConfig(
    ring_timeout_seconds=45.0,
    webhook_backoff_seconds=0.05,
    step_timeout_seconds=25.0,
)
"""Rings long enough for a held accept; script steps wait long enough for a held handshake."""


async def run_campaign(
    profile: str | None = None, *, phases: tuple[str, ...] = PHASES
) -> CampaignResult:
    """Run every cell (of `phases`) `REPETITIONS[profile]` times; one repetition at a time."""
    import function_app

    profile = profile or campaign_profile()
    repetitions = REPETITIONS.get(profile, 1)
    cells = [c for c in build_cells() if c.phase in phases]
    results = {(c.fault, c.phase): CellResult(c) for c in cells}
    started = time.monotonic()
    async with Emulator(EMULATOR_CONFIG) as emulator:
        with app_settings(campaign_settings(emulator)):
            functions = indexed_functions(function_app.app)
            try:
                async with DurableTestHost(functions) as host, HttpFront(host, functions) as front:
                    campaign = Campaign(emulator, host, f"{front.base_url}/api/calls/incoming")
                    for repetition in range(repetitions):
                        runnable = [c for c in cells if isinstance(c, Cell)]
                        observed = await asyncio.gather(
                            *(campaign.run_cell(cell, repetition) for cell in runnable)
                        )
                        for seen in observed:
                            results[(seen.cell.fault, seen.cell.phase)].runs.append(seen)
                    with contextlib.suppress(TimeoutError):
                        await host.wait_until(lambda: not host.busy(), timeout=5.0)
                    leftovers = host.busy()
                    if SLOTS_ENTITY not in host.entities:
                        leftovers.append("the call_slots entity was never used")
                    if held := held_slots(host):
                        leftovers.append(f"capacity slots still held: {sorted(held)}")
            finally:
                await close_connection()
    return CampaignResult(
        profile,
        repetitions,
        results,
        leftovers,
        seconds=time.monotonic() - started,
    )


# ---------------------------------------------------------------------------- the matrix


def render(result: CampaignResult) -> str:
    """The matrix faults x phases with pass counts, then footnotes: n/a reasons and failures."""
    width = max(len(f) for f in FAULTS) + 2
    columns = [max(len(p), 13) + 1 for p in PHASES]
    lines = [
        f"Fault matrix ({result.profile} profile, {result.repetitions} run(s) per cell, "
        f"{result.seconds:.1f}s, slowest call {_slowest(result):.1f}s)",
        "fault".ljust(width) + "".join(p.ljust(w) for p, w in zip(PHASES, columns, strict=True)),
    ]
    notes: list[str] = []
    failing = result.failing()
    for fault in FAULTS:
        row = fault.ljust(width)
        for phase, w in zip(PHASES, columns, strict=True):
            cell_result = result.cells.get((fault, phase))
            if cell_result is None:
                text = "-"
            elif isinstance(cell_result.cell, NotApplicable):
                notes.append(f"n/a [{fault} x {phase}]: {cell_result.cell.reason}")
                text = f"n/a{_mark(len(notes))}"
            else:
                text = f"{cell_result.passed}/{len(cell_result.runs)}"
                if (fault, phase) in failing:
                    known = KNOWN_VIOLATIONS.get((fault, phase))
                    known = f" (known: {known})" if known else ""
                    notes.append(
                        f"FAIL [{fault} x {phase}]{known} {cell_result.cell.what}: "
                        + "; ".join(failing[(fault, phase)])
                    )
                    text += f" FAIL{_mark(len(notes))}"
                elif cell_result.cell.inherent:
                    notes.append(f"note [{fault} x {phase}]: {cell_result.cell.inherent}")
                    text += f"{_mark(len(notes))}"
            row += text.ljust(w)
        lines.append(row.rstrip())
    lines.append("")
    lines.extend(f"{_mark(i + 1)} {note}" for i, note in enumerate(notes))
    lines.append(
        "host at the end: "
        + ("nothing running" if not result.leftovers else "; ".join(result.leftovers))
    )
    return "\n".join(lines)


def _slowest(result: CampaignResult) -> float:
    return max((run.seconds for r in result.cells.values() for run in r.runs), default=0.0)


def _mark(n: int) -> str:
    return f"[{n}]"


def main(argv: list[str] | None = None) -> int:
    """Run the campaign and print the matrix; exit 1 unless only known violations failed."""
    parser = argparse.ArgumentParser(prog="python -m tests.campaigns.fault_matrix")
    parser.add_argument("--profile", choices=sorted(REPETITIONS), default=None)
    parser.add_argument("--only", choices=PHASES, action="append", help="phases to run")
    parser.add_argument("--verbose", action="store_true", help="log the app and emulator")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)
    result = asyncio.run(run_campaign(args.profile, phases=tuple(args.only or PHASES)))
    print(render(result))
    failing = set(result.failing())
    return 1 if failing != set(KNOWN_VIOLATIONS) & set(result.cells) or result.leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
