"""A live call's transcript: an append blob per call, written in batches while the call is up.

``live/<instance id>.jsonl`` in the store's container holds one JSON line per turn
(``speaker``, ``text``, ``at``), appended by the monitor slice that holds the call's lease: every
:data:`FLUSH_SECONDS` at most, one block per batch (never one write per event: thousands of calls
share a worker). The operator API reads it back while the call is live; the ended record then has
the turns, and the retention purge deletes the blob with the record.

Writes are paced per worker process: each append costs ~1 ms of the worker's CPU (the storage
SDK's request pipeline), so one process makes about :data:`WRITES_PER_SECOND` of them however
many calls it holds: a call's turns are readable within :data:`FLUSH_SECONDS` while the worker
holds up to ``FLUSH_SECONDS * WRITES_PER_SECOND`` calls, and within ``calls /
WRITES_PER_SECOND`` seconds past that (40 s at 2,000 calls). Each writer's first flush falls at
a random point of its interval, so calls that started together do not write together.

A store failure never touches the call: a batch that cannot be written is logged and tried again
at the next flush, and dropped (and counted in the log) after :data:`MAX_ATTEMPTS`; at most
:data:`MAX_QUEUED` turns wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

from switchboard.realtime.slice import Turn
from switchboard.store.account import Account, StoreConfigError, get_account
from switchboard.webhook import instance_id_for

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 3.0
"""Longest a turn waits before it is readable, while the worker is not busy."""
WRITES_PER_SECOND = 50.0
"""Appends one worker process makes per second at most, on average (~5 % of a core)."""
MAX_ATTEMPTS = 3
"""Failed writes of one batch before it is dropped."""
MAX_QUEUED = 500
"""Turns queued at most while the store does not answer; newer ones are dropped (and counted)."""
CLOSE_SECONDS = 5.0
"""How long the slice's end waits for its last batch."""
MAX_READ_BYTES = 1 << 20
"""Most of a live transcript the operator API reads (a slice keeps a bounded transcript too)."""


class _Pace:
    """The live transcripts writing on one event loop, and so how often each may write."""

    def __init__(self) -> None:
        self.writers = 0

    def interval(self, floor: float) -> float:
        return max(floor, self.writers / WRITES_PER_SECOND)


_paces: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pace] = weakref.WeakKeyDictionary()


def _pace() -> _Pace:
    loop = asyncio.get_running_loop()
    pace = _paces.get(loop)
    if pace is None:
        pace = _paces[loop] = _Pace()
    return pace


def live_blob_name(call_id: str) -> str:
    """Where a live call's turns are appended, beside its record."""
    return f"live/{instance_id_for(call_id)}.jsonl"


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
        self._created = False
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._pace: _Pace | None = None

    def add(self, turn: Turn) -> None:
        """Queue a turn; the writer (started on the first turn) appends it within a flush."""
        if self._closed:
            return
        if len(self._queued) >= MAX_QUEUED:
            self._dropped += 1
            return
        line = {"speaker": turn.speaker, "text": turn.text, "at": turn.at}
        self._queued.append(json.dumps(line, ensure_ascii=False) + "\n")
        if self._writer is None:
            self._pace = _pace()
            self._pace.writers += 1
            self._writer = asyncio.get_running_loop().create_task(self._write_every_flush())

    async def aclose(self) -> None:
        """Stop the writer and write what is queued, waiting at most :data:`CLOSE_SECONDS`."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if self._pace is not None:
            self._pace.writers -= 1
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await self._flush()
        except TimeoutError:
            logger.warning("call %s: the live transcript's last batch timed out", self._call_id)
        self._dropped += len(self._queued)  # the slice is over: what is left is lost
        self._queued = []
        self._report_dropped()

    async def _write_every_flush(self) -> None:
        assert self._pace is not None
        first = True
        while True:
            interval = self._pace.interval(self._flush_seconds)
            await asyncio.sleep(interval * random.random() if first else interval)
            first = False
            await self._flush()

    async def _flush(self) -> None:
        """Append the queued turns as one block; on failure keep them for the next flush."""
        if not self._queued:
            return
        batch = self._queued
        try:
            if not await self._may_write():
                self._queued = []  # a newer slice holds the call and writes its turns
                return
            await self._append("".join(batch).encode())
        except (AzureError, StoreConfigError, OSError) as error:
            self._attempts += 1
            if self._attempts >= MAX_ATTEMPTS:
                self._dropped += len(batch)
                self._queued, self._attempts = self._queued[len(batch) :], 0
            logger.warning(
                "call %s: live transcript write failed (attempt %d): %s",
                self._call_id,
                self._attempts or MAX_ATTEMPTS,
                error,
            )
            return
        self._queued, self._attempts = self._queued[len(batch) :], 0

    async def _append(self, data: bytes) -> None:
        account = await self._account()
        blob = account.records.get_blob_client(live_blob_name(self._call_id))
        if not self._created:
            with contextlib.suppress(ResourceExistsError):  # an earlier slice made it
                await blob.create_append_blob(if_none_match="*")
            self._created = True
        await blob.append_block(data)

    def _report_dropped(self) -> None:
        if self._dropped:
            logger.warning(
                "call %s: %d live transcript turns were not written (the store failed)",
                self._call_id,
                self._dropped,
            )


async def live_turns(account: Account, call_id: str) -> list[dict[str, Any]]:
    """The turns written so far for a live call (none when nothing was written yet)."""
    blob = account.records.get_blob_client(live_blob_name(call_id))
    try:
        data = await (await blob.download_blob(offset=0, length=MAX_READ_BYTES)).readall()
    except ResourceNotFoundError:
        return []
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
