"""The call list's first page with 100,000 stored calls, on Azurite.

Starts Azurite in memory on ephemeral ports, fills the index and caller tables with ``--calls``
ended calls spread over ``--days`` UTC days (batch transactions of 100 rows per partition; a
call every few seconds, from 1,000 callers), then times :meth:`CallStore.page` (the query
``GET /api/calls`` runs) for the first page of several queries, sequentially.

    python -m bench.store [--calls 100000] [--days 30] [--repeats 200]  # ~4 min
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.data.tables.aio import TableClient

from bench._common import machine, percentile, table
from switchboard.store import rows
from switchboard.store.account import StoreConfig, close_account, get_account
from switchboard.store.calls import CallStore
from switchboard.store.keys import caller_key
from switchboard.store.query import CallQuery
from tests.support.azurite import AzuriteProcess, azurite_command

SECRET = b"bench-caller-index-key-0123456789abcdef"
BATCH = 100
REASONS = ("caller_hangup",) * 6 + ("agent_end_call",) * 3 + ("transferred", "busy")
QUERIES: dict[str, dict[str, str]] = {
    "newest 20 (the default page)": {},
    "newest 100": {"limit": "100"},
    "end_reason=busy": {"end_reason": "busy"},
    "caller=+14155550042": {"caller": "+14155550042"},
    "since 2 days ago, ended": {"status": "ended", "since": "{since}"},
}


def records(count: int, days: int, end: datetime) -> Iterator[dict[str, Any]]:
    step = timedelta(days=days) / count
    for i in range(count):
        received = end - step * (count - i)
        yield {
            "call_id": f"rtc_bench{i:07d}",
            "received_at": received.isoformat(),
            "accepted_at": (received + timedelta(seconds=2)).isoformat(),
            "ended_at": (received + timedelta(seconds=95)).isoformat(),
            "end_reason": REASONS[i % len(REASONS)],
            "caller": f"+1415555{i % 1000:04d}",
            "callee": "+14155550100",
            "decision": "accept",
            "turns": [{}] * 12,
            "estimated_cost_usd": 0.21,
        }


async def fill(index: TableClient, by_caller: TableClient, count: int, days: int) -> float:
    started = time.perf_counter()
    pending: dict[tuple[str, str], list[dict[str, Any]]] = {}

    async def flush(key: tuple[str, str], batch: list[dict[str, Any]]) -> None:
        client = index if key[0] == "index" else by_caller
        await client.submit_transaction([("upsert", row) for row in batch])

    flushes: list[asyncio.Task[None]] = []
    for record in records(count, days, datetime.now(UTC)):
        row = rows.index_row(record, "ended", caller_key(record["caller"], SECRET))
        for key, copy in (
            (("index", row["PartitionKey"]), row),
            (("caller", row["caller_key"]), {**row, "PartitionKey": row["caller_key"]}),
        ):
            pending.setdefault(key, []).append(copy)
            if len(pending[key]) == BATCH:
                flushes.append(asyncio.create_task(flush(key, pending.pop(key))))
        if len(flushes) >= 8:
            await asyncio.gather(*flushes)
            flushes.clear()
    flushes += [asyncio.create_task(flush(key, pending.pop(key))) for key in list(pending)]
    await asyncio.gather(*flushes)
    return time.perf_counter() - started


async def measure(store: CallStore, params: dict[str, str], repeats: int) -> list[float]:
    query = CallQuery.parse(params)
    await store.page(query)  # warm the connection
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        page = await store.page(query)
        timings.append((time.perf_counter() - start) * 1000)
        assert page["calls"], params
    return sorted(timings)


async def measure_floor(index: TableClient, repeats: int) -> list[float]:
    """A query that matches nothing: Azurite still scans the whole table (its floor)."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        rows_found = [row async for row in index.query_entities("PartitionKey eq 'none'")]
        timings.append((time.perf_counter() - start) * 1000)
        assert not rows_found
    return sorted(timings)


async def run(connection_string: str, calls: int, days: int, repeats: int) -> None:
    config = StoreConfig(connection_string=connection_string, caller_secret=SECRET)
    account = await get_account(config)
    seconds = await fill(account.index, account.by_caller, calls, days)
    print(f"stored {calls:,} calls over {days} days in {seconds:.1f} s ({machine()})")
    store = CallStore(account)
    since = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    results = []
    for name, params in QUERIES.items():
        filled = {k: v.format(since=since) for k, v in params.items()}
        timings = await measure(store, filled, repeats)
        results.append((name, percentile(timings, 0.5), percentile(timings, 0.99), timings[-1]))
    floor = await measure_floor(account.index, repeats)
    results.append(
        ("(Azurite scan, no match)", percentile(floor, 0.5), percentile(floor, 0.99), floor[-1])
    )
    await close_account()
    print(table(["first page", "p50 ms", "p99 ms", "max ms"], results))
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (1 min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    command = azurite_command()
    if command is None:
        raise SystemExit("Azurite is not installed: run `npm ci --ignore-scripts` first")
    with AzuriteProcess(command) as azurite:
        asyncio.run(run(azurite.connection_string, args.calls, args.days, args.repeats))


if __name__ == "__main__":
    main()
