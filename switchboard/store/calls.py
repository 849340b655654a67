"""The call store: an index row per call (twice: by time and by caller) and a blob per record.

Writes are idempotent, so Durable may retry them freely:

* :meth:`CallStore.started` inserts the rows of a call about to be answered (``status`` live);
  a row that already exists, live or ended, is left alone, so a late retry never reopens a call;
* :meth:`CallStore.ended` writes the full record's blob first, then replaces both rows with the
  ended summary: a row that says ended always has its blob.

Reads answer newest first (see :mod:`switchboard.store.keys`); :meth:`CallStore.purge` deletes
everything received before a cutoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.blob import ContentSettings

from switchboard.store import keys, rows
from switchboard.store.account import Account, StoreConfigError, get_account
from switchboard.store.live import live_blob_name
from switchboard.store.query import CallQuery, QueryError, Window
from switchboard.webhook import instance_id_for

logger = logging.getLogger(__name__)

_JSON = ContentSettings(content_type="application/json")
_PURGE_CONCURRENCY = 16


class CallStore:
    """Reads and writes calls in one storage account."""

    def __init__(self, account: Account) -> None:
        self._account = account
        self._secret = account.config.caller_secret

    async def started(self, record: Mapping[str, Any]) -> None:
        """List a call as live (insert its rows unless they exist) and make its live transcript.

        The empty append blob is made here, off the monitor's loop, so a slice only appends.
        """
        row = rows.index_row(record, "live", self._caller_key(record))
        writes = [self._insert(self._account.index, row), self._live_blob(record)]
        if row.get("caller_key"):
            writes.append(self._insert(self._account.by_caller, _caller_row(row)))
        await asyncio.gather(*writes)

    async def _live_blob(self, record: Mapping[str, Any]) -> None:
        blob = self._account.records.get_blob_client(live_blob_name(str(record["call_id"])))
        with contextlib.suppress(ResourceExistsError):  # a retry, or a slice made it first
            await blob.create_append_blob(if_none_match="*")

    async def ended(self, record: Mapping[str, Any]) -> None:
        """Store the full record, then mark its rows ended with the final summary."""
        await self._account.records.upload_blob(
            blob_name(str(record["call_id"])),
            json.dumps(record, separators=(",", ":")).encode(),
            overwrite=True,
            content_settings=_JSON,
        )
        row = rows.index_row(record, "ended", self._caller_key(record))
        writes = [self._account.index.upsert_entity(row, mode=UpdateMode.REPLACE)]
        if row.get("caller_key"):
            writes.append(
                self._account.by_caller.upsert_entity(_caller_row(row), mode=UpdateMode.REPLACE)
            )
        await asyncio.gather(*writes)

    async def page(self, query: CallQuery) -> dict[str, Any]:
        """One page of summaries, newest first: ``{"calls": [...], "next": cursor or None}``."""
        found: list[Mapping[str, Any]] = []
        if query.caller is not None:
            if self._secret is None:
                raise QueryError("caller search is off: the app has no CALL_STORE_CALLER_KEY")
            partition = keys.caller_key(query.caller, self._secret)
            await _collect(self._account.by_caller, query, query.table_filter(partition), found)
        else:
            for window in _windows(query.newest(), query.since, datetime.now(UTC)):
                await _collect(self._account.index, query, query.table_filter(None, window), found)
                if len(found) > query.limit:
                    break
        more = len(found) > query.limit
        page = found[: query.limit]
        return {
            "calls": [rows.summary(row) for row in page],
            "next": query.cursor(str(page[-1]["RowKey"])) if more else None,
        }

    async def record(self, call_id: str) -> dict[str, Any] | None:
        """The stored full record of an ended call, or None if there is none."""
        blob = self._account.records.get_blob_client(blob_name(call_id))
        try:
            data = await (await blob.download_blob()).readall()
        except ResourceNotFoundError:
            return None
        record: dict[str, Any] = json.loads(data)
        return record

    async def purge(self, before: datetime) -> int:
        """Delete every call received before ``before`` (rows and blob); the number deleted.

        Calls last at most an hour, so anything that old has ended: a row still marked live is
        one whose final write was lost, and goes too. The index row goes last, so an interrupted
        purge finds the rest again next time.
        """
        old = self._account.index.query_entities(
            "RowKey gt @cutoff",
            parameters={"cutoff": keys.time_key(before) + "~"},
            select=["PartitionKey", "RowKey", "call_id", "caller_key"],
        )
        limit = asyncio.Semaphore(_PURGE_CONCURRENCY)
        tasks: list[asyncio.Task[None]] = []
        async for row in old:
            await limit.acquire()
            tasks.append(asyncio.create_task(self._delete(dict(row), limit)))
        await asyncio.gather(*tasks)
        return len(tasks)

    async def _delete(self, row: dict[str, Any], limit: asyncio.Semaphore) -> None:
        try:
            for name in (blob_name(str(row["call_id"])), live_blob_name(str(row["call_id"]))):
                with contextlib.suppress(ResourceNotFoundError):  # not written, or purged before
                    await self._account.records.delete_blob(name)
            if row.get("caller_key"):
                await self._account.by_caller.delete_entity(row["caller_key"], row["RowKey"])
            await self._account.index.delete_entity(row["PartitionKey"], row["RowKey"])
        finally:
            limit.release()

    def _caller_key(self, record: Mapping[str, Any]) -> str | None:
        caller = record.get("caller")
        if self._secret is None or not isinstance(caller, str) or not caller:
            return None
        return keys.caller_key(caller, self._secret)

    @staticmethod
    async def _insert(table: TableClient, row: Mapping[str, Any]) -> None:
        with contextlib.suppress(ResourceExistsError):  # an earlier attempt, or already ended
            await table.create_entity(row)


WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30))
"""How far back each index query reaches before the next, older one: a busy line's first page
comes from the first (and the service sorts only that hour's rows), and a sparse store is listed
to its end in five queries, the last one unbounded."""


def _windows(newest: datetime | None, since: datetime | None, now: datetime) -> Iterator[Window]:
    """Time ranges, newest first, that together cover everything received up to ``newest``."""
    edge = newest or now
    for span in WINDOWS:
        edge -= span
        yield newest, edge
        if since is not None and edge <= since:
            return
        newest = edge
    yield newest, None


async def _collect(
    table: TableClient,
    query: CallQuery,
    where: tuple[str, dict[str, Any]],
    found: list[Mapping[str, Any]],
) -> None:
    """Add the rows of one table query to ``found`` until it holds one more than a page."""
    entities = table.query_entities(where[0], parameters=where[1], results_per_page=query.limit + 1)
    async for entity in entities:
        found.append(entity)
        if len(found) > query.limit:
            return


async def stored_record(call_id: str) -> dict[str, Any] | None:
    """The stored record of ``call_id``; None when there is none or the store cannot be read.

    For the operator API, which then answers from the task hub: an unreadable store is logged,
    not a failed request.
    """
    try:
        return await CallStore(await get_account()).record(call_id)
    except (AzureError, StoreConfigError) as error:
        logger.warning("call %r: the call store could not be read: %s", call_id[:100], error)
        return None


def blob_name(call_id: str) -> str:
    """Where a call's full record is kept in the store's container."""
    return f"records/{instance_id_for(call_id)}.json"


def _caller_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The caller index copy of an index row: same row key, the caller's keyed hash as partition."""
    return {**row, "PartitionKey": row["caller_key"]}
