"""The monitor's desk for HTTP tool calls: each call an owned task, each answer delivered once.

The monitor keeps reading the call's events while a tool call runs: the request is a task this
desk owns, and its answer waits here until the monitor can send it (``take`` / ``delivered``).
One function call id is called at most once per slice; a re-run slice never sees the same call
again, since the service sends a function call's events only on the sockets attached when the
model made it, and only the slice holding the lease may start a call. If the slice ends while a
call is in flight, the slice waits for it (it is bounded by the tool's timeout) and an answer
it could not send travels in the slice's state (:class:`CarriedAnswer`) to the next slice,
which sends it first. A slice whose worker is lost mid-call loses the call's answer: the model
then hears nothing back for it (at most once, never twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal

from switchboard.realtime.http_tools import HttpToolCaller
from switchboard.realtime.slice import CarriedAnswer

logger = logging.getLogger(__name__)

WAITING_LINE_AFTER_SECONDS = 1.0
"""A call slower than this has the agent say the tool's ``say_while_waiting`` line."""
MAX_TOOL_CALLS = 50
"""Most tool calls one slice starts (and records): past it, calls are refused."""


class ToolDesk:
    """The HTTP tool calls of one slice, and the answers not yet sent to the model."""

    def __init__(
        self, caller: HttpToolCaller | None, carried: Sequence[CarriedAnswer] = ()
    ) -> None:
        self._caller = caller
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: set[str] = set()
        self._answers = list(carried)
        self.entries: list[dict[str, object]] = []
        """What the record keeps of each call (see ``switchboard.realtime.http_tools``)."""
        self.on_answer: Callable[[], Awaitable[None]] | None = None
        self.on_slow: Callable[[str], Awaitable[None]] | None = None

    def declares(self, name: str) -> bool:
        """Whether ``name`` is one of the agent's HTTP tools."""
        return self._caller is not None and name in self._caller.tools

    @property
    def busy(self) -> bool:
        """A call is in flight."""
        return bool(self._tasks)

    def start(
        self, call_id: str, name: str, arguments: str
    ) -> Literal["started", "seen", "too_many"]:
        """Start a call, unless this function call was already taken or the slice made enough."""
        if call_id in self._seen:
            return "seen"
        if len(self._seen) >= MAX_TOOL_CALLS or self._caller is None:
            return "too_many"
        self._seen.add(call_id)
        task = asyncio.create_task(self._run(self._caller, call_id, name, arguments))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return "started"

    def take(self) -> list[CarriedAnswer]:
        """The answers waiting to be sent (removed: give back the unsent with ``give_back``)."""
        answers, self._answers = self._answers, []
        return answers

    def give_back(self, answers: Sequence[CarriedAnswer]) -> None:
        """Answers that could not be sent (the socket dropped): sent on the next socket."""
        self._answers[:0] = answers

    async def settle(self) -> list[CarriedAnswer]:
        """Wait for the calls in flight; the answers never sent (for the next slice)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        return self.take()

    async def cancel(self) -> None:
        """The call ended: nobody to answer. Calls in flight are cancelled."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, caller: HttpToolCaller, call_id: str, name: str, arguments: str) -> None:
        request = asyncio.ensure_future(caller.call(call_id, name, arguments))
        try:
            line = caller.tools[name].say_while_waiting
            done, _ = await asyncio.wait({request}, timeout=WAITING_LINE_AFTER_SECONDS)
            if not done and line and self.on_slow is not None:
                await self.on_slow(line)
            answer = await request
        finally:
            request.cancel()
        self.entries.append(answer.entry)
        self._answers.append(CarriedAnswer(call_id=call_id, output=answer.output))
        if self.on_answer is not None:
            await self.on_answer()
