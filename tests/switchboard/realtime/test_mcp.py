"""The monitor's MCP watcher: outcomes into the transcript, approvals answered once by policy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard.agent import Agent
from switchboard.realtime.events import parse_event
from switchboard.realtime.lease import Superseded
from switchboard.realtime.mcp import McpItem, McpProgress, McpWatcher, answer_id

AGENT = Agent.from_definition(
    {
        "mcp_servers": [
            {
                "server_label": "orders",
                "server_url": "https://mcp.example.com/orders",
                "approve": ["cancel_order"],
            }
        ]
    }
)


class Watched:
    def __init__(self, may_act_raises: bool = False) -> None:
        self.turns: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.may_act_raises = may_act_raises
        self.watcher = McpWatcher("rtc_1", AGENT.mcp_servers, self._may_act, self.turns.append)

    async def _may_act(self) -> None:
        if self.may_act_raises:
            raise Superseded

    async def _send(self, payload: dict[str, Any]) -> None:
        self.sent.append(payload)

    async def feed(self, *events: dict[str, Any]) -> None:
        for data in events:
            event = parse_event(json.dumps(data))
            if isinstance(event, McpItem):
                await self.watcher.on_item(event, self._send)
            elif isinstance(event, McpProgress):
                self.watcher.on_progress(event)
            elif data["type"] == "response.done":
                await self.watcher.on_response_done(self._send)


def _item(kind: str, done: bool, **fields: Any) -> dict[str, Any]:
    event = "conversation.item.done" if done else "conversation.item.added"
    return {
        "type": event,
        "event_id": "e",
        "previous_item_id": None,
        "item": {"type": kind, **fields},
    }


def _request(item_id: str, name: str, done: bool) -> dict[str, Any]:
    return _item(
        "mcp_approval_request", done, id=item_id, server_label="orders", name=name, arguments="{}"
    )


async def test_each_approval_request_is_answered_once_then_the_model_goes_on() -> None:
    watched = Watched()
    await watched.feed(
        _request("mcpr_1", "cancel_order", done=False),
        _request("mcpr_1", "cancel_order", done=True),
        _request("mcpr_2", "order_status", done=True),
        {"type": "response.done", "response": {}},
        _request("mcpr_1", "cancel_order", done=True),  # the same request again
        {"type": "response.done", "response": {}},
    )
    answers = [p["item"] for p in watched.sent if p["type"] == "conversation.item.create"]
    assert answers == [
        {
            "type": "mcp_approval_response",
            "id": answer_id("mcpr_1"),
            "approval_request_id": "mcpr_1",
            "approve": True,
        },
        {
            "type": "mcp_approval_response",
            "id": answer_id("mcpr_2"),
            "approval_request_id": "mcpr_2",
            "approve": False,
            "reason": "The app's policy does not allow this tool.",
        },
    ]
    assert [p["type"] for p in watched.sent].count("response.create") == 1
    assert watched.turns == [
        "mcp orders.cancel_order: approval granted",
        "mcp orders.order_status: approval declined",
    ]


async def test_a_request_from_an_unknown_server_is_declined() -> None:
    watched = Watched()
    await watched.feed(
        _item("mcp_approval_request", True, id="r", server_label="evil", name="x", arguments="")
    )
    assert watched.sent[0]["item"]["approve"] is False


async def test_a_slice_that_no_longer_holds_the_call_does_not_answer() -> None:
    watched = Watched(may_act_raises=True)
    with pytest.raises(Superseded):
        await watched.feed(_request("mcpr_1", "cancel_order", done=True))
    assert watched.sent == []


async def test_outcomes_become_tool_turns_with_a_bounded_one_line_error() -> None:
    watched = Watched()
    call = {"id": "mcp_1", "server_label": "orders", "name": "order_status", "arguments": "{}"}
    await watched.feed(
        _item("mcp_list_tools", False, id="l1", server_label="orders", tools=[]),
        {"type": "mcp_list_tools.in_progress", "event_id": "e", "item_id": "l1"},
        {"type": "mcp_list_tools.failed", "event_id": "e", "item_id": "l1"},
        {"type": "mcp_list_tools.completed", "event_id": "e", "item_id": "unknown_item"},
        _item("mcp_call", False, **call),
        {
            "type": "response.mcp_call.in_progress",
            "event_id": "e",
            "item_id": "mcp_1",
            "output_index": 0,
        },
        {
            "type": "response.mcp_call.completed",
            "event_id": "e",
            "item_id": "mcp_1",
            "output_index": 0,
        },
        _item("mcp_call", True, **call, output="{}"),
        _item(
            "mcp_call",
            True,
            **{**call, "id": "mcp_2"},
            error={"type": "tool_execution_error", "message": "bad\r\nline " + "x" * 400},
        ),
    )
    assert watched.turns[:3] == [
        "mcp orders: list tools failed",
        "mcp unknown: list tools completed",
        "mcp orders.order_status: completed",
    ]
    failed = watched.turns[3]
    assert failed.startswith("mcp orders.order_status: failed: tool_execution_error bad  line xx")
    assert "\n" not in failed
    assert len(failed) < 400
