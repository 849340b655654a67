"""function_app.py indexed as the Python worker indexes it: triggers and bindings as designed."""

from __future__ import annotations

import json
from typing import Any

from azure.functions.decorators.function_app import Function

from activities import names


def bindings(functions: list[Function]) -> dict[str, list[dict[str, Any]]]:
    return {
        str(f.get_function_name()): json.loads(f.get_function_json())["bindings"] for f in functions
    }


def http_trigger(binding_list: list[dict[str, Any]]) -> dict[str, Any]:
    return next(b for b in binding_list if b["type"] == "httpTrigger")


def test_http_routes_methods_and_auth_levels(functions: list[Function]) -> None:
    found = {
        name: (http_trigger(b)["route"], http_trigger(b)["methods"], http_trigger(b)["authLevel"])
        for name, b in bindings(functions).items()
        if any(x["type"] == "httpTrigger" for x in b)
    }
    assert found == {
        "incoming_call": ("calls/incoming", ["POST"], "ANONYMOUS"),
        "get_call": ("calls/{call_id}", ["GET"], "FUNCTION"),
        "list_calls": ("calls", ["GET"], "FUNCTION"),
        "transfer_live_call": ("calls/{call_id}/transfer", ["POST"], "FUNCTION"),
        "hang_up_live_call": ("calls/{call_id}/hangup", ["POST"], "FUNCTION"),
        "console_page": ("console", ["GET"], "ANONYMOUS"),
        "console_asset": ("console/{name}", ["GET"], "ANONYMOUS"),
        "agent_departments": ("agent", ["GET"], "FUNCTION"),
        "erase_caller_history": ("callers/{number}/history", ["DELETE"], "FUNCTION"),
    }


def test_every_http_function_gets_a_durable_client(functions: list[Function]) -> None:
    for name, binding_list in bindings(functions).items():
        if any(b["type"] == "httpTrigger" for b in binding_list):
            # list_calls reads the call store; the console's routes need no orchestration
            no_client = {"list_calls", "console_page", "console_asset", "agent_departments"}
            expected = [] if name in no_client else ["client"]
            assert [b["name"] for b in binding_list if b["type"] == "durableClient"] == expected, (
                name
            )


def test_record_purge_runs_daily_at_3_with_a_durable_client_and_not_on_startup(
    functions: list[Function],
) -> None:
    found = bindings(functions)["purge_call_records"]
    assert sorted(b["type"] for b in found) == ["durableClient", "timerTrigger"]
    timer = next(b for b in found if b["type"] == "timerTrigger")
    assert (timer["name"], timer["schedule"], timer["runOnStartup"]) == (
        "timer",
        "0 0 3 * * *",
        False,
    )
    assert [b["name"] for b in found if b["type"] == "durableClient"] == ["client"]
    triggers = {
        name: next(b["schedule"] for b in binding_list if b["type"] == "timerTrigger")
        for name, binding_list in bindings(functions).items()
        if any(b["type"] == "timerTrigger" for b in binding_list)
    }
    assert triggers == {
        "purge_call_records": "0 0 3 * * *",
        "reconcile_call_slots": "0 */5 * * * *",
    }


def test_orchestrator_and_every_activity_it_schedules_are_indexed(
    functions: list[Function],
) -> None:
    by_trigger = {
        name: next(b["type"] for b in binding_list if b["type"].endswith("Trigger"))
        for name, binding_list in bindings(functions).items()
    }
    assert by_trigger[names.CALL_ORCHESTRATOR] == "orchestrationTrigger"
    activities = set(names.ACTIVITIES)
    assert {n for n, t in by_trigger.items() if t == "activityTrigger"} == activities
    for name in activities:
        trigger = next(b for b in bindings(functions)[name] if b["type"] == "activityTrigger")
        assert trigger["name"] == "request"


def test_host_json_sizes_durable_for_calls() -> None:
    with open("host.json", encoding="utf-8") as handle:
        host = json.load(handle)
    durable = host["extensions"]["durableTask"]
    assert host["extensionBundle"]["version"] == "[4.26.0, 5.0.0)"  # orchestration versioning
    assert durable["overridableExistingInstanceStates"] == "NonRunningStates"
    assert durable["hubName"].isalnum()
    assert durable["maxConcurrentActivityFunctions"] >= 100  # one slot per live call
    assert durable["storageProvider"]["maxQueuePollingInterval"] <= "00:00:05"
    assert host["functionTimeout"] == "00:30:00"
