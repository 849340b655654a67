"""Monitor capacity: how many concurrent calls one core can monitor with p99 event lag < 100 ms.

Two processes per point, each pinned to its own core: an event source (a lean aiohttp WebSocket
server playing N calls, each streaming 20 events/s of realistic Realtime shapes built with the
emulator's own event builders: caller speech and transcript, a response with transcript deltas,
``response.done`` with usage, audio buffer events) and a worker that consumes them.

Every event's ``event_id`` carries its send time (``CLOCK_MONOTONIC`` ns, shared by processes on
one machine). The worker runs one of

* ``switchboard``: the real ``CallMonitor`` with a ``RealtimeChannel`` per call, on the
  product's monitor loop (uvloop in a thread of its own, ``switchboard.realtime.monitor_loop``),
  wired as ``activities/monitor.py`` wires it (the product's ``Connection``, settings, session
  and start-up GC tuning). The channel factory returns :class:`LagChannel`, whose ``receive``
  notes each message's lag before returning it, so the monitor's parse and dispatch of earlier
  events shows up as queueing lag;
* ``naive``: the public-sample pattern, one thread per call running ``asyncio.run`` with its own
  aiohttp session, ``json.loads`` on each event (without printing it: that would only be slower);
* ``bare``: the reference floor, one loop and one session, ``json.loads`` per message and
  nothing else: what aiohttp and this source cost without any monitor;
* ablations, not in the default curve: ``switchboard-defaultgc``, ``switchboard`` with the
  product's GC tuning undone (CPython's default collector settings); ``switchboard-asyncio``,
  ``switchboard`` on the process's plain asyncio loop instead of the monitor loop (what uvloop
  buys); ``bare-uvloop``, the floor on the monitor loop.

A point passes when every call attached, the worker handled at least 95 % of the offered events,
and p99 lag stayed under 100 ms. The source reports its own CPU and how late its ticks ran, and
the worker what else ran on its core, so a noisy neighbour or a saturated source is visible in
the table rather than blamed on the monitor.

    python -m bench.capacity [--calls 100,500,1000,2000,3000] [--seconds 10]
        [--modes switchboard,naive,bare] [--plot docs/capacity.png]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

# Every worker mode imports the same modules (the app's, the openai SDK with them), so they share
# the heap's size and the allocator's state: in a process without the SDK, glibc served asyncio's
# 256 KiB read buffers with mmap/munmap and the same bare client cost twice the CPU per event.
from bench._common import machine, table, use_emulator_settings
from switchboard.connection import close_connection, get_connection
from switchboard.realtime.channel import RealtimeChannel
from switchboard.realtime.lease import NoLease
from switchboard.realtime.monitor import CallMonitor, MonitorOutcome, MonitorRequest
from switchboard.realtime.monitor_loop import MONITORS, new_loop
from switchboard.realtime.transcript import NoTurnSink, TurnSink
from switchboard.settings import get_settings
from switchboard.store.account import Account, StoreConfig, close_account, get_account
from switchboard.store.live import LiveTranscript, live_blob_name
from tests.support.azurite import AzuriteProcess, azurite_command

EVENTS_PER_SECOND = 20
TICK_SECONDS = 0.01
LAG_LIMIT_MS = 100.0
HANDLED_FLOOR = 0.95
STAMP_PREFIX = '{"event_id": "event_'
STAMP_DIGITS = 19
BUCKET_NS = 100_000  # 0.1 ms histogram buckets
BUCKETS = 20_000  # up to 2 s; slower events land in the last bucket
RAMP_GROUP = 100
RAMP_TIMEOUT_SECONDS = 60.0
END_TIMEOUT_SECONDS = 30.0
SOURCE_MAX_SECONDS = 600.0
REALTIME_PATH = "/openai/v1/realtime"  # where the product's Connection points the socket
MODES = ("switchboard", "naive", "bare")  # the curve
ABLATIONS = ("switchboard-defaultgc", "switchboard-asyncio", "bare-uvloop")
ALL_MODES = (*MODES, *ABLATIONS)
ON_MONITOR_LOOP = frozenset({"switchboard", "switchboard-defaultgc", "bare-uvloop"})
"""Modes run on the product's monitor loop (``switchboard.realtime.monitor_loop``), as the
activity runs slices; the others on the process's main asyncio loop."""
DEFAULT_GC_THRESHOLDS = gc.get_threshold()  # CPython's, before the product tunes them
STORE_ENV = "BENCH_CALL_STORE"
"""The Azurite connection string the driver passes its workers: the live transcript's store."""


# ------------------------------------------------------------------------------ shared pieces


def pin(cpu: int) -> int:
    """Pin this process to one core (modulo the cores there are); returns the core."""
    cpu %= os.cpu_count() or 1
    os.sched_setaffinity(0, {cpu})
    return cpu


def raise_fd_limit() -> int:
    """Thousands of sockets (and, for the baseline, loops) need more than the default 1024 fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes() -> int:
    """Resident set size now (``/proc/self/statm``), not the peak ``ru_maxrss``."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def core_busy_seconds() -> float:
    """Busy time of the core this process is pinned to, everyone's (``/proc/stat``).

    Minus this process's own CPU, it is what else ran there (other jobs, interrupts): a noisy
    neighbour shows up here rather than as a mystery in the lag.
    """
    core = min(os.sched_getaffinity(0))
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith(f"cpu{core} "):
                ticks = [int(v) for v in line.split()[1:]]
                idle = ticks[3] + ticks[4]  # idle, iowait
                return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    return float("nan")


def cpu_seconds() -> float:
    """User plus system CPU time of this process, all threads."""
    times = os.times()
    return times.user + times.system


class GcPauses:
    """Time spent in the cyclic garbage collector while recording: the likely tail of the lag."""

    def __init__(self) -> None:
        self.recording = False
        self.longest = 0.0
        self.total = 0.0
        self.full = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self.recording:
            pause = time.perf_counter() - self._started
            self.longest = max(self.longest, pause)
            self.total += pause
            self.full += info["generation"] == 2


class LagHistogram:
    """Fixed-size histogram of event lag: constant memory, so it does not skew RSS per call."""

    def __init__(self) -> None:
        self.counts = [0] * BUCKETS
        self.recording = False
        self.events = 0

    def add(self, raw: str) -> None:
        """Note one message's lag from the send stamp in its ``event_id``."""
        if not self.recording:
            return
        start = len(STAMP_PREFIX)
        lag = time.monotonic_ns() - int(raw[start : start + STAMP_DIGITS])
        self.counts[min(max(lag, 0) // BUCKET_NS, BUCKETS - 1)] += 1
        self.events += 1

    def percentile_ms(self, fraction: float) -> float:
        """Upper edge of the bucket holding the given fraction of events."""
        target = fraction * self.events
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if count and seen >= target:
                return (index + 1) * BUCKET_NS / 1e6
        return float("nan")


@dataclass
class Point:
    """One measured point of the curve."""

    mode: str
    calls: int
    attached: int
    seconds: float
    events: int
    offered_per_s: float
    handled_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_core_share: float
    cpu_us_per_event: float
    rss_kib_per_call: float
    gc_full: int = 0
    gc_longest_ms: float = 0.0
    gc_total_ms: float = 0.0
    others_core_share: float = 0.0
    source_sent_per_s: float = 0.0
    source_cpu_share: float = 0.0
    source_max_slip_ms: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        """Attached every call, handled (nearly) all events, p99 under the limit."""
        return (
            self.attached == self.calls
            and self.handled_per_s >= HANDLED_FLOOR * self.offered_per_s
            and self.p99_ms < LAG_LIMIT_MS
        )


# --------------------------------------------------------------------------------- the source


def event_templates() -> list[tuple[str, str]]:
    """One second of a call (a caller turn and a spoken reply), split around the send stamp."""
    from emulator.events import caller_speech_events, response_events
    from emulator.realtime import DEFAULT_SESSION

    events = [
        *caller_speech_events("Hi, what are your opening hours today?", start_ms=0),
        *response_events(
            session=DEFAULT_SESSION,
            conversation_id="conv_bench",
            spoken="We are open from nine to five, Monday to Friday. Anything else?",
            tool=None,
            input_text="Hi, what are your opening hours today?",
        ),
    ]
    templates = []
    for event in events:
        rest = {k: v for k, v in event.items() if k != "event_id"}
        text = json.dumps({"event_id": "event_", **rest})
        assert text.startswith(STAMP_PREFIX)
        templates.append((STAMP_PREFIX, text[len(STAMP_PREFIX) :]))
    return templates


async def serve_source(rate: int) -> None:
    """Stream to every socket until ``GET /end``; then refuse reattaches with 404 (call over)."""
    templates = event_templates()
    period = max(1, round(1 / (rate * TICK_SECONDS)))
    sockets: set[web.WebSocketResponse] = set()
    # The calls sending on each tick of a period, each with its position in the call's script:
    # a tick walks only its own group, not every socket.
    groups: list[dict[web.WebSocketResponse, int]] = [{} for _ in range(period)]
    ended = asyncio.Event()
    stop = asyncio.Event()
    # The source's own account, so a point can tell "the worker fell behind" from "the source
    # could not offer the load": frames sent, and how late ticks started (slip) since last read.
    counters = {"sent": 0.0, "ticks": 0.0, "late_ticks": 0.0, "max_slip_s": 0.0}

    async def realtime(request: web.Request) -> web.StreamResponse:
        if ended.is_set():
            return web.json_response({"error": {"code": "call_not_found"}}, status=404)
        ws = web.WebSocketResponse(autoping=True, compress=False)
        await ws.prepare(request)
        group = groups[len(sockets) % period]  # spread calls evenly over the ticks of a period
        group[ws] = len(sockets) % len(templates)
        sockets.add(ws)
        try:
            async for _ in ws:  # client events (and pings, answered by autoping)
                pass
        finally:
            sockets.discard(ws)
            group.pop(ws, None)
        return ws

    async def stats(request: web.Request) -> web.Response:
        body = {**counters, "cpu_seconds": cpu_seconds(), "at": time.monotonic()}
        counters["max_slip_s"] = 0.0
        return web.json_response(body)

    async def end(request: web.Request) -> web.Response:
        ended.set()
        for ws in list(sockets):
            await ws.close()
        return web.json_response({"closed": True})

    async def ticker() -> None:
        tick = 0
        next_at = time.monotonic()
        while not stop.is_set():
            slip = time.monotonic() - next_at
            counters["max_slip_s"] = max(counters["max_slip_s"], slip)
            counters["late_ticks"] += slip > TICK_SECONDS
            counters["ticks"] += 1
            group = groups[tick % period]
            for ws, position in list(group.items()):
                if ws.closed:
                    continue
                prefix, suffix = templates[position]
                group[ws] = (position + 1) % len(templates)
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(f"{prefix}{time.monotonic_ns():019d}{suffix}")
                    counters["sent"] += 1
            tick += 1
            next_at += TICK_SECONDS
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    app = web.Application()
    app.router.add_get(REALTIME_PATH, realtime)
    app.router.add_get("/stats", stats)
    app.router.add_get("/end", end)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes stdin to stop us
    task = asyncio.create_task(ticker())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SOURCE_MAX_SECONDS):
            await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await runner.cleanup()


# --------------------------------------------------------------------------------- the worker


class LagChannel(RealtimeChannel):
    """The product's channel, plus a note of each message's lag as ``receive`` hands it over."""

    histogram: LagHistogram
    attached = 0

    async def __aenter__(self) -> LagChannel:
        await super().__aenter__()
        LagChannel.attached += 1
        return self

    async def receive(self, timeout: float) -> str | None:
        """As the product's, recording lag on the way out."""
        raw = await super().receive(timeout)
        if raw is not None:
            self.histogram.add(raw)
        return raw


async def ramp(start_group: Any, calls: int, attached: Any) -> int:
    """Open calls ``RAMP_GROUP`` at a time (no handshake storm); returns how many attached."""
    deadline = time.monotonic() + RAMP_TIMEOUT_SECONDS
    for first in range(0, calls, RAMP_GROUP):
        group = min(RAMP_GROUP, calls - first)
        start_group(first, group)
        while attached() < first + group and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return int(attached())


async def source_stats(base: str) -> dict[str, float]:
    """The source's counters (frames sent, CPU, tick slip since the last read)."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/stats") as response:
        stats: dict[str, float] = await response.json()
        return stats


async def measure(
    base: str,
    histogram: LagHistogram,
    calls: int,
    attached: int,
    warmup: float,
    seconds: float,
    rss0: int,
) -> dict[str, Any]:
    """Warm up, then record lag, CPU, RSS and GC over ``seconds``, and the source's account."""
    await asyncio.sleep(warmup)
    histogram.counts[:] = [0] * BUCKETS
    histogram.events = 0
    pauses = GcPauses()
    source0 = await source_stats(base)
    cpu0, busy0, t0 = cpu_seconds(), core_busy_seconds(), time.monotonic()
    histogram.recording = pauses.recording = True
    await asyncio.sleep(seconds)
    histogram.recording = pauses.recording = False
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - t0
    others = core_busy_seconds() - busy0 - cpu
    source1 = await source_stats(base)
    source_wall = source1["at"] - source0["at"]
    events = histogram.events
    return {
        "calls": calls,
        "attached": attached,
        "seconds": wall,
        "events": events,
        "offered_per_s": float(calls * EVENTS_PER_SECOND),
        "handled_per_s": events / wall,
        "p50_ms": histogram.percentile_ms(0.5),
        "p99_ms": histogram.percentile_ms(0.99),
        "cpu_core_share": cpu / wall,
        "others_core_share": max(others / wall, 0.0),
        "cpu_us_per_event": cpu / events * 1e6 if events else float("nan"),
        "rss_kib_per_call": (rss_bytes() - rss0) / 1024 / max(calls, 1),
        "gc_full": pauses.full,
        "gc_longest_ms": pauses.longest * 1000,
        "gc_total_ms": pauses.total * 1000,
        "source_sent_per_s": (source1["sent"] - source0["sent"]) / source_wall,
        "source_cpu_share": (source1["cpu_seconds"] - source0["cpu_seconds"]) / source_wall,
        "source_max_slip_ms": source1["max_slip_s"] * 1000,
    }


async def run_switchboard(
    base: str, calls: int, warmup: float, seconds: float, tuned_gc: bool
) -> tuple[dict[str, Any], str]:
    """N real ``CallMonitor`` slices on this loop, wired as ``activities/monitor.py`` wires them.

    The product's ``Connection`` (its shared session, URL and auth headers) from the product's
    settings; only the channel is :class:`LagChannel`. ``tuned_gc=False`` undoes the product's
    start-up GC tuning (``tune_gc_for_calls``) to measure what it buys.
    """
    use_emulator_settings(base)
    connection = get_connection(get_settings())
    if not tuned_gc:
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    histogram = LagHistogram()
    LagChannel.histogram = histogram
    rss0 = rss_bytes()
    tasks: list[asyncio.Task[Any]] = []

    store = os.environ.get(STORE_ENV)
    config = StoreConfig(connection_string=store, name="benchlive") if store else None
    if config is not None:  # each call's blob, as its start (record_call_started) makes it
        account = await get_account(config)
        await make_live_blobs(account, [f"rtc_bench{index:05d}" for index in range(calls)])

    def turns(call_id: str) -> TurnSink:
        """The live transcript writer ``activities/monitor.py`` gives a slice (no lease here)."""
        if config is None:
            return NoTurnSink()
        return LiveTranscript(call_id, NoLease().held, lambda: get_account(config))

    def start_group(first: int, count: int) -> None:
        for index in range(first, first + count):
            call_id = f"rtc_bench{index:05d}"
            url = connection.realtime_url(call_id)

            async def open_channel(url: str = url) -> RealtimeChannel:
                return LagChannel(connection.http, url, await connection.auth_headers())

            request = MonitorRequest(
                call_id,
                slice_seconds=SOURCE_MAX_SECONDS,
                silence_seconds=get_settings().silence_seconds,  # as in production (30 s)
            )
            monitor = CallMonitor(request, open_channel, turns=turns(call_id))
            tasks.append(asyncio.create_task(monitor.run()))

    attached = await ramp(start_group, calls, lambda: LagChannel.attached)
    result = await measure(base, histogram, calls, attached, warmup, seconds, rss0)
    async with connection.http.get(f"{base}/end") as response:
        await response.read()
    done, pending = await asyncio.wait(tasks, timeout=END_TIMEOUT_SECONDS)
    for task in pending:
        task.cancel()
    outcomes = [t.result().outcome for t in done if not t.cancelled() and t.exception() is None]
    ended = sum(outcome is MonitorOutcome.CALL_ENDED for outcome in outcomes)
    await close_connection()
    if config is not None:
        await close_account()
    note = f"{ended}/{calls} slices ended call_ended"
    note += f"; live transcript {'on (Azurite)' if config else 'off'}"
    return result, note if tuned_gc else f"{note}; CPython's default GC"


async def make_live_blobs(account: Account, call_ids: list[str]) -> None:
    """The empty append blobs the calls' starts would have made, 50 requests at a time."""
    for first in range(0, len(call_ids), 50):
        batch = call_ids[first : first + 50]
        await asyncio.gather(*(account.appender.create(live_blob_name(c)) for c in batch))


async def run_bare(
    base: str, calls: int, warmup: float, seconds: float, tuned_gc: bool
) -> tuple[dict[str, Any], str]:
    """The reference floor: one loop, one session, ``json.loads`` per message, nothing else."""
    histogram = LagHistogram()
    state = {"attached": 0, "finished": 0}
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    rss0 = rss_bytes()
    tasks: list[asyncio.Task[None]] = []

    async def consume(url: str) -> None:
        async with http.ws_connect(url) as ws:
            state["attached"] += 1
            async for message in ws:
                json.loads(message.data)
                histogram.add(message.data)
        state["finished"] += 1

    def start_group(first: int, count: int) -> None:
        for index in range(first, first + count):
            url = f"{base}{REALTIME_PATH}?call_id=rtc_bare{index:05d}"
            tasks.append(asyncio.create_task(consume(url)))

    attached = await ramp(start_group, calls, lambda: state["attached"])
    result = await measure(base, histogram, calls, attached, warmup, seconds, rss0)
    async with http.get(f"{base}/end") as response:
        await response.read()
    await asyncio.wait(tasks, timeout=END_TIMEOUT_SECONDS)
    await http.close()
    return result, f"{state['finished']}/{calls} sockets closed"


def naive_call(
    url: str, histogram: LagHistogram, lock: threading.Lock, state: dict[str, int]
) -> None:
    """What public samples do: a thread, its own loop and session, ``json.loads`` per event."""

    async def consume() -> None:
        async with (
            asyncio.timeout(SOURCE_MAX_SECONDS),
            aiohttp.ClientSession() as session,
            session.ws_connect(url) as ws,
        ):
            with lock:
                state["attached"] += 1
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(message.data)
                if event.get("type") == "response.done":
                    event["response"].get("usage")
                with lock:
                    histogram.add(message.data)

    with contextlib.suppress(Exception):
        asyncio.run(consume())
    with lock:
        state["finished"] += 1


async def run_naive(
    base: str, calls: int, warmup: float, seconds: float, tuned_gc: bool
) -> tuple[dict[str, Any], str]:
    """N threads, each its own ``asyncio.run``; stopped by the source closing every socket."""
    histogram = LagHistogram()
    lock = threading.Lock()
    state = {"attached": 0, "finished": 0}
    threads: list[threading.Thread] = []
    rss0 = rss_bytes()
    failed: list[str] = []

    def start_group(first: int, count: int) -> None:
        for index in range(first, first + count):
            url = f"{base}{REALTIME_PATH}?call_id=rtc_naive{index:05d}"
            thread = threading.Thread(
                target=naive_call, args=(url, histogram, lock, state), daemon=True
            )
            try:
                thread.start()
            except RuntimeError as error:  # "can't start new thread"
                failed.append(str(error))
                return
            threads.append(thread)

    attached = await ramp(start_group, calls, lambda: state["attached"])
    result = await measure(base, histogram, calls, attached, warmup, seconds, rss0)
    async with aiohttp.ClientSession() as http, http.get(f"{base}/end") as response:
        await response.read()
    deadline = time.monotonic() + END_TIMEOUT_SECONDS
    while state["finished"] < len(threads) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    note = f"{state['finished']}/{len(threads)} threads stopped"
    if failed:
        note += f"; thread start failed: {failed[0]}"
    return result, note


RUNNERS = {
    "switchboard": run_switchboard,
    "naive": run_naive,
    "bare": run_bare,
    "switchboard-defaultgc": run_switchboard,
    "switchboard-asyncio": run_switchboard,
    "bare-uvloop": run_bare,
}


def worker(mode: str, port: int, calls: int, warmup: float, seconds: float) -> None:
    """Run one point and print it as JSON on the last line."""
    base = f"http://127.0.0.1:{port}"
    tuned_gc = mode != "switchboard-defaultgc"
    runner = RUNNERS[mode]

    def work() -> Coroutine[Any, Any, tuple[dict[str, Any], str]]:
        return runner(base, calls, warmup, seconds, tuned_gc)

    if mode in ON_MONITOR_LOOP:  # where activities/monitor.py runs a slice
        result, note = asyncio.run(MONITORS.run(work))
    else:
        result, note = asyncio.run(work())
    on_uvloop = mode in ON_MONITOR_LOOP and new_loop.__module__.startswith("uvloop")
    note = f"{note}; {'uvloop' if on_uvloop else 'asyncio'} loop"
    print(json.dumps({"mode": mode, **result, "note": note}), flush=True)


# --------------------------------------------------------------------------------- the driver


def measure_point(mode: str, calls: int, warmup: float, seconds: float) -> Point:
    """Start the source on core 1 and the worker on core 0; bounded in time; both stop."""
    me = [sys.executable, "-m", "bench.capacity"]
    budget = RAMP_TIMEOUT_SECONDS + warmup + seconds + END_TIMEOUT_SECONDS + 30
    source = subprocess.Popen(  # noqa: S603  # this module, this interpreter
        [*me, "_source", "--cpu", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert source.stdout is not None
        port = int(source.stdout.readline())
        done = subprocess.run(  # noqa: S603
            [
                *me,
                "_worker",
                "--cpu",
                "0",
                "--mode",
                mode,
                "--port",
                str(port),
                "--calls",
                str(calls),
                "--warmup",
                str(warmup),
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            timeout=budget,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(mode, calls, f"worker exceeded {budget:.0f}s")
    finally:
        assert source.stdin is not None
        source.stdin.close()
        try:
            source.wait(timeout=10)
        except subprocess.TimeoutExpired:
            source.kill()
            source.wait()
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return _failed(mode, calls, f"worker exit {done.returncode}: {done.stderr.strip()[-200:]}")
    return Point(**json.loads(lines[-1]))


def _failed(mode: str, calls: int, note: str) -> Point:
    nan = float("nan")
    return Point(
        mode,
        calls,
        0,
        0.0,
        0,
        float(calls * EVENTS_PER_SECOND),
        0.0,
        nan,
        nan,
        nan,
        nan,
        nan,
        note=note,
    )


def report(points: list[Point], plot: str | None) -> None:
    """Print the curve, the max N per mode and their ratio; optionally draw it."""
    print(f"# Monitor capacity, one worker core ({machine()})\n")
    print(
        f"{EVENTS_PER_SECOND} events/s per call; pass = all attached, >= {HANDLED_FLOOR:.0%} of "
        f"offered events handled, p99 lag < {LAG_LIMIT_MS:.0f} ms.\n"
    )
    headers = [
        "mode",
        "calls",
        "attached",
        "handled ev/s",
        "% offered",
        "p50 lag ms",
        "p99 lag ms",
        "worker CPU (cores)",
        "CPU ms/s per call",
        "CPU us/event",
        "RSS KiB/call",
        "GC ms in window",
        "longest GC ms",
        "full GCs",
        "others on worker core",
        "source CPU (cores)",
        "pass",
        "note",
    ]
    rows = [
        [
            p.mode,
            p.calls,
            p.attached,
            p.handled_per_s,
            100 * p.handled_per_s / p.offered_per_s,
            p.p50_ms,
            p.p99_ms,
            p.cpu_core_share,
            1000 * p.cpu_core_share / p.calls,
            p.cpu_us_per_event,
            p.rss_kib_per_call,
            p.gc_total_ms,
            p.gc_longest_ms,
            p.gc_full,
            p.others_core_share,
            p.source_cpu_share,
            "yes" if p.ok else "no",
            p.note,
        ]
        for p in points
    ]
    print(table(headers, rows))
    best: dict[str, int] = {}
    for mode in dict.fromkeys(p.mode for p in points):
        best[mode] = capacity(points, mode)
        print(
            f"\nCapacity (largest N passing, with every smaller tested N passing too), {mode}: "
            f"{best[mode] or 'none passed'}"
        )
    if best.get("naive") and "switchboard" in best:
        print(f"Ratio switchboard / naive: {best['switchboard'] / best['naive']:.2f}")
    if plot:
        draw(points, plot)
        print(f"\nPlot written to {plot}")


def capacity(points: list[Point], mode: str) -> int:
    """Largest N of ``mode`` that passed with every smaller tested N passing too (0: none)."""
    best = 0
    for point in sorted((p for p in points if p.mode == mode), key=lambda p: p.calls):
        if not point.ok:
            break
        best = point.calls
    return best


def draw(points: list[Point], path: str) -> None:
    """Lag, worker CPU and handled share against N, one line per mode (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (lag, cpu, handled) = plt.subplots(1, 3, figsize=(15, 4.4))
    for mode, marker in zip(ALL_MODES, ("o", "s", "^", "x", "D", "v"), strict=True):
        mine = sorted((p for p in points if p.mode == mode and p.attached), key=lambda p: p.calls)
        if not mine:
            continue
        calls = [p.calls for p in mine]
        (line,) = lag.plot(calls, [p.p99_ms for p in mine], marker=marker, label=f"{mode} p99")
        lag.plot(
            calls,
            [p.p50_ms for p in mine],
            marker=marker,
            linestyle=":",
            color=line.get_color(),
            label=f"{mode} p50",
        )
        cpu.plot(calls, [p.cpu_core_share for p in mine], marker=marker, label=mode)
        handled.plot(
            calls,
            [p.handled_per_s / p.offered_per_s * 100 for p in mine],
            marker=marker,
            label=mode,
        )
    lag.axhline(LAG_LIMIT_MS, color="red", linewidth=1, linestyle="--", label="100 ms")
    lag.set(
        xlabel="concurrent calls on one core",
        ylabel="event lag (ms, log)",
        yscale="log",
        title="Event lag vs calls",
    )
    cpu.axhline(1.0, color="grey", linewidth=1, linestyle="--")
    cpu.set(
        xlabel="concurrent calls on one core",
        ylabel="worker CPU (cores)",
        title="Worker CPU",
        ylim=(0, 1.1),
    )
    handled.axhline(HANDLED_FLOOR * 100, color="red", linewidth=1, linestyle="--", label="95 %")
    handled.set(
        xlabel="concurrent calls on one core",
        ylabel="% of offered events handled (> 100: a backlog drained)",
        title=f"Throughput ({EVENTS_PER_SECOND} events/s per call offered)",
        ylim=(0, max([110.0] + [p.handled_per_s / p.offered_per_s * 105 for p in points])),
    )
    lag.legend(fontsize=7, loc="upper left", ncols=2)
    for axes in (cpu, handled):
        axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    """Driver by default; ``_source`` and ``_worker`` are the two pinned child roles."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    # The child roles and their options are how the driver starts its two pinned processes.
    internal = argparse.SUPPRESS
    parser.add_argument(
        "role", nargs="?", default="run", choices=["run", "_source", "_worker"], help=internal
    )
    parser.add_argument("--calls", default="100,500,1000,2000,3000", help="concurrent calls")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per point")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--modes", default=",".join(MODES), help=f"some of {','.join(ALL_MODES)}")
    parser.add_argument("--plot", default=None, help="write the curve as a PNG here")
    parser.add_argument(
        "--no-transcript",
        action="store_true",
        help="switchboard modes without the live transcript writer (else on, into Azurite)",
    )
    parser.add_argument("--cpu", type=int, default=0, help=internal)
    parser.add_argument("--mode", default="switchboard", choices=ALL_MODES, help=internal)
    parser.add_argument("--port", type=int, default=0, help=internal)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.role == "_source":
        pin(args.cpu)
        raise_fd_limit()
        asyncio.run(serve_source(EVENTS_PER_SECOND))
        return
    if args.role == "_worker":
        pin(args.cpu)
        raise_fd_limit()
        worker(args.mode, args.port, int(args.calls), args.warmup, args.seconds)
        return
    calls = sorted({int(c) for c in args.calls.split(",") if c.strip()})
    modes = [m for m in args.modes.split(",") if m in ALL_MODES]
    if not calls or not all(1 <= c <= 5000 for c in calls) or not modes:
        parser.error(f"--calls takes integers 1..5000; --modes some of {','.join(ALL_MODES)}")
    if not 1 <= args.seconds <= 120 or not 0 <= args.warmup <= 30:
        parser.error("--seconds must be 1..120 and --warmup 0..30")
    with contextlib.ExitStack() as stack:
        if not args.no_transcript and any(m.startswith("switchboard") for m in modes):
            command = azurite_command()
            if command is None:
                parser.error("the live transcript needs Azurite: npm ci --ignore-scripts")
            everywhere = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {1})  # Azurite (and its threads) beside the source, not
            try:  # on the worker's core: it is the storage service, not the worker's work
                azurite = stack.enter_context(AzuriteProcess(command))
            finally:
                os.sched_setaffinity(0, everywhere)
            os.environ[STORE_ENV] = azurite.connection_string  # the workers inherit it
        points = run_points(modes, calls, args.warmup, args.seconds)
    report(points, args.plot)


def run_points(modes: list[str], calls: list[int], warmup: float, seconds: float) -> list[Point]:
    """Every point, mode by mode; a naive worker that cannot hold its calls ends its curve."""
    points = []
    for mode in modes:
        for n in calls:
            point = measure_point(mode, n, warmup, seconds)
            print(
                f"{mode:>21} N={n:<5} p99={point.p99_ms:.1f} ms handled="
                f"{point.handled_per_s:,.0f}/{point.offered_per_s:,.0f} ev/s "
                f"{'pass' if point.ok else 'FAIL'} {point.note}",
                file=sys.stderr,
                flush=True,
            )
            points.append(point)
            if mode == "naive" and not point.ok and point.attached < n:
                break  # cannot even hold the calls: larger N only takes longer to fail
    return points


if __name__ == "__main__":
    main()
