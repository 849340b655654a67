"""Time to accept: from the webhook leaving the SIP gateway to the gateway receiving ``accept``.

The whole path is real except the Functions host: the emulator signs and POSTs the webhook over
HTTP to the ingress function (served by ``devhost/http_front.py``), which starts the
orchestration in the Durable test host with the screening decision ingress took; the
orchestrator asks the ``call_slots`` entity for a slot, then runs ``record_call_started`` (the
call's live row in the call store, on an in-memory Azurite) and ``accept_call``, whose REST
request reaches the emulator. The emulator's call timeline
gives both ends on one clock: ``t`` is seconds since the call was placed (the webhook is sent at
once), and the ``accept`` request entry is written when the emulator answers it.

The test host dispatches orchestration and activity messages in memory. The Azure Storage
provider in production moves each of them through a storage queue that is polled with backoff up
to ``maxQueuePollingInterval`` (1 s in host.json) while idle: start → orchestrator → screen and
slot → orchestrator → accept is several such hops, so an idle app can add up to about a second
per hop on top of these figures; a busy one polls much faster.

    python -m bench.accept [--calls 200] [--burst 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from typing import Any

from bench._common import machine, percentile, table, use_emulator_settings
from devhost.durable_host import DurableTestHost, indexed_functions
from devhost.http_front import HttpFront
from emulator import Emulator, EmulatorConfig, Scenario, parse_scenario
from switchboard.connection import close_connection

CALL_TIMEOUT_SECONDS = 15.0
SETTLE_TIMEOUT_SECONDS = 60.0

# The caller hangs up as soon as the call is answered: only the path up to accept is measured.
SCENARIO: dict[str, Any] = {
    "description": "Answered, then the caller hangs up at once (bench.accept).",
    "steps": [{"action": "wait_for", "until": "accepted"}, {"action": "hangup"}],
}


def timings(emulator: Emulator, call_id: str) -> tuple[float, float] | None:
    """(webhook acknowledged, accept answered) in seconds since the webhook was sent."""
    webhook_done = accepted = None
    for entry in emulator.calls[call_id].timeline:
        if entry["kind"] == "webhook" and entry.get("status") == 200 and webhook_done is None:
            webhook_done = float(entry["t"])
        if (
            entry["kind"] == "request"
            and str(entry.get("path", "")).endswith("/accept")
            and entry.get("status") == 200
        ):
            accepted = float(entry["t"])
            break
    if webhook_done is None or accepted is None:
        return None
    return webhook_done, accepted


async def place(emulator: Emulator, scenario: Scenario, url: str) -> str:
    """Place one call and wait (bounded) until it has been accepted."""
    call_id = await emulator.place_call(scenario, webhook_url=url)
    call = emulator.calls[call_id]
    await call.wait_until(lambda: call.accept_count > 0 or not call.live, CALL_TIMEOUT_SECONDS)
    return call_id


async def run(calls: int, burst: int) -> None:
    """A sequential run, then bursts of ``burst`` concurrent calls; print one table."""
    import function_app

    functions = indexed_functions(function_app.app)
    scenario = parse_scenario("bench_accept", SCENARIO)
    rows = []
    failures: list[str] = []
    async with Emulator(EmulatorConfig(ring_timeout_seconds=30.0)) as emulator:
        use_emulator_settings(emulator.base_url, store=True)
        host = DurableTestHost(functions, raise_on_problems=False)
        async with host, HttpFront(host, functions) as front:
            url = f"{front.base_url}/api/calls/incoming"
            await place(emulator, scenario, url)  # warm-up, not reported
            for label, size in (("sequential", 1), (f"bursts of {burst}", burst)):
                call_ids: list[str] = []
                started = time.perf_counter()
                while len(call_ids) < calls:
                    group = min(size, calls - len(call_ids))
                    call_ids += await asyncio.gather(
                        *(place(emulator, scenario, url) for _ in range(group))
                    )
                wall = time.perf_counter() - started
                measured = [timings(emulator, c) for c in call_ids]
                done = sorted(m[0] for m in measured if m)
                accepted = sorted(m[1] for m in measured if m)
                failures += [c for c, m in zip(call_ids, measured, strict=True) if m is None]
                rows.append(
                    [
                        label,
                        len(accepted),
                        percentile(done, 0.5) * 1000,
                        percentile(done, 0.99) * 1000,
                        percentile(accepted, 0.5) * 1000,
                        percentile(accepted, 0.99) * 1000,
                        max(accepted) * 1000 if accepted else float("nan"),
                        len(call_ids) / wall,
                    ]
                )
            await host.wait_until(
                lambda: all(
                    i.runtime_status.value in ("Completed", "Failed", "Terminated")
                    for i in host.instances.values()
                ),
                timeout=SETTLE_TIMEOUT_SECONDS,
                what="every orchestration to finish",
            )
            ended = [i.output.get("end_reason") for i in host.instances.values() if i.output]
            await close_connection()
    print(f"# Time to accept, through the Durable test host ({machine()})\n")
    headers = [
        "run",
        "calls",
        "webhook 200 p50 ms",
        "webhook 200 p99 ms",
        "accept p50 ms",
        "accept p99 ms",
        "accept max ms",
        "calls/s",
    ]
    print(table(headers, rows))
    print(f"\nCalls never accepted: {len(failures)}. Record end reasons: {_counts(ended)}.")
    print(
        "\nIn production add the Azure Storage queues: each hop (start → orchestrator → "
        "screen_call + call_slots → orchestrator → record_call_started → orchestrator → "
        "accept_call) is a queue message, polled "
        "with backoff up to maxQueuePollingInterval = 1 s (host.json) while idle, so an idle "
        "app can add up to ~1 s per hop; these numbers are the in-process floor."
    )


def _counts(values: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def main() -> None:
    """Parse the flags and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per run")
    parser.add_argument("--burst", type=int, default=20, help="calls placed at once")
    args = parser.parse_args()
    if not 1 <= args.calls <= 5000 or not 1 <= args.burst <= 500:
        parser.error("--calls must be 1..5000 and --burst 1..500")
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.calls, args.burst))


if __name__ == "__main__":
    main()
