"""Say one line on a live call from a socket of its own, and wait until the caller has heard it.

The conversation's monitor keeps its own socket meanwhile and records the line like any other
(every socket of a call shares its session). This exists for lines the orchestration must have
said while a monitor slice is running, which it cannot reach: an operator transfer's hand-off
line, and the notice that a transfer did not go through.

It neither claims nor reads the monitor lease (``switchboard.realtime.lease``): it is not a
slice, and a claim would make the running slice step aside (it would stop answering tools). The
orchestrator waits for the line before anything else, so no newer slice starts meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from switchboard.realtime.channel import CallEnded, ChannelDropped, RealtimeChannel
from switchboard.realtime.events import (
    AudioStopped,
    ResponseDone,
    ResponseStarted,
    ServerError,
    parse_event,
)

logger = logging.getLogger(__name__)

BUSY = "conversation_already_has_active_response"
"""The service's error when a response is under way: the line is asked again after it."""


async def say_line(
    open_channel: Callable[[], Awaitable[RealtimeChannel]],
    call_id: str,
    line: str,
    *,
    timeout: float = 20.0,
    grace: float = 1.5,
) -> bool:
    """Ask the agent for ``line``; ``True`` once it has played, ``False`` if the call is gone.

    "Played" is the response's ``output_audio_buffer.stopped``, or its end plus ``grace``; after
    ``timeout`` the line counts as said (the caller must not wait on a lost event).
    """
    deadline = time.monotonic() + timeout
    try:
        async with await open_channel() as channel:
            await _ask(channel, line)
            ours, done_at = False, None  # our response began; when it is over
            response_id: str | None = None
            while (now := time.monotonic()) < min(deadline, done_at or deadline):
                raw = await _receive(channel, min(deadline, done_at or deadline) - now)
                if raw is None:
                    return False
                event = parse_event(raw) if raw else None
                if isinstance(event, ServerError) and event.code == BUSY and not ours:
                    continue  # asked again at the end of the response under way
                if isinstance(event, ResponseStarted):
                    ours = True
                elif isinstance(event, ResponseDone) and not ours:
                    await _ask(channel, line)
                elif isinstance(event, ResponseDone) and done_at is None:
                    response_id, done_at = event.response_id, time.monotonic() + grace
                elif isinstance(event, AudioStopped) and event.response_id == response_id:
                    break
    except CallEnded:
        return False
    except ChannelDropped as error:  # said or not, the call goes on: the orchestrator decides
        logger.warning("call %s: could not say a line: %s", call_id, error)
    return True


async def _ask(channel: RealtimeChannel, line: str) -> None:
    await channel.send({"type": "response.create", "response": {"instructions": line}})


async def _receive(channel: RealtimeChannel, timeout: float) -> str | None:
    """The next message; ``""`` when none came in ``timeout``."""
    try:
        return await channel.receive(timeout=max(timeout, 0.0))
    except TimeoutError:
        return ""
