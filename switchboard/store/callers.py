"""One caller's calls in the store: the last few for the agent's memory, and erasure.

Both go through the caller index (partitioned by the keyed hash of the E.164 number, see
:mod:`switchboard.store.keys`), so the caller's number itself is never stored or queried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError

from switchboard.store import keys
from switchboard.store.account import Account
from switchboard.store.calls import blob_name
from switchboard.untrusted import shown

logger = logging.getLogger(__name__)

SCANNED_ROWS = 20
"""How many of a caller's newest ended calls the memory looks through for ones with a summary
(refused and unanswered calls have none)."""


class NoCallerIndex(ValueError):
    """The app has no ``CALL_STORE_CALLER_KEY``, so calls cannot be found by number."""


@dataclass(frozen=True)
class EarlierCall:
    """What the memory keeps of one earlier call: when, what it was about, what was promised."""

    call_id: str
    received_at: datetime
    summary: str
    follow_up: str | None = None
    """Why someone needs to call back, when the analysis said so; None otherwise."""


class CallerHistory:
    """Reads and erases one caller's calls in one storage account."""

    def __init__(self, account: Account) -> None:
        self._account = account
        secret = account.config.caller_secret
        if secret is None:
            raise NoCallerIndex("the app has no CALL_STORE_CALLER_KEY: calls have no caller index")
        self._secret = secret

    async def recent(self, number: str, *, since: datetime, limit: int) -> list[EarlierCall]:
        """The newest ``limit`` ended calls from ``number`` since ``since`` that have a summary.

        Newest first; the follow-up reason is read from their stored records.
        """
        where = "PartitionKey eq @caller and RowKey lt @since and status eq @ended"
        parameters = {
            "caller": keys.caller_key(number, self._secret),
            "since": keys.time_key(since) + "~",
            "ended": "ended",
        }
        rows = self._account.by_caller.query_entities(
            where,
            parameters=parameters,
            select=["RowKey", "call_id", "summary", "follow_up"],
            results_per_page=SCANNED_ROWS,
        )
        found: list[Mapping[str, Any]] = []
        scanned = 0
        async for row in rows:
            scanned += 1
            if row.get("summary"):
                found.append(row)
            if len(found) >= limit or scanned >= SCANNED_ROWS:
                break
        return list(await asyncio.gather(*(self._earlier(row) for row in found)))

    async def _earlier(self, row: Mapping[str, Any]) -> EarlierCall:
        call_id = str(row["call_id"])
        reason = await self._follow_up(call_id) if row.get("follow_up") is True else None
        return EarlierCall(call_id, keys.moment_of(str(row["RowKey"])), str(row["summary"]), reason)

    async def _follow_up(self, call_id: str) -> str | None:
        """The record's follow-up reason; None when there is none or it cannot be read.

        An unreadable record still leaves the row's summary, which is worth having.
        """
        blob = self._account.records.get_blob_client(blob_name(call_id))
        try:
            record = json.loads(await (await blob.download_blob()).readall())
        except (AzureError, ValueError) as error:
            logger.warning(
                "call %s: stored record unreadable for memory: %s", shown(call_id), error
            )
            return None
        follow_up = (record.get("analysis") or {}).get("follow_up") or {}
        reason = follow_up.get("reason") if isinstance(follow_up, dict) else None
        return reason if isinstance(reason, str) and reason.strip() else None

    async def calls(self, number: str) -> list[dict[str, Any]]:
        """Every call from ``number`` in the store: its row key, call id and status."""
        rows = self._account.by_caller.query_entities(
            "PartitionKey eq @caller",
            parameters={"caller": keys.caller_key(number, self._secret)},
            select=["PartitionKey", "RowKey", "call_id", "status"],
        )
        return [dict(row) async for row in rows]

    async def erase(self, row: Mapping[str, Any]) -> None:
        """Delete one call of :meth:`calls`: its blob, its day index row, then its caller row.

        The caller row goes last, so an erasure cut short finds the call again next time.
        """
        with contextlib.suppress(ResourceNotFoundError):  # never ended, or erased before
            await self._account.records.delete_blob(blob_name(str(row["call_id"])))
        day = keys.day_key(keys.moment_of(str(row["RowKey"])))
        with contextlib.suppress(ResourceNotFoundError):
            await self._account.index.delete_entity(day, row["RowKey"])
        with contextlib.suppress(ResourceNotFoundError):
            await self._account.by_caller.delete_entity(row["PartitionKey"], row["RowKey"])
