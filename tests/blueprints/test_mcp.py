"""End to end, remote MCP servers: the accept declares them, the record shows what they did."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from devhost.durable_host import DurableTestHost
from emulator import Emulator, parse_scenario
from emulator.scenario import SCENARIOS
from tests.blueprints.calls import place_and_finish, successful
from tests.conftest import CallEnv

TOKEN = "Bearer mcp-test-token-4242"
AGENT = """
greeting = "Hello, Contoso orders."
tools = ["end_call"]

[[mcp_servers]]
server_label = "orders"
server_url = "http://127.0.0.1:9/mcp"
description = "Contoso's order system."
allowed_tools = ["order_status", "cancel_order"]
require_approval = { never = { tool_names = ["order_status"] } }
approve = [{approve}]
headers = { Authorization = "setting:MCP_TOKEN" }
"""


def _agent(tmp_path: Path, call_env: CallEnv, *, approve: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(AGENT.replace("{approve}", approve), encoding="utf-8")
    call_env.set(AGENT_DEFINITION=str(path), MCP_TOKEN=TOKEN, SILENCE_SECONDS="0")


def _scenario(**changes: Any) -> Any:
    assert "mcp" in SCENARIOS
    data = tomllib.loads(Path("emulator/scenarios/mcp.toml").read_text(encoding="utf-8"))
    return parse_scenario("mcp", {**data, **changes})


def _tool_turns(record: dict[str, Any]) -> list[str]:
    return [turn["text"] for turn in record["turns"] if turn["speaker"] == "tool"]


def _sent_by_app(timeline: dict[str, Any], item_type: str) -> list[dict[str, Any]]:
    return [
        entry["payload"]["item"]
        for entry in timeline["timeline"]
        if entry["kind"] == "event_received"
        and entry["type"] == "conversation.item.create"
        and entry["payload"]["item"]["type"] == item_type
    ]


async def test_an_mcp_tool_needing_approval_is_approved_once_and_recorded(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv, tmp_path: Path
) -> None:
    _agent(tmp_path, call_env, approve='"cancel_order"')
    record, timeline = await place_and_finish(emulator, app_host, app_url, "mcp", time_scale=0.2)

    assert timeline["expectation_errors"] == []
    assert [e for e in timeline["timeline"] if e["kind"] == "warning"] == []
    (accept,) = successful(timeline, "accept")
    (mcp_tool,) = [t for t in accept["body"]["tools"] if t["type"] == "mcp"]
    assert mcp_tool == {
        "type": "mcp",
        "server_label": "orders",
        "server_url": "http://127.0.0.1:9/mcp",
        "server_description": "Contoso's order system.",
        "allowed_tools": ["order_status", "cancel_order"],
        "require_approval": {"never": {"tool_names": ["order_status"]}},
        "headers": {"Authorization": TOKEN},
    }
    (answer,) = _sent_by_app(timeline, "mcp_approval_response")
    (request,) = [
        e["payload"]["item"]
        for e in timeline["timeline"]
        if e["kind"] == "event_sent"
        and e["type"] == "conversation.item.done"
        and e["payload"]["item"]["type"] == "mcp_approval_request"
    ]
    assert (answer["approval_request_id"], answer["approve"]) == (request["id"], True)
    assert _tool_turns(record) == [
        "mcp orders: list tools completed",
        "mcp orders.order_status: completed",
        "mcp orders.cancel_order: approval granted",
        "mcp orders.cancel_order: completed",
    ]
    assert record["end_reason"] == "caller_hangup"
    assert TOKEN not in json.dumps(record)


async def test_a_tool_the_policy_does_not_approve_is_declined_and_never_runs(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv, tmp_path: Path
) -> None:
    _agent(tmp_path, call_env, approve="")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "mcp", time_scale=0.2)

    (answer,) = _sent_by_app(timeline, "mcp_approval_response")
    assert answer["approve"] is False
    assert _tool_turns(record) == [
        "mcp orders: list tools completed",
        "mcp orders.order_status: completed",
        "mcp orders.cancel_order: approval declined",
    ]


async def test_an_unreachable_server_is_recorded_as_failed(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv, tmp_path: Path
) -> None:
    _agent(tmp_path, call_env, approve='"cancel_order"')
    scenario = _scenario(mcp={"unreachable": ["orders"]})
    record, _ = await place_and_finish(emulator, app_host, app_url, scenario, time_scale=0.2)

    assert _tool_turns(record)[:2] == [
        "mcp orders: list tools failed",
        "mcp orders.order_status: failed: http_error 503 Service Unavailable",
    ]
