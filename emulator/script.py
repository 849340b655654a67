"""Plays a scenario's steps: the caller's side of the call and the model's scripted turns."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import assert_never

from .call import Call, CallState, Counters
from .events import caller_speech_events, keypad_event
from .model import auto_responds, respond
from .scenario import (
    DropSockets,
    Hangup,
    Keypad,
    ModelTurn,
    RedeliverWebhook,
    Repeat,
    Respond,
    Say,
    Step,
    Wait,
    WaitFor,
)

logger = logging.getLogger(__name__)


class ScriptError(Exception):
    """A step cannot be played (a wait timed out, or the caller is no longer there)."""


async def run_script(call: Call, step_timeout: float) -> None:
    """Run every step; record `completed`, `failed` (a step could not be played) or `stopped`."""
    runner = _Runner(call, step_timeout)
    try:
        await runner.run(call.scenario.steps, "steps", final=True)
    except ScriptError as exc:
        call.script_status = "failed"
        call.script_error = str(exc)
        call.record("script", status="failed", error=call.script_error)
        logger.warning("call %s: script failed: %s", call.call_id, exc)
        await call.notify()
        return
    except asyncio.CancelledError:
        if runner.final_wait is not None and runner.final_wait():
            # What the last step waited for happened before the end; only the script's task had
            # not run yet (the end can be handled first: aiohttp starts handlers eagerly on 3.12).
            call.script_status = "completed"
            call.record("script", status="completed")
            raise
        call.script_status = "stopped"
        call.script_error = "the call ended before the script did"
        call.record("script", status="stopped")
        raise
    call.script_status = "completed"
    call.record("script", status="completed")
    await call.notify()


class _Runner:
    def __init__(self, call: Call, step_timeout: float) -> None:
        self.call = call
        self.step_timeout = step_timeout
        self.seen = Counters()
        """What the script has already waited for, so each `wait_for` waits for something new."""
        self.final_wait: Callable[[], bool] | None = None
        """The condition of the script's last step while it is being waited for."""

    async def run(self, steps: tuple[Step, ...], where: str, *, final: bool) -> None:
        """Run `steps`; `final` when the last of them is the last of the whole script."""
        for index, step in enumerate(steps):
            path = f"{where}[{index}]"
            self.call.record("script", step=path, action=type(step).__name__)
            await self.step(step, path, final=final and index == len(steps) - 1)

    async def step(self, step: Step, path: str, *, final: bool) -> None:
        call = self.call
        match step:
            case Wait(seconds):
                await asyncio.sleep(seconds * call.time_scale)
            case WaitFor(until, timeout):
                seen = getattr(self.seen, until)

                def happened() -> bool:
                    return bool(getattr(call.counters, until) > seen)

                if final:
                    self.final_wait = happened
                await self._until(
                    happened,
                    timeout or self.step_timeout,
                    f"{path}: nothing new for wait_for {until!r}",
                )
                self.seen = replace(self.seen, **{until: getattr(call.counters, until)})
            case Say(text, turn):
                await self._until_caller_heard(path)
                for payload in caller_speech_events(text, start_ms=int(call.elapsed() * 1000)):
                    await call.broadcast(payload)
                if turn is None:
                    return
                if auto_responds(call.session or {}):
                    await self._respond(turn, path, input_text=text)
                else:
                    call.next_turns.append(turn)
            case Keypad(keys, interval):
                await self._until_caller_heard(path)
                for index, key in enumerate(keys):
                    if index:
                        await asyncio.sleep(interval * call.time_scale)
                    await call.broadcast(keypad_event(key))
            case Respond(turn):
                await self._until_socket(path)
                await self._respond(turn, path)
            case Hangup():
                call.caller_hangup()
            case DropSockets():
                call.drop_sockets()
            case RedeliverWebhook():
                await call.redeliver_webhook()
            case Repeat(times, steps):
                for round_ in range(times):
                    last = final and round_ == times - 1
                    await self.run(steps, f"{path}.steps#{round_}", final=last)
            case _:
                assert_never(step)

    async def _respond(self, turn: ModelTurn, path: str, input_text: str = "") -> None:
        await self._until(
            lambda: not self.call.responding, self.step_timeout, f"{path}: model still responding"
        )
        await respond(self.call, turn, input_text=input_text)
        self.seen = replace(self.seen, response_done=self.call.counters.response_done)

    async def _until_caller_heard(self, path: str) -> None:
        if self.call.caller_gone:
            raise ScriptError(f"{path}: the caller hung up while ringing and cannot be heard")
        await self._until_socket(path)

    async def _until_socket(self, path: str) -> None:
        call = self.call
        await self._until(
            lambda: call.state is CallState.ACTIVE and bool(call.sockets),
            self.step_timeout,
            f"{path}: no WebSocket attached to the call",
        )

    async def _until(self, predicate: Callable[[], bool], timeout: float, message: str) -> None:
        try:
            await self.call.wait_until(predicate, timeout)
        except TimeoutError:
            raise ScriptError(f"{message} within {timeout}s") from None
