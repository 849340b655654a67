"""The monitor's part in remote MCP tools: record what the service did, answer approvals.

The Realtime API lists and calls the agent's MCP servers itself. Its events name only an item
id, so the items (``conversation.item.added`` / ``.done`` of ``mcp_list_tools``, ``mcp_call``
and ``mcp_approval_request``) tell which server and tool an event is about. Each outcome becomes
a transcript turn of speaker ``tool`` (server, tool, status, the error: never a header). An
approval request is answered by the definition's policy (``approve``), exactly once per request
id, and the model is asked to go on once the response that asked has ended.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from switchboard.mcp import McpServer
from switchboard.untrusted import shown

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300
ITEM_TYPES = frozenset({"mcp_list_tools", "mcp_call", "mcp_approval_request"})
PROGRESS_TYPES = frozenset(
    {
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
    }
)


@dataclass(frozen=True, slots=True)
class McpItem:
    """An MCP item of the conversation, as added (``done=False``) or finished."""

    kind: str
    item_id: str
    server: str
    tool: str
    done: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class McpProgress:
    """``mcp_list_tools.*`` or ``response.mcp_call.*``: a step of an item's life."""

    type: str
    item_id: str


def parse_item(data: dict[str, Any]) -> McpItem | None:
    """An MCP item from ``conversation.item.added`` / ``.done``; ``None`` for other items."""
    item = data["item"]
    kind = item.get("type")
    if kind not in ITEM_TYPES:
        return None
    return McpItem(
        kind=str(kind),
        item_id=str(item["id"]),
        server=_plain(str(item["server_label"])),
        tool=_plain(str(item.get("name") or "")),
        done=data["type"] == "conversation.item.done",
        error=_error(item.get("error")),
    )


def parse_progress(data: dict[str, Any]) -> McpProgress:
    """One of ``PROGRESS_TYPES``."""
    return McpProgress(str(data["type"]), str(data["item_id"]))


def _error(error: object) -> str | None:
    if not isinstance(error, dict):
        return None
    words = [str(error.get(key)) for key in ("type", "code", "message") if error.get(key)]
    return _plain(" ".join(words) or "error", MAX_ERROR_CHARS)


def _plain(text: str, limit: int = 64) -> str:
    """Text from the service (or the MCP server behind it) fit for the record: one bounded line."""
    line = "".join(c if c.isprintable() else " " for c in text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def answer_id(request_id: str) -> str:
    """The answer's item id, derived from the request's: a repeat would be the same item."""
    return "appr_" + hashlib.sha256(request_id.encode()).hexdigest()[:24]


Send = Callable[[dict[str, Any]], Awaitable[None]]


class McpWatcher:
    """Follows one slice's MCP items.

    ``may_act`` is awaited before anything is sent (it raises once a newer slice holds the
    call); ``record(text)`` keeps a transcript turn of speaker ``tool``.
    """

    def __init__(
        self,
        call_id: str,
        servers: tuple[McpServer, ...],
        may_act: Callable[[], Awaitable[None]],
        record: Callable[[str], None],
    ) -> None:
        self._call_id = call_id
        self._may_act = may_act
        self._servers: Mapping[str, McpServer] = {s.server_label: s for s in servers}
        self._record = record
        self._items: dict[str, McpItem] = {}
        self._status: dict[str, str] = {}
        self._answered: set[str] = set()
        self._go_on = False

    async def on_item(self, item: McpItem, send: Send) -> None:
        """Keep the item; record a finished call; answer an approval request once."""
        self._items[item.item_id] = item
        if item.kind == "mcp_call" and item.done:
            status = self._status.pop(item.item_id, "completed")
            status = "failed" if item.error else status
            self._turn(item, status + (f": {item.error}" if item.error else ""))
        elif item.kind == "mcp_approval_request" and item.item_id not in self._answered:
            self._answered.add(item.item_id)
            await self._answer(item, send)

    def on_progress(self, event: McpProgress) -> None:
        """Record a tool listing's outcome; note a call's, recorded with its item."""
        kind, _, status = event.type.rpartition(".")
        if kind == "response.mcp_call":
            self._status[event.item_id] = status
            return
        if status == "in_progress":
            return
        item = self._items.get(event.item_id)
        server = item.server if item else "unknown"
        logger.info("call %s: MCP server %s: tools %s", self._call_id, shown(server), status)
        self._record(f"mcp {server}: list tools {status}")

    async def on_response_done(self, send: Send) -> None:
        """After a response that asked for approval, ask the model to go on."""
        if self._go_on:
            self._go_on = False
            await self._may_act()
            await send({"type": "response.create"})

    async def _answer(self, item: McpItem, send: Send) -> None:
        server = self._servers.get(item.server)
        approve = server is not None and server.grants(item.tool)
        response: dict[str, Any] = {
            "type": "mcp_approval_response",
            "id": answer_id(item.item_id),
            "approval_request_id": item.item_id,
            "approve": approve,
        }
        if not approve:
            response["reason"] = "The app's policy does not allow this tool."
        logger.info(
            "call %s: MCP approval of %s.%s: %s",
            self._call_id,
            shown(item.server),
            shown(item.tool),
            "granted" if approve else "declined",
        )
        self._turn(item, "approval " + ("granted" if approve else "declined"))
        await self._may_act()
        await send({"type": "conversation.item.create", "item": response})
        self._go_on = True

    def _turn(self, item: McpItem, outcome: str) -> None:
        self._record(f"mcp {item.server}.{item.tool}: {outcome}")
