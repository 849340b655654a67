"""One WebSocket to one call, behind a small interface: connect, send, receive, close.

A refused handshake (404/410) means the call is over: the service only lets sockets attach to
live calls. Anything else that breaks the socket is a drop, which a new connection can survive,
and so is a socket that goes quiet and does not answer a ping: a half-open connection would
otherwise look like a silent caller until the slice ran out.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import aiohttp

HANDSHAKE_TIMEOUT_SECONDS = 10.0
# A receive may time out this much after its deadline: callers pass "deadline - now", which
# jitters by microseconds from call to call; without slack, every receive would move the alarm.
ALARM_SLACK_SECONDS = 0.001
HEARTBEAT_SECONDS = 20.0
"""A socket that brought nothing for this long is pinged..."""
PONG_SECONDS = 10.0
"""...and is dropped when nothing at all (the pong or any event) comes within this after."""
_ENDED_STATUSES = frozenset({404, 410})


class CallEnded(Exception):
    """The service refused to attach a socket to the call: it has ended."""


class ChannelDropped(Exception):
    """The socket could not be opened or broke; the call may still be up."""


class RealtimeChannel:
    """An open socket to a call's realtime session."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        headers: dict[str, str],
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        pong_seconds: float = PONG_SECONDS,
    ) -> None:
        self._http = http
        self._url = url
        self._headers = headers
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        # The keep-alive is this channel's own, not aiohttp's ``heartbeat``: that one schedules a
        # callback for every chunk received, an eighth of the monitor's CPU per event at 1,000
        # calls (bench/capacity.py). Here a receive only notes when something last arrived.
        self._heartbeat = heartbeat_seconds
        self._pong = pong_seconds
        self._probe_at = 0.0  # when quiet turns into a ping, or a ping into a drop
        self._pinged = False
        # receive()'s timeout without a timer per message (a timer per receive cost a quarter
        # of the per-event CPU in bench/capacity.py): one alarm per socket, moved only when a
        # deadline comes earlier than it; going off before a later deadline, it re-arms.
        self._deadline = 0.0
        self._alarm: asyncio.Handle | None = None
        self._alarm_at = 0.0  # kept here: uvloop's timer handles have no when()
        self._receiver: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timed_out = False

    async def __aenter__(self) -> RealtimeChannel:
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_SECONDS):  # not the session's 300 s
                self._ws = await self._http.ws_connect(
                    self._url,
                    headers=self._headers,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                    autoping=False,  # pings are answered and pongs seen here, in receive()
                    max_msg_size=16 * 1024 * 1024,
                )
        except aiohttp.WSServerHandshakeError as error:
            if error.status in _ENDED_STATUSES:
                raise CallEnded(f"socket refused with {error.status}") from error
            raise ChannelDropped(f"handshake failed with {error.status}") from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise ChannelDropped(f"cannot connect: {type(error).__name__}") from error
        self._probe_at = asyncio.get_running_loop().time() + self._heartbeat
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        if self._ws is not None:
            await self._ws.close()

    async def send(self, event: dict[str, Any]) -> None:
        """Send one client event; a broken socket is a drop."""
        assert self._ws is not None
        try:
            await self._ws.send_str(json.dumps(event))
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as error:
            raise ChannelDropped(f"send failed: {type(error).__name__}") from error

    async def receive(self, timeout: float) -> str | None:
        """The next text message; ``None`` when the socket closed. Raises ``TimeoutError``.

        A socket quiet for :data:`HEARTBEAT_SECONDS` is pinged meanwhile, and one that then stays
        quiet for :data:`PONG_SECONDS` raises :class:`ChannelDropped`.
        """
        ws = self._ws
        assert ws is not None
        # The loop is looked up once per socket: on Python 3.11 ``get_running_loop`` (and so
        # ``current_task()`` without a loop) makes a getpid() syscall, on every event.
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        task = asyncio.current_task(loop)
        assert task is not None
        until = loop.time() + timeout
        while True:  # inline, not a helper coroutine: this is the monitor's per-event path
            probe_at = self._probe_at
            self._deadline = deadline = until if until < probe_at else probe_at
            if self._alarm is None or self._alarm_at > deadline + ALARM_SLACK_SECONDS:
                if self._alarm is not None:
                    self._alarm.cancel()
                self._alarm, self._alarm_at = loop.call_at(deadline, self._ring), deadline
            self._receiver, cancelling = task, task.cancelling()
            try:
                message = await ws.receive()
            except asyncio.CancelledError:
                # Ours (the deadline passed) unless someone else cancelled too, as asyncio.timeout.
                if not self._timed_out or task.uncancel() > cancelling:
                    raise
                if deadline < until:
                    await self._probe(ws, loop.time())
                    continue
                raise TimeoutError from None
            else:
                if self._timed_out:  # the socket swallowed our cancel: withdraw it
                    task.uncancel()
            finally:
                self._receiver = None
                self._timed_out = False
            self._probe_at, self._pinged = loop.time() + self._heartbeat, False
            kind = message.type
            if kind is aiohttp.WSMsgType.TEXT:
                return str(message.data)
            if kind is aiohttp.WSMsgType.BINARY:
                return bytes(message.data).decode("utf-8", "replace")
            if kind is aiohttp.WSMsgType.PING:
                await self._pong_to(ws, message.data)
            elif kind is not aiohttp.WSMsgType.PONG:
                return None

    async def _probe(self, ws: aiohttp.ClientWebSocketResponse, now: float) -> None:
        """Ping a quiet socket; a ping already unanswered means the connection is gone."""
        if self._pinged:
            raise ChannelDropped(
                f"no answer to a ping in {self._pong:g}s after {self._heartbeat:g}s of quiet"
            )
        self._pinged, self._probe_at = True, now + self._pong
        try:
            await ws.ping()
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as error:
            raise ChannelDropped(f"ping failed: {type(error).__name__}") from error

    async def _pong_to(self, ws: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
        try:
            await ws.pong(data)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as error:
            raise ChannelDropped(f"pong failed: {type(error).__name__}") from error

    def _ring(self) -> None:
        """The alarm: time out the waiting ``receive`` if its deadline has come, else re-arm."""
        assert self._alarm is not None
        set_for, self._alarm = self._alarm_at, None
        receiver = self._receiver
        if receiver is None:
            return  # nobody waiting: the next receive arms its own alarm
        if self._deadline > set_for:
            self._alarm = receiver.get_loop().call_at(self._deadline, self._ring)
            self._alarm_at = self._deadline
            return
        self._timed_out = True
        receiver.cancel()
