"""A live call's transcript: an append blob per call, written in batches while the call is up.

``live/<instance id>.jsonl`` in the store's container holds one JSON line per turn
(``speaker``, ``text``, ``at``). The call's start makes the blob (``CallStore.started``, on the
activity's loop) and the monitor slice that holds the call's lease appends to it. The
operator API reads it back while the call is live; the ended record then has the turns, and the
retention purge deletes the blob with the record.

One writer per worker process (per event loop) writes for every call it holds: calls with new
turns wait in line, oldest turn first, and each is written as one block once that turn is
:data:`FLUSH_SECONDS` old. An append is one plain HTTP request (``switchboard.store.appender``:
~0.2 ms of the worker's CPU, where the storage SDK's pipeline took 0.6-3 ms), and the writer
starts at most :data:`WRITES_PER_SECOND` of them a second however many calls the worker holds: a
turn is readable within :data:`FLUSH_SECONDS` while fewer than ``FLUSH_SECONDS *
WRITES_PER_SECOND`` calls have new turns, and within about ``calls / WRITES_PER_SECOND`` seconds
past that (40 s at 2,000 talking calls). A timer or a task per call would cost more than the
writes themselves at that scale, and would let calls that started together write together.

A store failure never touches the call: a batch that cannot be written is logged and tried again
after :data:`FLUSH_SECONDS`, and dropped (and counted in the log) after :data:`MAX_ATTEMPTS`; at
most :data:`MAX_QUEUED` turns wait per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from switchboard.realtime.slice import Turn
from switchboard.store.account import Account, StoreConfigError, get_account
from switchboard.store.appender import AppendFailed
from switchboard.webhook import instance_id_for

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 3.0
"""Longest a turn waits before it is readable, while the worker is not busy."""
WRITES_PER_SECOND = 50.0
"""Appends one worker process starts per second at most (~1 % of a core)."""
MAX_IN_FLIGHT = 8
"""Appends one worker has outstanding at most: a slow store does not pile requests up."""
MAX_ATTEMPTS = 3
"""Failed writes of one batch before it is dropped."""
MAX_QUEUED = 500
"""Turns queued at most while the store does not answer; newer ones are dropped (and counted)."""
CLOSE_SECONDS = 5.0
"""How long the slice's end waits for its last batch."""
MAX_READ_BYTES = 1 << 20
"""Most of a live transcript the operator API reads (a slice keeps a bounded transcript too)."""


_encode = json.JSONEncoder(ensure_ascii=False).encode
"""One encoder for every turn (``json.dumps`` with options builds a new one per call)."""


def live_blob_name(call_id: str) -> str:
    """Where a live call's turns are appended, beside its record."""
    return f"live/{instance_id_for(call_id)}.jsonl"


class _Writer:
    """The one task of an event loop that writes every waiting transcript, paced."""

    def __init__(self) -> None:
        self._waiting: deque[LiveTranscript] = deque()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._next_start = 0.0
        self._writes: set[asyncio.Task[None]] = set()

    def enqueue(self, transcript: LiveTranscript) -> None:
        """Put a transcript with new turns in line (a closed one is skipped when its turn comes)."""
        self._waiting.append(transcript)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        waiting, loop = self._waiting, asyncio.get_running_loop()
        while waiting:
            transcript = waiting[0]
            if transcript.closed:
                waiting.popleft()
                continue
            now = loop.time()
            start_at = max(transcript.due_at, self._next_start)
            if start_at > now:
                await asyncio.sleep(start_at - now)
                continue
            waiting.popleft()
            self._next_start = max(self._next_start + 1 / WRITES_PER_SECOND, now)
            await self._slots.acquire()
            write = loop.create_task(self._write(transcript))
            self._writes.add(write)  # a reference, so the task is not collected mid-write
            write.add_done_callback(self._writes.discard)
        self._task = None  # done: the next enqueue starts another (a done task keeps its loop)

    async def _write(self, transcript: LiveTranscript) -> None:
        try:
            await transcript.write_queued()
        finally:
            self._slots.release()


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = (
    weakref.WeakKeyDictionary()
)


def _writer() -> _Writer:
    loop = asyncio.get_running_loop()  # the writer keeps no reference to it: the map's key dies
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = _Writer()
    return writer


class LiveTranscript:
    """A :class:`~switchboard.realtime.transcript.TurnSink` appending to the call's blob.

    ``may_write`` is the slice's lease: it is asked before each write, so a slice that a newer
    one replaced writes nothing more. ``account`` gives the store (``get_account`` by default).
    """

    def __init__(
        self,
        call_id: str,
        may_write: Callable[[], Awaitable[bool]],
        account: Callable[[], Awaitable[Account]] = get_account,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self._call_id = call_id
        self._may_write = may_write
        self._account = account
        self._flush_seconds = flush_seconds
        self._queued: list[str] = []
        self._attempts = 0
        self._dropped = 0
        self._lock = asyncio.Lock()  # one append at a time, so blocks keep the turns' order
        self._writer: _Writer | None = None
        self._in_line = False
        self.due_at = 0.0
        """When the writer should write this call's oldest queued turn (while it is in line)."""
        self.closed = False

    def add(self, turn: Turn) -> None:
        """Queue a turn; the worker's writer appends it within a flush (never blocks or raises)."""
        if self.closed:
            return
        if len(self._queued) >= MAX_QUEUED:
            self._dropped += 1
            return
        line = {"speaker": turn.speaker, "text": turn.text, "at": turn.at}
        self._queued.append(_encode(line) + "\n")
        if not self._in_line:
            self._get_in_line()

    def _get_in_line(self) -> None:
        writer = self._writer = self._writer or _writer()
        self._in_line = True
        self.due_at = asyncio.get_running_loop().time() + self._flush_seconds
        writer.enqueue(self)

    async def write_queued(self) -> None:
        """The writer's turn: append what is queued, then get in line again if more is."""
        self._in_line = False
        async with self._lock:
            if self.closed:
                return  # aclose writes the rest
            await self._flush()
        if self._queued and not self._in_line and not self.closed:
            self._get_in_line()  # a failed batch, kept for the next try

    async def aclose(self) -> None:
        """Write what is queued (after a write in flight), waiting at most :data:`CLOSE_SECONDS`."""
        if self.closed:
            return
        self.closed = True
        try:
            async with asyncio.timeout(CLOSE_SECONDS), self._lock:
                await self._flush()
        except TimeoutError:
            logger.warning("call %s: the live transcript's last batch timed out", self._call_id)
        self._dropped += len(self._queued)  # the slice is over: what is left is lost
        self._queued = []
        if self._dropped:
            logger.warning(
                "call %s: %d live transcript turns were not written (the store failed)",
                self._call_id,
                self._dropped,
            )

    async def _flush(self) -> None:
        """Append the queued turns as one block; on failure keep them for the next try."""
        batch, self._queued = self._queued, []
        if not batch:
            return
        try:
            if not await self._may_write():
                return  # a newer slice holds the call and writes its turns
            await self._append("".join(batch).encode())
        except (AzureError, StoreConfigError, AppendFailed, aiohttp.ClientError, OSError) as error:
            self._attempts += 1
            logger.warning(
                "call %s: live transcript write failed (attempt %d): %s",
                self._call_id,
                self._attempts,
                error,
            )
            if self._attempts >= MAX_ATTEMPTS:
                self._dropped += len(batch)
                self._attempts = 0
            else:
                self._queued = batch + self._queued  # in front of what came meanwhile
            return
        self._attempts = 0

    async def _append(self, data: bytes) -> None:
        appender = (await self._account()).appender
        name = live_blob_name(self._call_id)
        try:
            await appender.append(name, data)
        except AppendFailed as error:
            if error.code != "BlobNotFound":
                raise
            await appender.create(name)  # the call's start made none (its store write failed)
            await appender.append(name, data)


async def live_turns(account: Account, call_id: str) -> list[dict[str, Any]]:
    """The turns written so far for a live call (none when nothing was written yet)."""
    blob = account.records.get_blob_client(live_blob_name(call_id))
    try:
        data = await (await blob.download_blob(offset=0, length=MAX_READ_BYTES)).readall()
    except ResourceNotFoundError:
        return []
    except HttpResponseError as error:
        if error.status_code == 416:  # made at the call's start, nothing appended yet
            return []
        raise
    turns: list[dict[str, Any]] = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):  # the last line of a cut read may be partial
            turn = json.loads(line)
            if isinstance(turn, dict):
                turns.append(turn)
    return turns


async def live_transcript(call_id: str) -> list[dict[str, Any]] | None:
    """For the operator API: a live call's turns so far; None when the store cannot be read."""
    try:
        return await live_turns(await get_account(), call_id)
    except (AzureError, StoreConfigError) as error:
        logger.warning("call %r: the live transcript could not be read: %s", call_id[:100], error)
        return None
