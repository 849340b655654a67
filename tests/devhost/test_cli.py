"""``python -m devhost`` as a user runs it: a subprocess serving the app, a call through it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from emulator import Emulator
from emulator.config import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
CALL_TIMEOUT = 20.0
FUNCTION_KEY = "test-function-key"
MASTER_KEY = "test-master-key"


@dataclass
class Served:
    """A running ``python -m devhost`` and everything it has printed so far."""

    process: asyncio.subprocess.Process
    base_url: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def settings_file(tmp_path: Path, emulator: Emulator) -> Path:
    """A local.settings.json like the example's, pointing at the test's emulator."""
    example = json.loads((ROOT / "local.settings.json.example").read_text())
    example["Values"] |= {
        "AZURE_OPENAI_ENDPOINT": emulator.base_url,
        "AZURE_OPENAI_API_KEY": DEFAULT_API_KEY,
        "OPENAI_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET,
    }
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps(example))
    return path


def clean_env(settings: Path) -> dict[str, str]:
    """This process's environment without the settings' names, so the file is what sets them."""
    names = json.loads(settings.read_text())["Values"]
    return {k: v for k, v in os.environ.items() if k not in names}


async def _pump(served: Served, started: asyncio.Future[str]) -> None:
    assert served.process.stdout is not None
    async for raw in served.process.stdout:
        line = raw.decode(errors="replace").rstrip()
        served.lines.append(line)
        if line.startswith("Host started: ") and not started.done():
            started.set_result(line.removeprefix("Host started: ").split()[0])
    if not started.done():
        started.set_exception(RuntimeError("devhost exited before it started"))


@pytest.fixture
async def devhost(tmp_path: Path, emulator: Emulator) -> AsyncIterator[Served]:
    """``python -m devhost`` on a free port, reading a settings file that names the emulator."""
    settings = settings_file(tmp_path, emulator)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devhost",
        "--port=0",
        f"--settings={settings}",
        f"--function-key={FUNCTION_KEY}",
        f"--master-key={MASTER_KEY}",
        cwd=ROOT,
        env=clean_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    served = Served(process)
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    pump = asyncio.create_task(_pump(served, started))
    try:
        async with asyncio.timeout(START_TIMEOUT):
            served.base_url = await started
        yield served
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        await pump


async def test_a_call_placed_through_the_emulator_runs_through_python_m_devhost(
    devhost: Served, emulator: Emulator
) -> None:
    call_id = await emulator.place_call(
        "greeting", webhook_url=f"{devhost.base_url}/api/calls/incoming", time_scale=0.2
    )
    timeline = await emulator.wait_for_end(call_id, timeout=CALL_TIMEOUT)
    assert timeline["accept_count"] == 1
    assert timeline["expectation_errors"] == []

    url = f"{devhost.base_url}/api/calls/{call_id}"
    async with aiohttp.ClientSession() as http, asyncio.timeout(CALL_TIMEOUT):
        async with http.get(url) as response:
            assert response.status == 401  # authLevel=function: no key, no record
        while True:
            async with http.get(url, headers={"x-functions-key": FUNCTION_KEY}) as response:
                assert response.status == 200
                view = await response.json()
            if view["record"] is not None:
                break
            await asyncio.sleep(0.1)
        management = f"{devhost.base_url}/runtime/webhooks/durabletask/instances/{call_id}"
        async with http.get(management, params={"code": FUNCTION_KEY}) as response:
            assert response.status == 401  # the Durable API takes the master key only
        async with http.get(management, params={"code": MASTER_KEY}) as response:
            assert (await response.json())["runtimeStatus"] == "Completed"
    assert view["record"]["end_reason"] == "caller_hangup"

    devhost.process.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await devhost.process.wait() == 0
    for line in (
        "incoming_call: [POST] ",
        "Executing 'Functions.incoming_call' (Reason=",
        "Executed 'Functions.accept_call' (Succeeded, Id=",
        f"{call_id}: Function 'call_orchestrator (Orchestrator)' started.",
        f"{call_id}: 'call_orchestrator (Orchestrator)' custom status "
        '{"phase":"active","commands":0}',
        f"{call_id}: Function 'call_orchestrator (Orchestrator)' completed.",
        "Stopping the host.",
    ):
        assert line in devhost.output, line
    assert "Traceback" not in devhost.output
    assert "Unclosed" not in devhost.output


async def test_a_port_in_use_is_one_line_naming_it(tmp_path: Path, emulator: Emulator) -> None:
    settings = settings_file(tmp_path, emulator)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "devhost",
            f"--port={port}",
            f"--settings={settings}",
            cwd=ROOT,
            env=clean_env(settings),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(START_TIMEOUT):
            _, err = await process.communicate()
    assert process.returncode == 1
    assert err.decode().strip().splitlines() == [
        f"devhost: port {port} on 127.0.0.1 is already in use (another func start or python -m "
        "devhost?); stop it, or pick another port with --port"
    ]
