"""A deploy during a live call: the test host takes over an instance from a history written by
an older deployment of the app, and runs it on with the code it has now.

What the Durable extension does after a deploy: the new worker replays the stored history with
the new orchestrator code; the replay must schedule the same activities, timers and entity
operations in the same order (DTFx checks those against history; waits for external events
leave no history and are not checked); work that was scheduled and not finished is still in the
queues and runs on the new worker. Timestamps are moved to the present, so the call's timers
(ring limit, deadlines) keep the distances they had.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.history import HistoryEventType as _H
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)

from devhost.durable_history import Event, format_time, parse_time, utc_now
from devhost.durable_host import DurableTestHost, InstanceView, _Retry, _Runtime

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|\+00:00)")
_SCHEDULING = {
    ActionType.CALL_ACTIVITY: "activity",
    ActionType.CALL_ACTIVITY_WITH_RETRY: "activity",
    ActionType.CREATE_TIMER: "timer",
    ActionType.CALL_ENTITY: "entity",
    ActionType.SIGNAL_ENTITY: "entity",
}


def moved_to_now(text: str, replacements: dict[str, str]) -> str:
    """``text`` with its ISO timestamps shifted so the earliest is now, and ids replaced."""
    stamps = [parse_time(found.replace("Z", "+00:00")) for found in _TIMESTAMP.findall(text)]
    shift = utc_now() - min(stamps) if stamps else timedelta()

    def move(found: re.Match[str]) -> str:
        moved: datetime = parse_time(found.group().replace("Z", "+00:00")) + shift
        zulu = found.group().endswith("Z")
        return format_time(moved) if zulu else moved.isoformat()

    text = _TIMESTAMP.sub(move, text)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def adopt(host: DurableTestHost, instance_id: str, wire_input: Any, history: list[Event]) -> None:
    """Run ``instance_id`` on from ``history`` (its input ``wire_input``) with the host's code.

    A replay that schedules differently from the history fails the instance and is reported in
    ``host.problems``, as the real host reports a non-deterministic orchestration.
    """
    started = next(e for e in history if e["EventType"] == _H.EXECUTION_STARTED)
    name = started["Name"]
    view = InstanceView(instance_id, name, wire_input, history=list(history))
    runtime = _Runtime(view, host._orchestrators[name], fresh=False)
    runtime.execution_id = started["OrchestrationInstance"]["ExecutionId"]
    host.instances[instance_id] = view
    host._runtimes[instance_id] = runtime
    host.starts[instance_id] = host.starts.get(instance_id, 0) + 1
    state, error = host._invoke(runtime, len(history))
    actions = [action for group in state.get("actions", []) for action in group]
    replayed, recorded = _scheduled_by_actions(actions), _scheduled_in_history(history)
    if error is not None or replayed[: len(recorded)] != recorded:
        problem = (
            f"Non-Deterministic workflow detected in {instance_id} after a deploy: the history "
            f"scheduled {recorded}, the new code {replayed} ({error or 'no error'})"
        )
        host.problems.append(problem)
        host._finish(runtime, Status.Failed, problem)
        return
    runtime.recorded = actions
    runtime.next_id = 1 + max((e["EventId"] for e in history if e["EventId"] >= 0), default=-1)
    _resume_pending_work(host, runtime, actions)
    runtime.runner = host._spawn(host._run(runtime))
    host._notify()


def _flattened(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for action in actions:
        if action["actionType"] in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            flat += _flattened(action["compoundActions"])
        else:
            flat.append(action)
    return flat


def _scheduled_by_actions(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What the replay schedules, in order, as DTFx matches it against history."""
    return [
        (_SCHEDULING[a["actionType"]], a.get("functionName") or a.get("operation") or "")
        for a in _flattened(actions)
        if a["actionType"] in _SCHEDULING
    ]


def _scheduled_in_history(history: list[Event]) -> list[tuple[str, str]]:
    scheduled = []
    for entry in history:
        if entry["EventType"] == _H.TASK_SCHEDULED:
            scheduled.append(("activity", entry["Name"]))
        elif entry["EventType"] == _H.TIMER_CREATED:
            scheduled.append(("timer", ""))
        elif entry["EventType"] == _H.EVENT_SENT:
            scheduled.append(("entity", json.loads(entry["Input"])["op"]))
    return scheduled


def _resume_pending_work(
    host: DurableTestHost, runtime: _Runtime, actions: list[dict[str, Any]]
) -> None:
    """Run what the old deployment scheduled and did not see finish (still in its queues)."""
    history = runtime.view.history
    done = {e.get("TaskScheduledId") for e in history if e["EventType"] in _FINISHED}
    fired = {e.get("TimerId") for e in history if e["EventType"] == _H.TIMER_FIRED}
    activities = [a for a in _flattened(actions) if a["actionType"] in _SCHEDULING]
    for entry in history:
        if entry["EventType"] == _H.TASK_SCHEDULED and entry["EventId"] not in done:
            action = next(a for a in activities if a.get("functionName") == entry["Name"])
            options = action.get("retryOptions")
            if options:
                runtime.retries[entry["EventId"]] = _Retry(
                    entry["Name"],
                    entry["Input"],
                    timedelta(milliseconds=options["firstRetryIntervalInMilliseconds"]),
                    options["maxNumberOfAttempts"],
                )
            work = host._run_activity(
                runtime.view.instance_id,
                runtime.execution_id,
                entry["EventId"],
                entry["Name"],
                entry["Input"],
            )
            task = host._spawn(work)
            runtime.activities.add(task)
            task.add_done_callback(runtime.activities.discard)
        elif entry["EventType"] == _H.TIMER_CREATED and entry["EventId"] not in fired:
            timer = host._fire_timer(
                runtime.view.instance_id, runtime.execution_id, entry["EventId"], entry["FireAt"]
            )
            runtime.timers.add(host._spawn(timer))


_FINISHED = (_H.TASK_COMPLETED, _H.TASK_FAILED)
