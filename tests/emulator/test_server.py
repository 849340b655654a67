from __future__ import annotations

import asyncio
import io
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from openai import AsyncOpenAI

from emulator import Emulator, EmulatorConfig
from emulator.cli import call, format_entry, parser
from tests.emulator.emulator_testkit import API_KEY, SECRET, FakeApp

REPO_ROOT = Path(__file__).resolve().parents[2]


async def test_starts_fast_on_loopback_only() -> None:
    started = time.monotonic()
    async with Emulator() as emu:
        elapsed = time.monotonic() - started
        assert emu.base_url.startswith("http://127.0.0.1:")
        runner = emu._runner
        assert runner is not None
        assert [address[0] for address in runner.addresses] == ["127.0.0.1"]
    assert elapsed < 1.0


def test_config_refuses_non_loopback_and_reports_every_problem() -> None:
    with pytest.raises(ValueError, match="host must be a loopback") as error:
        EmulatorConfig(host="192.0.2.1", ring_timeout_seconds=0, webhook_secret="whsec_!!")
    assert "ring_timeout_seconds must be > 0" in str(error.value)
    assert "webhook_secret must be 'whsec_' followed by base64" in str(error.value)


async def test_unanswered_call_times_out_with_408(emu: Emulator) -> None:
    app = FakeApp(emu.base_url, answer="ignore")
    await app.start()
    try:
        call_id = await emu.place_call("greeting", app.url)
        view = await emu.wait_for_end(call_id, timeout=3)
    finally:
        await app.close()
    assert (view["state"], view["reason"], view["sip_status"]) == ("ended", "ring_timeout", 408)
    assert view["expectation_errors"]  # the greeting never happened


async def test_app_rejecting_is_heard_as_486(emu: Emulator) -> None:
    app = FakeApp(emu.base_url, answer="reject")
    await app.start()
    try:
        call_id = await emu.place_call("greeting", app.url)
        view = await emu.wait_for_end(call_id, timeout=3)
    finally:
        await app.close()
    assert (view["reason"], view["sip_status"], view["accept_count"]) == ("rejected", 486, 0)


async def test_http_api_for_humans(emu: Emulator, app: FakeApp) -> None:
    async with aiohttp.ClientSession(base_url=emu.base_url) as http:
        async with http.get("/emulator/health") as response:
            assert (await response.json())["status"] == "ok"
        async with http.post(
            "/emulator/calls", json={"scenario": "nope", "webhook_url": app.url}
        ) as response:
            assert response.status == 400
            assert (await response.json())["error"]["param"] == "scenario"
        async with http.post(
            "/emulator/calls", json={"scenario": "greeting", "webhook_url": "ftp://x"}
        ) as response:
            assert (await response.json())["error"]["param"] == "webhook_url"
        async with http.post("/emulator/calls", data=b"[") as response:
            assert response.status == 400
        body = {"scenario": "greeting", "webhook_url": app.url, "time_scale": 0.01}
        async with http.post("/emulator/calls", json=body) as response:
            assert response.status == 201
            call_id = (await response.json())["call_id"]
        await emu.wait_for_end(call_id, timeout=5)
        async with http.get("/emulator/calls") as response:
            (listed,) = (await response.json())["calls"]
            assert listed["call_id"] == call_id
            assert "timeline" not in listed
        async with http.get(f"/emulator/calls/{call_id}") as response:
            assert await response.json() == emu.timeline(call_id)
        async with http.get("/emulator/calls/rtc_nope") as response:
            assert response.status == 404


async def test_http_caller_hangup_and_drop(emu: Emulator) -> None:
    call_id = await emu.place_call("greeting", "http://127.0.0.1:9/unused")
    async with aiohttp.ClientSession(base_url=emu.base_url) as http:
        async with http.post(f"/emulator/calls/{call_id}/drop-sockets") as response:
            assert await response.json() == {"dropped": 0}
        async with http.post(f"/emulator/calls/{call_id}/caller-hangup") as response:
            assert (await response.json())["sip_status"] == 487


async def test_cli_call_on_a_running_emulator(emu: Emulator, app: FakeApp) -> None:
    argv = ["call", "--scenario", "greeting", "--webhook-url", app.url, "--time-scale", "0.01"]
    out = io.StringIO()
    assert await call(parser().parse_args([*argv, "--emulator-url", emu.base_url]), out) == 0
    text = out.getvalue()
    assert "POST /openai/v1/realtime/calls/" in text
    assert "-> response.done" in text
    assert "state=ended reason=caller_hangup sip=200 accepts=1" in text
    assert "scenario expectations met" in text


async def test_cli_call_in_process() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = FakeApp(f"http://127.0.0.1:{port}")
    await app.start()
    argv = ["call", "--scenario", "end_call", "--webhook-url", app.url, "--port", str(port)]
    argv += ["--api-key", API_KEY, "--secret", SECRET, "--timeout", "5"]
    out = io.StringIO()
    try:
        assert await call(parser().parse_args(argv), out) == 0
    finally:
        await app.close()
    text = out.getvalue()
    assert f"in-process emulator on http://127.0.0.1:{port}" in text
    assert '\'{"reason":"caller_done"}\'' in text  # the tool call's arguments
    assert "reason=hangup" in text


def test_format_entry_is_readable() -> None:
    line = format_entry(
        "rtc_0123456789abcdef",
        {
            "seq": 3,
            "t": 0.25,
            "kind": "state",
            "previous": "ringing",
            "state": "active",
            "reason": None,
            "sip_status": 200,
        },
    )
    assert (
        line == "rtc_01234567… +  0.250s  state           ringing -> active (reason=None, sip=200)"
    )


async def test_session_limit_ends_the_call(config: EmulatorConfig) -> None:
    limited = replace(config, ring_timeout_seconds=0.05, max_call_seconds=0.3)
    async with (
        Emulator(limited) as emu,
        AsyncOpenAI(base_url=emu.base_url + "/openai/v1/", api_key=API_KEY) as sdk,
    ):
        call_id = await emu.place_call("greeting", "http://127.0.0.1:9/unused")
        await sdk.realtime.calls.accept(call_id, type="realtime", model="m", instructions="i")
        view = await emu.wait_for_end(call_id, timeout=2)
    assert (view["state"], view["reason"]) == ("ended", "session_limit")


async def test_any_bearer_token_when_configured(config: EmulatorConfig) -> None:
    async with (
        Emulator(replace(config, accept_any_bearer_token=True)) as emu,
        AsyncOpenAI(base_url=emu.base_url + "/openai/v1/", api_key="eyJ.entra.token") as sdk,
    ):
        call_id = await emu.place_call("greeting", "http://127.0.0.1:9/unused")
        await sdk.realtime.calls.reject(call_id)
        assert emu.calls[call_id].sip_status == 603


async def test_serve_command_runs_on_loopback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulator",
        "serve",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(10):
            line = await process.stdout.readline()
        assert f"emulator listening on http://127.0.0.1:{port}" in line.decode()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/emulator/health") as response,
        ):
            assert (await response.json())["status"] == "ok"
    finally:
        process.terminate()
        await process.wait()
