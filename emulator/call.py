"""One emulated call: its state machine, its WebSockets and its timeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import web

from .events import JsonDict, new_id
from .scenario import ModelTurn, Scenario

logger = logging.getLogger(__name__)

TimelineListener = Callable[[str, JsonDict], None]


class CallState(StrEnum):
    """Where the call is; `ended` and `transferred` are final."""

    RINGING = "ringing"
    ACTIVE = "active"
    ENDED = "ended"
    TRANSFERRED = "transferred"


class EndReason(StrEnum):
    """Why a call reached a final state."""

    CALLER_HANGUP = "caller_hangup"
    CALLER_CANCELLED = "caller_cancelled"
    HANGUP = "hangup"
    REJECTED = "rejected"
    RING_TIMEOUT = "ring_timeout"
    REFER = "refer"
    SESSION_LIMIT = "session_limit"
    EMULATOR_SHUTDOWN = "emulator_shutdown"


@dataclass
class Socket:
    """One WebSocket of a call; `transport` lets the emulator drop it without a close frame."""

    socket_id: str
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None


@dataclass
class Counters:
    """Things a scenario can wait for; the script compares them with what it has already seen."""

    accepted: int = 0
    response_done: int = 0
    tool_output: int = 0
    refer: int = 0
    webhook_done: int = 0
    """Set once every webhook copy has been delivered (or has given up)."""
    connected: int = 0
    """WebSockets attached to the call so far."""
    approval: int = 0
    """``mcp_approval_response`` items the client created."""


@dataclass
class Call:
    """Live state of one call. Mutated only on the event loop, so no locks are needed."""

    call_id: str
    scenario: Scenario
    webhook_url: str
    time_scale: float
    listener: TimelineListener | None = None
    state: CallState = CallState.RINGING
    reason: EndReason | None = None
    sip_status: int | None = None
    accept_count: int = 0
    accept_attempts: int = 0
    refer_targets: list[str] = field(default_factory=list)
    session: JsonDict | None = None
    session_id: str = field(default_factory=lambda: new_id("sess_"))
    conversation_id: str = field(default_factory=lambda: new_id("conv_"))
    sockets: dict[str, Socket] = field(default_factory=dict)
    sockets_opened: int = 0
    timeline: list[JsonDict] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    responding: bool = False
    next_turns: deque[ModelTurn] = field(default_factory=deque)
    """Scripted turns waiting for the client's next `response.create`."""
    last_response_id: str | None = None
    tool_calls: dict[str, str] = field(default_factory=dict)
    """Function calls the model made, by `call_id` → tool name."""
    items: dict[str, JsonDict] = field(default_factory=dict)
    """The conversation as the server keeps it: every item added, by id (latest version)."""
    mcp_listed: bool = False
    """The session's MCP servers have had their tools listed (on the first socket)."""
    mcp_requests: dict[str, ModelTurn] = field(default_factory=dict)
    """MCP approval requests not yet answered, by id: the turn that plays once approved."""
    audio_played: bool = False
    """The model has spoken: from then on the session's voice cannot change."""
    input_audio_bytes: int = 0
    """Audio the client appended to the input buffer and has not committed or cleared."""
    caller_gone: bool = False
    """The caller hung up while ringing and the service missed it (see the accept mode
    `accepts_cancelled_calls`): the call can still be answered, and nobody is on the line."""
    script_status: str = "running"
    script_error: str | None = None
    webhook_id: str = field(default_factory=lambda: new_id("wh_"))
    webhook_event_id: str = field(default_factory=lambda: new_id("evt_"))
    webhook_deliveries: int = 0
    webhook_acknowledged: int = 0
    webhook_copies: int = 0
    """Copies delivered or being delivered, scripted or redelivered by a fault (numbers them)."""
    redeliver: Callable[[], Awaitable[None]] | None = None
    """Delivers one more copy of the webhook; set by the emulator when the call is placed."""
    fault_seen: dict[int, int] = field(default_factory=dict)
    """Requests that matched each of the scenario's faults so far, by index."""
    created_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _started: float = field(default_factory=time.monotonic)

    @property
    def live(self) -> bool:
        """True while the call can still change (ringing or active)."""
        return self.state in (CallState.RINGING, CallState.ACTIVE)

    def elapsed(self) -> float:
        """Seconds since the call was placed."""
        return time.monotonic() - self._started

    def record(self, kind: str, **fields: Any) -> JsonDict:
        """Append a timeline entry and tell the listener (the CLI prints it)."""
        entry: JsonDict = {
            "seq": len(self.timeline),
            "t": round(self.elapsed(), 3),
            "kind": kind,
            **fields,
        }
        self.timeline.append(entry)
        if self.listener is not None:
            self.listener(self.call_id, entry)
        return entry

    def spawn(self, coro: Any, name: str) -> None:
        """Run a task owned by this call; it is cancelled when the call ends."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            coro, name=f"{name}:{self.call_id}"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def notify(self) -> None:
        """Wake everything waiting in `wait_until`."""
        async with self.changed:
            self.changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait until `predicate` holds; raises TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(predicate)

    def set_state(
        self, state: CallState, *, reason: EndReason | None = None, sip_status: int | None = None
    ) -> None:
        """Move the state machine and record it."""
        previous = self.state
        self.state = state
        if reason is not None:
            self.reason = reason
        if sip_status is not None:
            self.sip_status = sip_status
        self.record(
            "state",
            previous=previous.value,
            state=state.value,
            reason=self.reason.value if self.reason else None,
            sip_status=self.sip_status,
        )
        logger.info(
            "call %s: %s -> %s (reason=%s, sip=%s)",
            self.call_id,
            previous,
            state,
            self.reason,
            self.sip_status,
        )

    def finish(self, state: CallState, reason: EndReason, sip_status: int | None = None) -> bool:
        """End the call now; sockets close in the background, then `ended` is set.

        Synchronous so that the state is final before any REST answer goes out, while the close
        handshakes (up to a second each for an unresponsive peer) do not hold that answer up.
        """
        if not self.live:
            return False
        self.ended_at = time.time()
        self.set_state(state, reason=reason, sip_status=sip_status)
        current = asyncio.current_task()
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
        self.spawn(self._teardown(reason), "teardown")
        return True

    async def _teardown(self, reason: EndReason) -> None:
        sockets = list(self.sockets.values())
        await asyncio.gather(*(self._close(socket, reason.value) for socket in sockets))
        self.ended.set()
        await self.notify()

    async def _close(self, socket: Socket, reason: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await socket.ws.close(code=1000, message=reason.encode())

    def drop_sockets(self) -> int:
        """Abort every socket's TCP connection without a close frame; the call stays up."""
        dropped = list(self.sockets.values())
        # Detach at once: a script step must wait for a *new* socket, not talk to a dead one.
        self.sockets.clear()
        for socket in dropped:
            if socket.transport is not None:
                socket.transport.abort()
        self.record("sockets_dropped", sockets=[socket.socket_id for socket in dropped])
        return len(dropped)

    async def send_to(self, sockets: list[Socket], payload: JsonDict) -> None:
        """Send an event to some sockets and record it once, with the sockets it reached."""
        reached = [s.socket_id for s in sockets if await _send(s, payload)]
        self.record("event_sent", type=payload["type"], sockets=reached, payload=payload)

    async def broadcast(self, payload: JsonDict) -> None:
        """Send an event to every attached socket (all sockets share the call's session)."""
        if payload["type"] in ("conversation.item.added", "conversation.item.done"):
            self.items[payload["item"]["id"]] = payload["item"]
        elif payload["type"] == "output_audio_buffer.started":
            self.audio_played = True
        await self.send_to(list(self.sockets.values()), payload)

    async def redeliver_webhook(self) -> None:
        """Deliver the webhook once more (same `webhook-id`) and wait for the app's answer."""
        if self.redeliver is None:
            raise RuntimeError(f"call {self.call_id} cannot redeliver its webhook")
        await self.redeliver()

    def caller_hangup(self) -> bool:
        """The caller hangs up: a ringing call is cancelled (SIP 487), an active one ends.

        With the scenario's `accepts_cancelled_calls`, a cancel while ringing goes unnoticed by
        the service: the call stays answerable, with nobody on the line, until the app hangs up.
        """
        if self.caller_gone:
            return False
        if self.state is CallState.RINGING and self.scenario.accept.accepts_cancelled_calls:
            self.caller_gone = True
            self.record("caller_gone", state=self.state.value, noticed=False)
            logger.info("call %s: caller hung up while ringing, unnoticed", self.call_id)
            return False
        if self.state is CallState.RINGING:
            return self.finish(CallState.ENDED, EndReason.CALLER_CANCELLED, 487)
        return self.finish(CallState.ENDED, EndReason.CALLER_HANGUP)

    def expectation_errors(self) -> list[str]:
        """Differences between how the call went and the scenario's `[expect]`; empty if all met."""
        expect = self.scenario.expect
        errors = []
        if self.live:
            errors.append(f"call has not ended (state {self.state.value})")
        if self.script_status != "completed":
            errors.append(f"script {self.script_status}: {self.script_error}")
        checks: list[tuple[str, object, object]] = [
            ("state", expect.state, self.state.value),
            ("reason", expect.reason, self.reason.value if self.reason else None),
            ("sip_status", expect.sip_status, self.sip_status),
            ("accepts", expect.accepts, self.accept_count),
        ]
        errors.extend(
            f"expected {name} {wanted!r}, got {actual!r}"
            for name, wanted, actual in checks
            if wanted is not None and wanted != actual
        )
        return errors

    def view(self, *, timeline: bool = True) -> JsonDict:
        """The JSON view served at GET /emulator/calls/{call_id}."""
        result: JsonDict = {
            "call_id": self.call_id,
            "scenario": self.scenario.name,
            "webhook_url": self.webhook_url,
            "state": self.state.value,
            "reason": self.reason.value if self.reason else None,
            "sip_status": self.sip_status,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "accept_count": self.accept_count,
            "accept_attempts": self.accept_attempts,
            "refer_targets": list(self.refer_targets),
            "open_sockets": len(self.sockets),
            "sockets_opened": self.sockets_opened,
            "webhook": {
                "webhook_id": self.webhook_id,
                "event_id": self.webhook_event_id,
                "deliveries": self.webhook_deliveries,
                "acknowledged": self.webhook_acknowledged,
            },
            "script": {"status": self.script_status, "error": self.script_error},
            "expectation_errors": self.expectation_errors(),
            "session": self.session,
        }
        if timeline:
            result["timeline"] = list(self.timeline)
        return result


async def _send(socket: Socket, payload: JsonDict) -> bool:
    if socket.ws.closed:
        return False
    try:
        await socket.ws.send_json(payload)
    except (ConnectionError, RuntimeError):
        return False
    return True
