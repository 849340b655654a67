"""Saying one line beside a running monitor: asked again after a response under way, over once
the line has played, and a call that is gone is reported."""

from __future__ import annotations

import json
from collections import deque
from types import TracebackType
from typing import Any, cast

from switchboard.announce import BUSY, say_line
from switchboard.realtime.channel import CallEnded, RealtimeChannel


class ScriptedChannel:
    """Answers each ``response.create`` with the next batch of server events."""

    def __init__(self, *batches: list[dict[str, Any]], refuse: bool = False) -> None:
        self.batches = deque(batches)
        self.queued: deque[str] = deque()
        self.sent: list[dict[str, Any]] = []
        self.refuse = refuse

    async def __aenter__(self) -> ScriptedChannel:
        if self.refuse:
            raise CallEnded("the call has ended")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        self.queued.extend(json.dumps(e) for e in (self.batches.popleft() if self.batches else []))

    async def receive(self, timeout: float) -> str | None:
        if not self.queued:
            raise TimeoutError
        return self.queued.popleft()


def opener(channel: ScriptedChannel) -> Any:
    async def open_channel() -> RealtimeChannel:
        return cast(RealtimeChannel, channel)

    return open_channel


def created() -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": "resp_x"}}


def done(response_id: str) -> dict[str, Any]:
    return {"type": "response.done", "response": {"id": response_id, "status": "completed"}}


def stopped(response_id: str) -> dict[str, Any]:
    return {"type": "output_audio_buffer.stopped", "response_id": response_id}


async def test_a_line_asked_during_another_response_is_asked_again_after_it() -> None:
    busy = {"type": "error", "error": {"code": BUSY, "message": "active response"}}
    channel = ScriptedChannel(
        [busy, done("resp_other")],  # the agent was answering the caller
        [created(), done("resp_line"), stopped("resp_line")],
    )
    assert await say_line(opener(channel), "rtc_x", "Say hello.")
    assert [e["response"]["instructions"] for e in channel.sent] == ["Say hello.", "Say hello."]
    assert not channel.queued  # returned on the line's audio stop, not before


async def test_a_line_without_an_audio_stop_counts_as_said_after_the_grace() -> None:
    channel = ScriptedChannel([created(), done("resp_line")])
    assert await say_line(opener(channel), "rtc_x", "Say hello.", grace=0.01)
    assert len(channel.sent) == 1


async def test_a_call_that_has_ended_is_reported() -> None:
    assert not await say_line(opener(ScriptedChannel(refuse=True)), "rtc_x", "Say hello.")
