import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from switchboard.realtime.channel import ChannelDropped, RealtimeChannel
from switchboard.realtime.monitor_loop import MONITORS
from tests.support.served import served


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
    async with (
        served(web.get("/realtime", _echo_later)) as base,
        _channel(f"{base}/realtime") as opened,
    ):
        yield opened


@contextlib.asynccontextmanager
async def _channel(url: str, **timing: float) -> AsyncIterator[RealtimeChannel]:
    async with aiohttp.ClientSession() as http, RealtimeChannel(http, url, {}, **timing) as opened:
        yield opened


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


async def test_a_quiet_socket_that_answers_its_ping_stays_up() -> None:
    async def quiet(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # answers pings itself (autoping)
        await ws.prepare(request)
        async for _ in ws:
            pass
        return ws

    async with (
        served(web.get("/realtime", quiet)) as base,
        _channel(f"{base}/realtime", heartbeat_seconds=0.1, pong_seconds=0.2) as channel,
    ):
        started = time.monotonic()
        with pytest.raises(TimeoutError):  # three pings answered, no drop
            await channel.receive(timeout=0.8)
        assert time.monotonic() - started >= 0.8


async def test_a_quiet_socket_that_ignores_its_ping_is_dropped() -> None:
    pings = 0

    async def deaf(request: web.Request) -> web.WebSocketResponse:
        nonlocal pings
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        async for message in ws:
            pings += message.type is aiohttp.WSMsgType.PING
        return ws

    async with (
        served(web.get("/realtime", deaf)) as base,
        _channel(f"{base}/realtime", heartbeat_seconds=0.1, pong_seconds=0.2) as channel,
    ):
        started = time.monotonic()
        with pytest.raises(ChannelDropped, match=r"no answer to a ping in 0\.2s after 0\.1s"):
            await channel.receive(timeout=30)
        assert 0.3 <= time.monotonic() - started < 5
    assert pings == 1


async def test_events_keep_a_socket_up_without_pings() -> None:
    pings = 0

    async def chatty(request: web.Request) -> web.WebSocketResponse:
        nonlocal pings
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)

        async def count() -> None:
            nonlocal pings
            async for message in ws:
                pings += message.type is aiohttp.WSMsgType.PING

        counting = asyncio.create_task(count())
        for index in range(20):
            await ws.send_str(f"event {index}")
            await asyncio.sleep(0.03)
        await ws.close()
        await counting
        return ws

    async with (
        served(web.get("/realtime", chatty)) as base,
        _channel(f"{base}/realtime", heartbeat_seconds=0.2, pong_seconds=0.2) as channel,
    ):
        received = [await channel.receive(timeout=5) for _ in range(20)]
        assert received == [f"event {index}" for index in range(20)]
        assert await channel.receive(timeout=5) is None  # closed by the service
    assert pings == 0


async def test_the_service_ping_is_answered() -> None:
    answered = asyncio.get_running_loop().create_future()

    async def pinging(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.ping(b"are you there")
        async for message in ws:
            if message.type is aiohttp.WSMsgType.PONG and not answered.done():
                answered.set_result(message.data)
                await ws.send_str("after the pong")
        return ws

    async with (
        served(web.get("/realtime", pinging)) as base,
        _channel(f"{base}/realtime") as channel,
    ):
        assert await channel.receive(timeout=5) == "after the pong"  # the ping is not returned
        assert await asyncio.wait_for(answered, 5) == b"are you there"


async def test_timeouts_and_the_keep_alive_work_on_the_monitor_loop() -> None:
    """Slices run on uvloop (``monitor_loop``): its timer handles differ from asyncio's."""

    async def on_the_monitor_loop(url: str) -> list[str]:
        seen = []
        async with _channel(url, heartbeat_seconds=0.3, pong_seconds=0.4) as channel:
            await channel.send({"after": 0.5, "text": "late"})  # no ping is read meanwhile
            with pytest.raises(TimeoutError):
                await channel.receive(timeout=0.05)
            seen.append(str(await channel.receive(timeout=5)))
            with pytest.raises(TimeoutError):
                await channel.receive(timeout=1.0)  # pinged at 0.3 s, answered: no drop
            seen.append("timed out")
        return seen

    async with served(web.get("/realtime", _echo_later)) as base:
        seen = await MONITORS.run(lambda: on_the_monitor_loop(f"{base}/realtime"))
    assert seen == ["late", "timed out"]
