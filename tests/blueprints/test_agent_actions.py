"""End to end through the app: the agent's HTTP tools and the caller's keypad."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devhost.durable_host import DurableTestHost
from emulator import Emulator, parse_scenario
from switchboard.realtime.keypad import keyed_text
from tests.blueprints.calls import place_and_finish, successful
from tests.conftest import TRANSFER_TARGET, CallEnv


def received(timeline: dict[str, Any], event_type: str) -> list[dict[str, Any]]:
    """The client events of ``event_type`` the emulator got from the app, in order."""
    return [
        entry["payload"]
        for entry in timeline["timeline"]
        if entry["kind"] == "event_received" and entry["type"] == event_type
    ]


def sample_agent(call_env: CallEnv, emulator: Emulator) -> None:
    call_env.set(
        AGENT_DEFINITION="agents/front_desk.toml",
        TRANSFER_TARGETS="sales=tel:+14155550111,support=tel:+14155550112",
        ORDER_STATUS_URL=f"{emulator.base_url}/samples/order-status",
    )


async def test_the_sample_agent_looks_an_order_up_once_and_speaks_the_answer(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    sample_agent(call_env, emulator)
    record, timeline = await place_and_finish(emulator, app_host, app_url, "order_status")

    assert timeline["expectation_errors"] == []
    assert emulator.order_status.requests == [
        {"method": "POST", "query": {}, "body": {"order_number": "A-1042"}, "status": 200}
    ]
    outputs = [
        json.loads(item["item"]["output"])
        for item in received(timeline, "conversation.item.create")
        if item["item"]["type"] == "function_call_output"
    ]
    assert outputs == [
        {
            "order_number": "A-1042",
            "found": True,
            "status": "shipped",
            "carrier": "DHL",
            "expected_delivery": "2026-12-03",
        }
    ]
    [call] = record["tool_calls"]
    assert call["name"] == "order_status"
    assert (call["outcome"], call["http_status"]) == ("ok", 200)
    assert call["arguments_bytes"] == len('{"order_number":"A-1042"}')
    assert 0 <= call["duration_ms"] < 5000
    assert "A-1042" not in json.dumps(record["tool_calls"])  # the record keeps no arguments
    agent_lines = [t["text"] for t in record["turns"] if t["speaker"] == "agent"]
    assert "Your order A-1042 has shipped with DHL and should arrive on December the 3rd." in (
        agent_lines
    )
    assert record["end_reason"] == "caller_hangup"


async def test_arguments_the_schema_refuses_never_reach_the_endpoint(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    sample_agent(call_env, emulator)
    scenario = parse_scenario(
        "bad order number",
        {
            "steps": [
                {"action": "wait_for", "until": "response_done"},
                {
                    "action": "say",
                    "text": "Where is order A 1042?",
                    "reply": "Let me check.",
                    "tool": "order_status",
                    "arguments": {"order_number": "A 1042; DROP TABLE"},
                    "next_reply": "Sorry, that order number doesn't look right.",
                },
                {"action": "wait_for", "until": "tool_output"},
                {"action": "wait_for", "until": "response_done"},
                {"action": "hangup"},
            ]
        },
    )
    record, timeline = await place_and_finish(emulator, app_host, app_url, scenario)

    assert timeline["script"]["status"] == "completed"
    assert emulator.order_status.requests == []
    [output] = [
        json.loads(item["item"]["output"])
        for item in received(timeline, "conversation.item.create")
        if item["item"]["type"] == "function_call_output"
    ]
    assert output["error"]["code"] == "invalid_arguments"
    assert output["error"]["message"].startswith("order_number:")
    assert [(c["name"], c["outcome"], c["http_status"]) for c in record["tool_calls"]] == [
        ("order_status", "invalid_arguments", None)
    ]


async def test_keyed_digits_reach_the_model_as_one_group_and_the_transcript(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    sample_agent(call_env, emulator)
    record, timeline = await place_and_finish(emulator, app_host, app_url, "keypad")

    assert timeline["expectation_errors"] == []
    keyed = [
        item["item"]
        for item in received(timeline, "conversation.item.create")
        if item["item"]["type"] == "message"
    ]
    assert keyed == [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": keyed_text("1234#")}],
        }
    ]
    assert [t["text"] for t in record["turns"] if t["speaker"] == "keypad"] == ["1234#"]


async def test_a_mapped_key_transfers_the_call_once(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    call_env: CallEnv,
    tmp_path: Path,
) -> None:
    agent = tmp_path / "keys.toml"
    agent.write_text('tools = ["transfer_call", "end_call"]\n[keypad]\n"0" = "transfer"\n')
    call_env.set(AGENT_DEFINITION=str(agent))
    scenario = parse_scenario(
        "operator key",
        {
            "expect": {"state": "transferred", "reason": "refer"},
            "steps": [
                {"action": "wait_for", "until": "response_done"},
                {"action": "keypad", "keys": "00", "interval_seconds": 0},
                {"action": "wait_for", "until": "refer"},
            ],
        },
    )
    record, timeline = await place_and_finish(emulator, app_host, app_url, scenario)

    assert timeline["expectation_errors"] == []
    assert [r["body"] for r in successful(timeline, "refer")] == [{"target_uri": TRANSFER_TARGET}]
    assert record["end_reason"] == "transferred"
    assert [t["text"] for t in record["turns"] if t["speaker"] == "keypad"] == ["0"]
    assert not any(
        item["item"]["type"] == "message" for item in received(timeline, "conversation.item.create")
    )
