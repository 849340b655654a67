"""The event loop every call monitor of a worker process runs on: uvloop, in a thread of its own.

A worker holds up to thousands of call sockets. The Functions worker runs activities on a
standard asyncio loop that an app cannot replace (it is running before the app is imported), so
monitor slices run here instead, on uvloop where it is installed (not on Windows): what else the
worker does (answering calls, transfers, store writes) does not queue behind thousands of
sockets' events, and the sockets get uvloop's cheaper transports (a third less CPU for the bare
client in ``bench/capacity.py``; for the monitor no difference showed within that machine's
run-to-run noise).

What a slice needs from the activity's own loop (the Durable client: its SDK keeps one HTTP
session, bound to the loop that first used it) it calls back there with :func:`call_back`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
STOP_WAIT_SECONDS = 10.0
"""How long a cancelled caller waits for its work to stop (a slice's last transcript write: 5 s)."""

new_loop: Callable[[], asyncio.AbstractEventLoop]
"""A uvloop loop where uvloop is installed, else asyncio's own."""
try:
    from uvloop import new_event_loop as new_loop
except ImportError:  # pragma: no cover - Windows, where uvloop is not built
    new_loop = asyncio.new_event_loop


class MonitorLoop:
    """One event loop in a daemon thread, started on first use and kept for the process."""

    def __init__(self, name: str = "switchboard-monitors") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running monitor loop (started here the first time)."""
        with self._lock:
            if self._loop is None:
                loop, ready = new_loop(), threading.Event()
                threading.Thread(
                    target=_serve, args=(loop, ready), name=self._name, daemon=True
                ).start()
                ready.wait()
                self._loop = loop
            return self._loop

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """``work()`` on the monitor loop, awaited on the caller's.

        Cancelling the caller cancels the work and waits (at most :data:`STOP_WAIT_SECONDS`) until
        it has stopped: a slice still unwinding must not call back into a loop whose owner
        (an activity, a test's host) believes it finished.
        """
        loop = self.loop
        finished: concurrent.futures.Future[T] = concurrent.futures.Future()
        started: list[asyncio.Task[T]] = []
        stop = threading.Event()

        def start() -> None:
            if stop.is_set():
                finished.cancel()
                return
            task = loop.create_task(work())
            task.add_done_callback(lambda done: _settle(finished, done))
            started.append(task)

        def cancel() -> None:
            stop.set()
            for task in started:
                task.cancel()

        loop.call_soon_threadsafe(start)
        outcome = asyncio.wrap_future(finished)
        try:
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            loop.call_soon_threadsafe(cancel)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(outcome, STOP_WAIT_SECONDS)
            raise


def _settle(finished: concurrent.futures.Future[T], task: asyncio.Task[T]) -> None:
    """Pass a finished task's outcome to the caller's future (unless the caller gave up)."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if task.cancelled():
            finished.cancel()
        elif (error := task.exception()) is not None:
            finished.set_exception(error)
        else:
            finished.set_result(task.result())


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


async def call_back(
    loop: asyncio.AbstractEventLoop, work: Callable[[], Coroutine[Any, Any, T]]
) -> T:
    """``work()`` on ``loop`` (the activity's), awaited from whichever loop is running."""
    if loop is asyncio.get_running_loop():
        return await work()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work(), loop))


MONITORS = MonitorLoop()
"""The worker process's monitor loop."""
