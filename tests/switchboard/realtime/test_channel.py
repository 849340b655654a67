import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from switchboard.realtime.channel import RealtimeChannel


async def _echo_later(request: web.Request) -> web.WebSocketResponse:
    """Each client event ``{"after": s, "text": t}`` comes back as ``t`` ``s`` seconds later."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        event = json.loads(message.data)
        await asyncio.sleep(event["after"])
        await ws.send_str(event["text"])
    return ws


@pytest.fixture
async def channel() -> AsyncIterator[RealtimeChannel]:
    app = web.Application()
    app.router.add_get("/realtime", _echo_later)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with (
        aiohttp.ClientSession() as http,
        RealtimeChannel(http, f"http://127.0.0.1:{port}/realtime", {}) as opened,
    ):
        yield opened
    await runner.cleanup()


async def test_receive_returns_the_next_message(channel: RealtimeChannel) -> None:
    await channel.send({"after": 0, "text": "hello"})
    assert await channel.receive(timeout=5) == "hello"


async def test_receive_times_out_and_keeps_the_late_message(channel: RealtimeChannel) -> None:
    await channel.send({"after": 0.3, "text": "late"})
    with pytest.raises(TimeoutError):
        await channel.receive(timeout=0.05)
    assert await channel.receive(timeout=5) == "late"


async def test_a_later_deadline_is_not_cut_short_by_an_earlier_one(
    channel: RealtimeChannel,
) -> None:
    await channel.send({"after": 0, "text": "first"})
    assert await channel.receive(timeout=0.1) == "first"  # leaves an alarm for ~0.1 s
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await channel.receive(timeout=0.4)
    assert time.monotonic() - started >= 0.4


async def test_an_earlier_deadline_moves_the_alarm(channel: RealtimeChannel) -> None:
    await channel.send({"after": 0, "text": "first"})
    assert await channel.receive(timeout=60) == "first"  # leaves an alarm a minute out
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await channel.receive(timeout=0.05)
    assert time.monotonic() - started < 5


async def test_cancelling_a_receive_is_a_cancellation_not_a_timeout(
    channel: RealtimeChannel,
) -> None:
    receiving = asyncio.create_task(channel.receive(timeout=0.2))
    await asyncio.sleep(0.05)
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    await asyncio.sleep(0.3)  # the alarm goes off with nobody waiting: nothing to time out
    await channel.send({"after": 0, "text": "still here"})
    assert await channel.receive(timeout=5) == "still here"
