"""Webhook ingress: the real ``incoming_call`` HTTP function against its floor.

Each request is a distinct, correctly signed ``realtime.call.incoming`` delivery, handed to the
real function through the Durable test host exactly as ``devhost/http_front.py`` does
(``host.call_http``), so every one verifies, parses, reads the instance status and starts an
orchestration over the Durable HTTP API on loopback.

The orchestrations are left to run, as they would in a worker that also hosts them: settings
point at an emulator that does not know these call ids, so (the caller screened in ingress)
``accept_call`` gets a 404 and the call ends as ``caller_gone``. That background work shares the
event loop (and the core) with the HTTP function, like in production; its cost is inside the
measured latencies, and the table reports how many orchestrations finished.

The floor is what no ingress can avoid: ``client.webhooks.verify_signature`` plus ``json.loads``
on the same bodies, in a bare loop, in the same run.

    python -m bench.ingress [--requests 2000] [--concurrency 1,32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass

import azure.functions as func
import openai

from bench._common import machine, percentile, table, use_emulator_settings
from devhost.durable_host import DurableTestHost, indexed_functions
from emulator import Emulator, EmulatorConfig
from emulator.config import DEFAULT_WEBHOOK_SECRET
from emulator.webhook import sign
from switchboard.connection import close_connection

SETTLE_TIMEOUT_SECONDS = 120.0
RUN_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Delivery:
    """One signed webhook: the raw body and the headers the SIP gateway would send."""

    call_id: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Result:
    """Latencies (seconds) of one run and its wall time."""

    name: str
    latencies: list[float]
    wall: float

    def row(self, floor_rate: float | None) -> list[object]:
        ordered = sorted(self.latencies)
        rate = len(ordered) / self.wall
        return [
            self.name,
            len(ordered),
            rate,
            percentile(ordered, 0.5) * 1000,
            percentile(ordered, 0.99) * 1000,
            f"{floor_rate / rate:.0f}x slower" if floor_rate else "1x (floor)",
        ]


def deliveries(count: int) -> list[Delivery]:
    """``count`` distinct calls, signed now (well inside the 300 s tolerance)."""
    result = []
    timestamp = int(time.time())
    for _ in range(count):
        call_id = "rtc_" + secrets.token_hex(16)
        webhook_id = "wh_" + secrets.token_hex(12)
        payload = {
            "object": "event",
            "id": "evt_" + secrets.token_hex(12),
            "type": "realtime.call.incoming",
            "created_at": timestamp,
            "data": {
                "call_id": call_id,
                "sip_headers": [
                    {"name": "From", "value": '"Alice" <sip:+14155550123@carrier.example>;tag=b1'},
                    {"name": "To", "value": "<sip:+18005550100@carrier.example>"},
                    {"name": "Call-ID", "value": f"{call_id[4:]}@bench.invalid"},
                ],
                "sip_media_security": "srtp",
            },
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(DEFAULT_WEBHOOK_SECRET, webhook_id, timestamp, body),
        }
        result.append(Delivery(call_id, body, headers))
    return result


def floor(batch: list[Delivery]) -> Result:
    """The bare SDK verification plus ``json.loads``: a lower bound for any ingress."""
    webhooks = openai.OpenAI(api_key="unused", webhook_secret=DEFAULT_WEBHOOK_SECRET).webhooks
    latencies = []
    started = time.perf_counter()
    for delivery in batch:
        t0 = time.perf_counter()
        webhooks.verify_signature(delivery.body, delivery.headers)
        json.loads(delivery.body)
        latencies.append(time.perf_counter() - t0)
    return Result("floor: verify_signature + json.loads", latencies, time.perf_counter() - started)


def request(delivery: Delivery) -> func.HttpRequest:
    """The ``func.HttpRequest`` the worker would build for this delivery."""
    return func.HttpRequest(
        method="POST",
        url="http://127.0.0.1/api/calls/incoming",
        headers=delivery.headers,
        params={},
        route_params={},
        body=delivery.body,
    )


async def ingress(host: DurableTestHost, batch: list[Delivery], concurrency: int) -> Result:
    """Send ``batch`` through ``incoming_call`` with ``concurrency`` requests in flight."""
    latencies: list[float] = []
    pending = iter(batch)

    async def worker() -> None:
        for delivery in pending:
            t0 = time.perf_counter()
            response = await host.call_http("incoming_call", request(delivery))
            latencies.append(time.perf_counter() - t0)
            body = json.loads(response.get_body())
            if response.status_code != 200 or body.get("status") != "started":
                raise RuntimeError(f"unexpected answer {response.status_code}: {body}")

    started = time.perf_counter()
    async with asyncio.timeout(RUN_TIMEOUT_SECONDS):
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return Result(f"incoming_call, {concurrency} in flight", latencies, wall)


async def settle(host: DurableTestHost, call_ids: list[str]) -> dict[str, int]:
    """Wait (bounded) for the orchestrations to finish; count them by runtime status."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        statuses = [host.instances[c].runtime_status.value for c in call_ids]
        if all(s in ("Completed", "Failed", "Terminated") for s in statuses):
            break
        await asyncio.sleep(0.2)
    counts: dict[str, int] = {}
    for call_id in call_ids:
        status = host.instances[call_id].runtime_status.value
        counts[status] = counts.get(status, 0) + 1
    return counts


async def round_trips_alone(
    host: DurableTestHost, requests: int, floor_rate: float
) -> list[object]:
    """One at a time again, the started orchestrations held (never run): what is left is the
    function itself and its status/start round trips to the host."""

    async def held(runtime: object) -> None:
        return None

    running = host._run  # the host is this project's; the bench holds its episodes
    host._run = held  # type: ignore[method-assign]
    try:
        result = await ingress(host, deliveries(requests), 1)
    finally:
        host._run = running  # type: ignore[method-assign]
    row = result.row(floor_rate)
    row[0] = "incoming_call, 1 in flight, orchestrations held"
    return row


async def run(requests: int, concurrencies: list[int]) -> None:
    """Floor first, then each concurrency level on fresh call ids; print one table."""
    import function_app

    batch = deliveries(requests)
    floor(batch[: min(200, requests)])  # warm up imports and caches
    floor_result = floor(batch)
    floor_rate = len(floor_result.latencies) / floor_result.wall
    rows = [floor_result.row(None)]
    settled: list[str] = []
    async with Emulator(EmulatorConfig()) as emulator:
        use_emulator_settings(emulator.base_url, store=True)
        host = DurableTestHost(indexed_functions(function_app.app), raise_on_problems=False)
        async with host:
            await ingress(host, deliveries(min(50, requests)), 1)  # warm-up, not reported
            for concurrency in concurrencies:
                fresh = deliveries(requests)
                result = await ingress(host, fresh, concurrency)
                rows.append(result.row(floor_rate))
                counts = await settle(host, [d.call_id for d in fresh])
                settled.append(f"{concurrency} in flight: {counts}")
            rows.append(await round_trips_alone(host, requests, floor_rate))
            await close_connection()
    print(f"# Webhook ingress ({machine()})\n")
    print(table(["path", "requests", "req/s", "p50 ms", "p99 ms", "vs floor (req/s)"], rows))
    print("\nOrchestrations started by the measured requests, by final status")
    print("(accept answers 404 for these unknown calls, so each ends as caller_gone):")
    for line in settled:
        print(f"- {line}")


def main() -> None:
    """Parse the flags and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="signed requests per run")
    parser.add_argument(
        "--concurrency", default="1,32", help="comma-separated requests in flight per run"
    )
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000:
        parser.error("--requests must be between 1 and 100000")
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not concurrencies or not all(1 <= c <= 1000 for c in concurrencies):
        parser.error("--concurrency must be comma-separated integers between 1 and 1000")
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(run(args.requests, concurrencies))


if __name__ == "__main__":
    main()
