"""The command inbox against the real SDK replay: each event taken once, earliest first.

Driven with hand-built histories through ``df.Orchestrator`` (the SDK's own entry point), so the
assumption the inbox rests on is checked against the installed SDK: an event is handed to the
open wait registered last, and an event raised while no wait is open is handed again to every
wait opened later.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.history import HistoryEventType as H

from blueprints.flow.commands import CommandInbox
from devhost.durable_history import event, execution_started, format_time, utc_now

START = utc_now()


def command(command_id: str) -> dict[str, Any]:
    payload = {"id": command_id, "action": "hangup", "target_uri": None, "handoff": True}
    return event(H.EVENT_RAISED, Name="operator", Input=json.dumps(json.dumps(payload)))


def timer(timer_id: int, fired: bool) -> dict[str, Any]:
    at = format_time(START + timedelta(hours=timer_id + 1))
    kind = H.TIMER_FIRED if fired else H.TIMER_CREATED
    if fired:
        return event(kind, TimerId=timer_id, FireAt=at)
    return event(kind, timer_id, FireAt=at)


def run(orchestrator: Any, history: list[dict[str, Any]]) -> dict[str, Any]:
    started = [event(H.ORCHESTRATOR_STARTED), execution_started("o", None, "i", "e")]
    context = {
        "history": [{**e, "IsPlayed": False} for e in started + history],
        "input": None,
        "instanceId": "i",
        "isReplaying": False,
        "parentInstanceId": None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
    }
    state: dict[str, Any] = json.loads(df.Orchestrator.create(orchestrator)(json.dumps(context)))
    return state


def test_commands_that_arrive_while_a_step_does_not_wait_are_taken_earliest_first() -> None:
    def orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
        inbox = CommandInbox(context)
        first = context.create_timer(START + timedelta(hours=1))
        yield context.task_any([first, *inbox.waits()])  # opens every wait
        yield context.create_timer(START + timedelta(hours=2))  # a step without the waits
        taken = [inbox.take(), inbox.take()]
        return [command.id if command else None for command in taken] + [inbox.has_command()]

    history = [timer(0, False), timer(0, True), timer(1, False), command("a"), command("b")]
    state = run(orchestrator, [*history, timer(1, True)])
    assert state["output"] == ["a", "b", False]


def test_an_event_raised_before_any_wait_is_open_is_handed_to_every_later_wait() -> None:
    """The SDK behaviour the inbox exists for: why all waits open with the first step."""

    def orchestrator(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
        yield context.create_timer(START + timedelta(hours=1))  # no wait open: "a" is parked
        got = []
        for _ in range(3):
            got.append((yield context.wait_for_external_event("operator")))
        return got

    state = run(orchestrator, [timer(0, False), command("a"), timer(0, True)])
    assert [json.loads(g)["id"] for g in state["output"]] == ["a", "a", "a"]
