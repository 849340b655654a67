"""One call that acts every way the agent can: keypad digits, an HTTP tool, an MCP tool."""

from __future__ import annotations

from pathlib import Path

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard.setting_values import APP_ROOT
from tests.blueprints.calls import place_and_finish
from tests.conftest import CallEnv

MCP_SERVER = """
[[mcp_servers]]
server_label = "orders"
server_url = "http://127.0.0.1:9/mcp"
allowed_tools = ["order_status", "cancel_order"]
require_approval = "always"
approve = ["cancel_order"]
headers = { Authorization = "setting:MCP_TOKEN" }
"""


async def test_one_call_keys_digits_calls_an_http_tool_and_an_mcp_tool(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv, tmp_path: Path
) -> None:
    sample = (APP_ROOT / "agents" / "front_desk.toml").read_text(encoding="utf-8")
    agent = tmp_path / "front_desk.toml"
    agent.write_text(sample + MCP_SERVER, encoding="utf-8")
    call_env.set(
        AGENT_DEFINITION=str(agent),
        TRANSFER_TARGETS="sales=tel:+14155550111,support=tel:+14155550112",
        ORDER_STATUS_URL=f"{emulator.base_url}/samples/order-status",
        MCP_TOKEN="Bearer mcp-test-token",
        SILENCE_SECONDS="0",
    )
    record, timeline = await place_and_finish(
        emulator, app_host, app_url, "front_desk_actions", time_scale=0.2
    )
    assert timeline["expectation_errors"] == []
    assert record["end_reason"] == "caller_hangup"
    texts = [turn["text"] for turn in record["turns"]]
    keyed = [turn["text"] for turn in record["turns"] if turn["speaker"] == "keypad"]
    assert keyed == ["1042#"]
    (http_call,) = record["tool_calls"]
    assert (http_call["name"], http_call["outcome"]) == ("order_status", "ok")
    mcp = [turn["text"] for turn in record["turns"] if turn["speaker"] == "tool"]
    assert "mcp orders.cancel_order: approval granted" in mcp
    assert any(text.startswith("mcp orders.cancel_order: completed") for text in mcp)
    # In the order they happened: the tools listed at attach, the digits, then the MCP call.
    assert texts.index("mcp orders: list tools completed") < texts.index("1042#")
    assert texts.index("1042#") < texts.index("mcp orders.cancel_order: approval granted")
    assert "mcp-test-token" not in str(record)
