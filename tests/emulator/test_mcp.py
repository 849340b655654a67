"""Remote MCP servers in the emulator: listing, calls, failures and approvals, as SDK events."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from emulator import Emulator, ScenarioError, parse_scenario
from emulator.mcp import DECLINED_REPLY
from emulator.model import DEFAULT_SESSION, merge
from emulator.session_rules import session_refusal
from switchboard.agent import Agent
from tests.emulator.emulator_testkit import MCP_TOOL, FakeApp, assert_server_events, sent_events

MCP_EVENTS = (
    "mcp_list_tools.",
    "response.mcp_call",
    "response.mcp_call_arguments.",
)


def _steps(tool: str, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"action": "wait_for", "until": "response_done"},
        {"action": "say", "text": "Do it.", "tool": tool, "reply": "All done.", **extra},
        {"action": "wait", "seconds": 0.2},
        {"action": "hangup"},
    ]


def _mcp_trace(view: dict[str, Any]) -> list[str]:
    """The MCP events and MCP items (``item:<type>:<event>``) the emulator sent, in order."""
    trace = []
    for payload in sent_events(view):
        kind = payload["type"]
        item = payload.get("item") or {}
        if kind.startswith(MCP_EVENTS):
            trace.append(kind)
        elif kind.startswith("conversation.item.") and item.get("type", "").startswith("mcp_"):
            trace.append(f"{item['type']}:{kind.rsplit('.', 1)[1]}")
    return trace


def _items(view: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p["item"] for p in sent_events(view) if p.get("item", {}).get("type") == kind]


async def _run(emu: Emulator, app: FakeApp, steps: list[dict[str, Any]], **top: Any) -> Any:
    app.mcp = True
    scenario = parse_scenario("mcp_test", {"steps": steps, **top})
    call_id = await emu.place_call(scenario, app.url, time_scale=0.01)
    view = await emu.wait_for_end(call_id, timeout=10.0)
    assert view["expectation_errors"] == []
    assert assert_server_events(sent_events(view)) == len(sent_events(view))
    assert [e for e in view["timeline"] if e["kind"] == "warning"] == []
    return view


LISTED = [
    "mcp_list_tools:added",
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "mcp_list_tools:done",
]
CALL = [
    "mcp_call:added",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
]


async def test_a_call_without_approval_lists_then_calls(emu: Emulator, app: FakeApp) -> None:
    view = await _run(emu, app, _steps("mcp:orders:order_status", arguments={"n": "1"}))
    assert _mcp_trace(view) == [*LISTED, *CALL, "response.mcp_call.completed", "mcp_call:done"]
    done = [p for p in sent_events(view) if p["type"] == "response.done"][1]
    call, message = done["response"]["output"]
    assert (call["type"], call["server_label"], call["name"]) == (
        "mcp_call",
        "orders",
        "order_status",
    )
    assert (call["arguments"], call["output"]) == ('{"n":"1"}', '{"ok":true}')
    assert message["content"][0]["transcript"] == "All done."
    listing = next(p for p in sent_events(view) if p["type"] == "conversation.item.done")
    assert [t["name"] for t in listing["item"]["tools"]] == MCP_TOOL["allowed_tools"]


async def test_approval_then_the_call_in_the_next_response(emu: Emulator, app: FakeApp) -> None:
    view = await _run(emu, app, _steps("mcp:orders:cancel_order"))
    assert _mcp_trace(view) == [
        *LISTED,
        "mcp_approval_request:added",
        "mcp_approval_request:done",
        "mcp_approval_response:added",
        "mcp_approval_response:done",
        *CALL,
        "response.mcp_call.completed",
        "mcp_call:done",
    ]
    request = next(
        p["item"]
        for p in sent_events(view)
        if p.get("item", {}).get("type") == "mcp_approval_request"
    )
    call = _items(view, "mcp_call")[-1]
    assert call["approval_request_id"] == request["id"]
    assert (request["server_label"], request["name"]) == ("orders", "cancel_order")


async def test_a_declined_request_is_never_called(emu: Emulator, app: FakeApp) -> None:
    app.approve = False
    view = await _run(emu, app, _steps("mcp:orders:cancel_order"))
    assert "mcp_call:added" not in _mcp_trace(view)
    said = [p["transcript"] for p in sent_events(view) if p["type"].endswith("transcript.done")]
    assert said[-1] == DECLINED_REPLY


async def test_an_unreachable_server_fails_listing_and_calls(emu: Emulator, app: FakeApp) -> None:
    view = await _run(emu, app, _steps("mcp:orders:order_status"), mcp={"unreachable": ["orders"]})
    trace = _mcp_trace(view)
    assert trace[:4] == [
        "mcp_list_tools:added",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.failed",
        "mcp_list_tools:done",
    ]
    assert trace[4:] == [*CALL, "response.mcp_call.failed", "mcp_call:done"]
    call = _items(view, "mcp_call")[-1]
    assert call["error"] == {"type": "http_error", "code": 503, "message": "Service Unavailable"}
    assert "output" not in call


async def test_a_tool_error_fails_the_call(emu: Emulator, app: FakeApp) -> None:
    view = await _run(emu, app, _steps("mcp:orders:order_status", mcp_error="no such order"))
    call = _items(view, "mcp_call")[-1]
    assert call["error"] == {"type": "tool_execution_error", "message": "no such order"}
    assert "response.mcp_call.failed" in _mcp_trace(view)


async def test_a_tool_the_session_does_not_allow_is_skipped(emu: Emulator, app: FakeApp) -> None:
    app.mcp = True
    scenario = parse_scenario("mcp_test", {"steps": _steps("mcp:orders:delete_everything")})
    call_id = await emu.place_call(scenario, app.url, time_scale=0.01)
    view = await emu.wait_for_end(call_id, timeout=10.0)
    warnings = [e["message"] for e in view["timeline"] if e["kind"] == "warning"]
    assert warnings == [
        "model cannot call undeclared MCP tool 'mcp:orders:delete_everything'; skipped"
    ]
    assert _mcp_trace(view) == LISTED


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"tool": "mcp:orders"}, "steps[0].tool must be mcp:<server_label>:<tool name>"),
        ({"tool": "end_call", "mcp_error": "x"}, "steps[0].mcp_error needs an mcp:<label>:<name>"),
    ],
)
def test_bad_mcp_steps_are_named(step: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario("bad", {"steps": [{"action": "respond", **step}]})


def test_the_agents_mcp_tool_passes_the_accept_validation() -> None:
    agent = Agent.from_definition(
        {
            "mcp_servers": [
                {
                    "server_label": "orders",
                    "server_url": "https://mcp.example.com/orders",
                    "allowed_tools": ["order_status", "cancel_order"],
                    "require_approval": {"always": {"tool_names": ["cancel_order"]}},
                    "approve": ["cancel_order"],
                    "headers": {"Authorization": "setting:MCP_TOKEN"},
                    "description": "Contoso's orders.",
                }
            ]
        }
    )
    agent = replace(agent, mcp_settings={"MCP_TOKEN": "Bearer t0ken"})
    body = agent.session_config("gpt-realtime")
    assert session_refusal(merge(DEFAULT_SESSION, body)) is None
