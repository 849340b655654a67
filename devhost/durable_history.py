"""History events and status payloads in the shapes the Durable extension produces.

The orchestrator SDK reads DTFx history events as JSON objects (PascalCase fields, numeric
``EventType``); the client SDK reads the extension's status payloads. Keeping the shapes here keeps
the engine in ``durable_host`` about behaviour, not field names.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from azure.durable_functions.constants import DATETIME_STRING_FORMAT
from azure.durable_functions.models.history import HistoryEventType

Event = dict[str, Any]
"""One history event, as serialized by the extension (``IsPlayed`` is added per episode)."""


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the host's only clock)."""
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """Format a datetime the way the SDK formats and parses history timestamps."""
    return moment.astimezone(UTC).strftime(DATETIME_STRING_FORMAT)


def parse_time(text: str) -> datetime:
    """Parse a timestamp written by the SDK (``fireAt``) or by this host."""
    return datetime.fromisoformat(text).astimezone(UTC)


def event(kind: HistoryEventType, event_id: int = -1, **fields: Any) -> Event:
    """Build a history event stamped now; ``EventId`` is the task id for scheduling events."""
    return {
        "EventType": int(kind),
        "EventId": event_id,
        "Timestamp": format_time(utc_now()),
        **fields,
    }


def execution_started(
    name: str, input_: Any, instance_id: str, execution_id: str, version: str = ""
) -> Event:
    """Build the ExecutionStarted event; the SDK requires ``Version`` to be present."""
    return event(
        HistoryEventType.EXECUTION_STARTED,
        Name=name,
        Version=version,
        Input=input_,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=None,
    )


def activity_failure(name: str, exc: BaseException, stack: str) -> tuple[str, str]:
    r"""Return TaskFailed ``Reason`` and ``Details`` for an activity that raised ``exc``.

    The Python worker reports ``"<Type>: <message>"``; the extension's TaskActivityShim turns that
    into ``"Activity function '<name>' failed: <Type>: <message>"`` and puts the serialized .NET
    exception in ``Details``. The orchestrator sees ``Exception(f"{Reason} \n {Details}")``.
    """
    message = f"{type(exc).__name__}: {exc}"
    details = {
        "$type": "System.Exception, System.Private.CoreLib",
        "ClassName": "System.Exception",
        "Message": message,
        "StackTraceString": stack,
    }
    return f"Activity function '{name}' failed: {message}", json.dumps(details)


def _event_type_name(value: int) -> str:
    return "".join(part.capitalize() for part in HistoryEventType(value).name.split("_"))


def status_history(
    history: list[Event], *, show_input: bool, show_output: bool
) -> list[dict[str, Any]]:
    """Convert raw history to the ``historyEvents`` list of a status query.

    Mirrors DurableClient.GetDurableOrchestrationStatusAsync: episode markers are dropped,
    TaskScheduled is folded into its TaskCompleted/TaskFailed, event types become names.
    """
    scheduled: dict[int, Event] = {
        e["EventId"]: e for e in history if e["EventType"] == HistoryEventType.TASK_SCHEDULED
    }
    folded = {
        e["TaskScheduledId"]
        for e in history
        if e["EventType"] in (HistoryEventType.TASK_COMPLETED, HistoryEventType.TASK_FAILED)
    }
    out: list[dict[str, Any]] = []
    for raw in history:
        kind = raw["EventType"]
        if kind in (HistoryEventType.ORCHESTRATOR_STARTED, HistoryEventType.ORCHESTRATOR_COMPLETED):
            continue
        if kind == HistoryEventType.TASK_SCHEDULED and raw["EventId"] in folded:
            continue
        item = {k: v for k, v in raw.items() if k not in ("EventId", "IsPlayed")}
        item["EventType"] = _event_type_name(kind)
        if kind in (HistoryEventType.TASK_COMPLETED, HistoryEventType.TASK_FAILED):
            origin = scheduled[item.pop("TaskScheduledId")]
            item["FunctionName"] = origin["Name"]
            item["ScheduledTime"] = origin["Timestamp"]
            item["Input"] = origin.get("Input")
        elif kind == HistoryEventType.EXECUTION_STARTED:
            item["FunctionName"] = item.pop("Name")
            for key in ("OrchestrationInstance", "ParentInstance", "Version"):
                item.pop(key, None)
        elif kind == HistoryEventType.TIMER_FIRED:
            item.pop("TimerId", None)
        if not show_output:
            item.pop("Result", None)
        if not show_input:
            item.pop("Input", None)
        out.append(item)
    return out
