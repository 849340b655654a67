"""The command line's first-run friction: a taken port, custom scenario files, secrets, --help."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import sys
from pathlib import Path

import pytest

from emulator import DEFAULT_WEBHOOK_SECRET, Emulator
from emulator.cli import call, parser
from tests.emulator.emulator_testkit import API_KEY, SECRET, FakeApp

REPO_ROOT = Path(__file__).resolve().parents[2]
CUSTOM = """description = "A custom caller who only says hello."
[expect]
state = "ended"
reason = "caller_hangup"
[[steps]]
action = "wait_for"
until = "response_done"
[[steps]]
action = "say"
text = "Hello from a custom file."
reply = "Hello to you."
[[steps]]
action = "hangup"
"""


async def run_module(*argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulator",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    async with asyncio.timeout(20):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_taken_port_is_one_line_saying_what_to_do(emu: Emulator) -> None:
    port = emu.base_url.rsplit(":", 1)[1]
    for command in (["serve"], ["call", "--scenario", "greeting", "--webhook-url", "http://x"]):
        status, out, err = await run_module(*command, "--port", port)
        assert status == 2
        assert err.count("\n") == 1, err
        assert f"port {port} on 127.0.0.1 is already in use" in err
        assert "--port" in err
        assert "Traceback" not in err + out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_scenario_files_run_in_process_and_on_a_running_emulator(
    emu: Emulator, app: FakeApp, tmp_path: Path
) -> None:
    path = tmp_path / "hello_caller.toml"
    path.write_text(CUSTOM)
    argv = ["call", "--scenario", str(path), "--webhook-url", app.url, "--time-scale", "0.01"]
    out = io.StringIO()
    assert await call(parser().parse_args([*argv, "--emulator-url", emu.base_url]), out) == 0
    assert "(hello_caller): state=ended reason=caller_hangup" in out.getvalue()
    assert "'Hello to you.'" in out.getvalue()
    (placed,) = emu.calls.values()
    assert placed.scenario.description == "A custom caller who only says hello."

    port = free_port()
    own_app = FakeApp(f"http://127.0.0.1:{port}")
    await own_app.start()
    argv = ["call", "--scenario", str(path), "--webhook-url", own_app.url, "--port", str(port)]
    argv += ["--api-key", API_KEY, "--secret", SECRET, "--timeout", "5"]
    out = io.StringIO()
    try:
        assert await call(parser().parse_args(argv), out) == 0
    finally:
        await own_app.close()
    assert "(hello_caller): state=ended reason=caller_hangup" in out.getvalue()


def test_bad_scenario_files_are_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[[steps]]\naction = "dance"\n')
    for scenario, message in [
        (str(path), "steps[0].action must be one of"),
        ("nope", "unknown scenario 'nope': not a file"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            parser().parse_args(["call", "--scenario", scenario, "--webhook-url", "http://x"])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "secret",
    [
        "my-shared-secret",  # the SDK would take it raw; the app refuses it
        "whsec_",
        "whsec_short",
        "whsec_not base64 at all!",
        "WHSEC_c3dpdGNoYm9hcmQtbG9jYWw=",
    ],
)
@pytest.mark.parametrize("command", ["serve", "call"])
def test_secrets_the_app_refuses_are_refused(
    secret: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--scenario", "greeting", "--webhook-url", "http://x"] if command == "call" else []
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args([command, *extra, "--secret", secret])
    assert exit_.value.code == 2
    assert "'whsec_' followed by base64" in capsys.readouterr().err


def test_good_secrets_are_taken() -> None:
    for secret in (DEFAULT_WEBHOOK_SECRET, SECRET):
        assert parser().parse_args(["serve", "--secret", secret]).secret == secret


@pytest.mark.parametrize(
    ("command", "defaults"),
    [
        (
            "serve",
            [
                "(default: 127.0.0.1)",
                "(default: 8765)",
                "(default: switchboard-local-emulator-key)",
                f"(default: {DEFAULT_WEBHOOK_SECRET})",
                "(default: 30.0)",
            ],
        ),
        ("call", ["(default: 8765)", "(default: 1.0)", "(default: 300.0)", "(default: None)"]),
    ],
)
def test_help_shows_defaults(
    command: str, defaults: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no line breaks inside a default
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        parser().parse_args([command, "--help"])
    text = " ".join(out.getvalue().split())
    for default in defaults:
        assert default in text, (default, text)
