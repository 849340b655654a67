"""Remote MCP servers in the emulated Realtime API: tool listing, calls and approvals.

The service calls an MCP server itself; the emulator scripts what it would see. When the first
socket attaches to a call whose session declares ``mcp`` tools, each server's tools are listed
(``mcp_list_tools.in_progress`` → ``.completed``, or ``.failed`` for a server the scenario's
``[mcp] unreachable`` names). A scripted ``tool = "mcp:<label>:<name>"`` plays an ``mcp_call``
(arguments delta/done, ``response.mcp_call.in_progress`` → ``.completed`` / ``.failed``) before
the spoken reply, or, when the session's ``require_approval`` asks for it, an
``mcp_approval_request`` item: the call then waits for the client's ``mcp_approval_response``,
and the client's next ``response.create`` plays the call (approved) or a refusal (declined).
Events are plain dicts; the tests validate them against the SDK's models.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import replace
from typing import Any

from .call import Call
from .events import JsonDict, event, new_id
from .scenario import ModelTurn, ToolCall

PREFIX = "mcp:"
DECLINED_REPLY = "I'm sorry, I'm not able to do that for you right now."
UNREACHABLE = {"type": "http_error", "code": 503, "message": "Service Unavailable"}

ItemEvents = Callable[[str, int], Generator[JsonDict, None, JsonDict]]
"""Plays one output item of a response (given its id and index); returns the finished item."""


def target(tool: ToolCall) -> tuple[str, str] | None:
    """``(server_label, tool name)`` of an ``mcp:<label>:<name>`` tool, else None."""
    if not tool.name.startswith(PREFIX):
        return None
    label, _, name = tool.name.removeprefix(PREFIX).partition(":")
    return label, name


def servers(session: Mapping[str, Any]) -> dict[str, JsonDict]:
    """The session's MCP tools by server label."""
    tools = session.get("tools") or []
    return {t["server_label"]: t for t in tools if isinstance(t, dict) and t.get("type") == "mcp"}


def needs_approval(server: Mapping[str, Any], name: str) -> bool:
    """Whether the server's ``require_approval`` asks before ``name`` runs (default: always)."""
    policy = server.get("require_approval", "always")
    if isinstance(policy, str):
        return policy != "never"
    for kind, answer in (("never", False), ("always", True)):
        names = (policy.get(kind) or {}).get("tool_names") or []
        if name in names:
            return answer
    return True


def listing_events(call: Call, server: Mapping[str, Any]) -> Iterator[JsonDict]:
    """One server's tool listing, as the service reports it after the session starts."""
    label = server["server_label"]
    failed = label in call.scenario.mcp_unreachable
    allowed = server.get("allowed_tools")
    names = allowed if isinstance(allowed, list) else []
    item: JsonDict = {"id": new_id("item_"), "type": "mcp_list_tools", "server_label": label}
    yield event("conversation.item.added", previous_item_id=None, item={**item, "tools": []})
    yield event("mcp_list_tools.in_progress", item_id=item["id"])
    yield event(
        "mcp_list_tools.failed" if failed else "mcp_list_tools.completed", item_id=item["id"]
    )
    tools = [] if failed else [{"name": n, "input_schema": {"type": "object"}} for n in names]
    yield event("conversation.item.done", previous_item_id=None, item={**item, "tools": tools})


async def list_tools_once(call: Call) -> None:
    """List every MCP server's tools, the first time a socket attaches."""
    if call.mcp_listed or not call.session:
        return
    call.mcp_listed = True
    for server in servers(call.session).values():
        for payload in listing_events(call, server):
            await call.broadcast(payload)


def item_events(
    call: Call, session: Mapping[str, Any], turn: ModelTurn
) -> tuple[ItemEvents | None, bool]:
    """How the turn's ``mcp:`` tool plays in this response, and whether it asks first.

    None: the session lacks the tool. Asking for approval, the reply waits for the call.
    """
    tool = turn.tool
    assert tool is not None
    label, name = target(tool) or ("", "")
    server = servers(session).get(label)
    allowed = (server or {}).get("allowed_tools")
    if server is None or (isinstance(allowed, list) and name not in allowed):
        message = f"model cannot call undeclared MCP tool {tool.name!r}; skipped"
        call.record("warning", message=message)
        return None, False
    if tool.approval_request_id is None and needs_approval(server, name):
        return (lambda rid, index: _approval_request(call, rid, index, turn, label, name)), True
    return (lambda rid, index: _call(rid, index, tool, label, name, _error(call, tool))), False


def _error(call: Call, tool: ToolCall) -> JsonDict | None:
    label = (target(tool) or ("", ""))[0]
    if tool.mcp_error is not None:
        return {"type": "tool_execution_error", "message": tool.mcp_error}
    return dict(UNREACHABLE) if label in call.scenario.mcp_unreachable else None


def _approval_request(
    call: Call, response_id: str, index: int, turn: ModelTurn, label: str, name: str
) -> Generator[JsonDict, None, JsonDict]:
    assert turn.tool is not None
    tool = turn.tool
    item: JsonDict = {
        "id": new_id("mcpr_"),
        "type": "mcp_approval_request",
        "server_label": label,
        "name": name,
        "arguments": tool.arguments_json,
    }
    call.mcp_requests[item["id"]] = turn
    yield from _added(response_id, index, item)
    yield from _done(response_id, index, item)
    return item


def _call(
    response_id: str, index: int, tool: ToolCall, label: str, name: str, error: JsonDict | None
) -> Generator[JsonDict, None, JsonDict]:
    arguments = tool.arguments_json
    item: JsonDict = {
        "id": new_id("mcp_"),
        "type": "mcp_call",
        "server_label": label,
        "name": name,
        "arguments": "",
        "approval_request_id": tool.approval_request_id,
    }
    where = {"item_id": item["id"], "output_index": index}
    yield from _added(response_id, index, item)
    half = len(arguments) // 2
    for delta in (arguments[:half], arguments[half:]):
        yield event(
            "response.mcp_call_arguments.delta", **where, response_id=response_id, delta=delta
        )
    yield event(
        "response.mcp_call_arguments.done", **where, response_id=response_id, arguments=arguments
    )
    yield event("response.mcp_call.in_progress", **where)
    yield event("response.mcp_call.failed" if error else "response.mcp_call.completed", **where)
    done: JsonDict = {**item, "arguments": arguments}
    if error is None:
        done["output"] = tool.mcp_output
    else:
        done["error"] = error
    yield from _done(response_id, index, done)
    return done


def _added(response_id: str, index: int, item: JsonDict) -> Iterator[JsonDict]:
    yield event(
        "response.output_item.added", response_id=response_id, output_index=index, item=item
    )
    yield event("conversation.item.added", previous_item_id=None, item=item)


def _done(response_id: str, index: int, item: JsonDict) -> Iterator[JsonDict]:
    where = {"response_id": response_id, "output_index": index}
    yield event("response.output_item.done", **where, item=item)
    yield event("conversation.item.done", previous_item_id=None, item=item)


def answered(call: Call, item: Mapping[str, Any]) -> None:
    """The client answered an approval request: the next response plays the call, or declines.

    An answer to an unknown or already answered request is recorded as a warning only.
    """
    request_id = item["approval_request_id"]
    asked = call.mcp_requests.pop(request_id, None)
    call.counters.approval += 1
    if asked is None or asked.tool is None:
        message = f"mcp_approval_response for an unknown or answered request {request_id!r}"
        call.record("warning", message=message)
        return
    if item["approve"]:
        tool = replace(asked.tool, approval_request_id=request_id)
        call.next_turns.appendleft(ModelTurn(reply=asked.reply, tool=tool))
    else:
        call.next_turns.appendleft(ModelTurn(reply=DECLINED_REPLY))
