"""One WebSocket to one call, behind a small interface: connect, send, receive, close.

A refused handshake (404/410) means the call is over: the service only lets sockets attach to
live calls. Anything else that breaks the socket is a drop, which a new connection can survive.
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
_ENDED_STATUSES = frozenset({404, 410})


class CallEnded(Exception):
    """The service refused to attach a socket to the call: it has ended."""


class ChannelDropped(Exception):
    """The socket could not be opened or broke; the call may still be up."""


class RealtimeChannel:
    """An open socket to a call's realtime session."""

    def __init__(self, http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
        self._http = http
        self._url = url
        self._headers = headers
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        # receive()'s timeout without a timer per message (a timer per receive cost a quarter
        # of the per-event CPU in bench/capacity.py): one alarm per socket, moved only when a
        # deadline comes earlier than it; going off before a later deadline, it re-arms.
        self._deadline = 0.0
        self._alarm: asyncio.TimerHandle | None = None
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
                    heartbeat=20.0,
                    max_msg_size=16 * 1024 * 1024,
                )
        except aiohttp.WSServerHandshakeError as error:
            if error.status in _ENDED_STATUSES:
                raise CallEnded(f"socket refused with {error.status}") from error
            raise ChannelDropped(f"handshake failed with {error.status}") from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise ChannelDropped(f"cannot connect: {type(error).__name__}") from error
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
        """The next text message; ``None`` when the socket closed. Raises ``TimeoutError``."""
        assert self._ws is not None
        # The loop is looked up once per socket: on Python 3.11 ``get_running_loop`` (and so
        # ``current_task()`` without a loop) makes a getpid() syscall, on every event.
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        task = asyncio.current_task(loop)
        assert task is not None
        self._deadline = deadline = loop.time() + timeout
        if self._alarm is None or self._alarm.when() > deadline + ALARM_SLACK_SECONDS:
            if self._alarm is not None:
                self._alarm.cancel()
            self._alarm = loop.call_at(deadline, self._ring)
        self._receiver, cancelling = task, task.cancelling()
        try:
            message = await self._ws.receive()
        except asyncio.CancelledError:
            # Ours (the deadline passed) unless someone else cancelled too, as asyncio.timeout.
            if self._timed_out and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        else:
            if self._timed_out:  # the socket swallowed our cancel: withdraw it
                task.uncancel()
        finally:
            self._receiver = None
            self._timed_out = False
        if message.type is aiohttp.WSMsgType.TEXT:
            return str(message.data)
        if message.type is aiohttp.WSMsgType.BINARY:
            return bytes(message.data).decode("utf-8", "replace")
        return None

    def _ring(self) -> None:
        """The alarm: time out the waiting ``receive`` if its deadline has come, else re-arm."""
        assert self._alarm is not None
        set_for, self._alarm = self._alarm.when(), None
        receiver = self._receiver
        if receiver is None:
            return  # nobody waiting: the next receive arms its own alarm
        if self._deadline > set_for:
            self._alarm = receiver.get_loop().call_at(self._deadline, self._ring)
            return
        self._timed_out = True
        receiver.cancel()
