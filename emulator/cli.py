"""Command line: `python -m emulator serve` and `python -m emulator call` (see README.md)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import errno
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from .config import (
    DEFAULT_API_KEY,
    DEFAULT_PORT,
    DEFAULT_WEBHOOK_SECRET,
    LOOPBACK_HOSTS,
    EmulatorConfig,
)
from .events import JsonDict
from .scenario import SCENARIOS, ScenarioError, load_scenario
from .server import Emulator

_FINAL_STATES = ("ended", "transferred")


def format_entry(call_id: str, entry: JsonDict) -> str:
    """One timeline entry as a line a human can scan."""
    kind = entry["kind"]
    detail: str
    match kind:
        case "request":
            detail = f"{entry['method']} {entry['path']} [{entry['auth']}] -> {entry['status']}"
        case "event_sent" | "event_received":
            arrow = "->" if kind == "event_sent" else "<-"
            detail = f"{arrow} {entry['type']}{_said(entry.get('payload'))}"
        case "state":
            detail = f"{entry['previous']} -> {entry['state']}"
            detail += f" (reason={entry['reason']}, sip={entry['sip_status']})"
        case "webhook":
            outcome = entry["status"] if entry["status"] is not None else entry["error"]
            detail = f"copy {entry['copy']} attempt {entry['attempt']} -> {outcome}"
        case "script":
            detail = entry.get("status") or f"{entry['step']} {entry['action']}"
        case _:
            detail = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("seq", "t", "kind"))
    return f"{call_id[:12]}… +{entry['t']:7.3f}s  {kind:<15} {detail}"


def _said(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    text = payload.get("transcript") or payload.get("arguments")
    return f"  {text!r}" if isinstance(text, str) and text else ""


def summary(view: JsonDict) -> str:
    """The outcome of a call in two lines."""
    errors = view["expectation_errors"]
    outcome = "scenario expectations met" if not errors else "NOT met: " + "; ".join(errors)
    return (
        f"call {view['call_id']} ({view['scenario']}): state={view['state']} "
        f"reason={view['reason']} sip={view['sip_status']} accepts={view['accept_count']} "
        f"refer={view['refer_targets']}\n{outcome}"
    )


def _printer(out: TextIO) -> Any:
    def listener(call_id: str, entry: JsonDict) -> None:
        print(format_entry(call_id, entry), file=out, flush=True)

    return listener


async def serve(args: argparse.Namespace, out: TextIO) -> int:
    """Run an emulator until interrupted, printing every call's timeline as it happens."""
    config = EmulatorConfig(
        api_key=args.api_key,
        webhook_secret=args.secret,
        host=args.host,
        port=args.port,
        ring_timeout_seconds=args.ring_timeout,
        accept_any_bearer_token=args.accept_any_bearer_token,
    )
    async with _running(config, out) as emu:
        print(
            f"emulator listening on {emu.base_url}  (API base {emu.base_url}/openai/v1)",
            file=out,
            flush=True,
        )
        await asyncio.Event().wait()
    return 0


async def call(args: argparse.Namespace, out: TextIO) -> int:
    """Place one call (on a running emulator, or an in-process one) and print it until it ends."""
    if args.emulator_url:
        view = await _call_remote(args, out)
    else:
        config = EmulatorConfig(api_key=args.api_key, webhook_secret=args.secret, port=args.port)
        async with _running(config, out) as emu:
            print(f"in-process emulator on {emu.base_url}", file=out, flush=True)
            call_id = await emu.place_call(
                args.scenario, args.webhook_url, time_scale=args.time_scale
            )
            view = await emu.wait_for_end(call_id, timeout=args.timeout)
    print(summary(view), file=out, flush=True)
    return 0 if not view["expectation_errors"] else 1


async def _call_remote(args: argparse.Namespace, out: TextIO) -> JsonDict:
    base = args.emulator_url.rstrip("/")
    body: JsonDict = {
        "scenario": args.scenario,
        "webhook_url": args.webhook_url,
        "time_scale": args.time_scale,
    }
    if args.scenario not in SCENARIOS:  # a file: the running emulator gets its text
        path = Path(args.scenario)
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        body.update(scenario=path.stem, scenario_toml=text)
    async with aiohttp.ClientSession(raise_for_status=True) as http, asyncio.timeout(args.timeout):
        async with http.post(f"{base}/emulator/calls", json=body) as response:
            call_id = (await response.json())["call_id"]
        printed = 0
        while True:
            async with http.get(f"{base}/emulator/calls/{call_id}") as response:
                view: JsonDict = await response.json()
            for entry in view["timeline"][printed:]:
                print(format_entry(call_id, entry), file=out, flush=True)
            printed = len(view["timeline"])
            if view["state"] in _FINAL_STATES and view["open_sockets"] == 0:
                return view
            await asyncio.sleep(0.2)


class PortInUse(Exception):
    """The port the emulator should listen on is taken; the message says what to do."""


def _secret(value: str) -> str:
    """A webhook secret the app also takes: ``whsec_`` + base64 of a non-empty key."""
    problem = "it must be a Standard Webhooks secret: 'whsec_' followed by base64"
    if value.startswith("whsec_") and len(value) >= 16:
        try:
            if base64.b64decode(value.removeprefix("whsec_"), validate=True):
                return value
        except binascii.Error:
            pass
    raise argparse.ArgumentTypeError(
        f"{problem} (the app refuses anything else), e.g. {DEFAULT_WEBHOOK_SECRET}"
    )


def _scenario(value: str) -> str:
    """A shipped scenario name, or a scenario file (parsed now, so errors show at once)."""
    try:
        load_scenario(value)
    except ScenarioError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def _command(commands: Any, name: str, help_: str) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = commands.add_parser(
        name, help=help_, description=help_, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    return sub


def parser() -> argparse.ArgumentParser:
    """The argument parser; every option's help shows its default."""
    root = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    serve_cmd = _command(commands, "serve", "run the emulator on loopback")
    serve_cmd.add_argument(
        "--host", default="127.0.0.1", choices=sorted(LOOPBACK_HOSTS), help="loopback address"
    )
    serve_cmd.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    serve_cmd.add_argument("--api-key", default=DEFAULT_API_KEY, help="key the app must send")
    serve_cmd.add_argument(
        "--secret", type=_secret, default=DEFAULT_WEBHOOK_SECRET, help="webhook secret (whsec_...)"
    )
    serve_cmd.add_argument(
        "--ring-timeout", type=float, default=30.0, help="seconds before SIP 408"
    )
    serve_cmd.add_argument(
        "--accept-any-bearer-token", action="store_true", help="accept e.g. Entra ID tokens"
    )
    call_cmd = _command(commands, "call", "place a call and print its timeline")
    call_cmd.add_argument(
        "--scenario",
        required=True,
        type=_scenario,
        help=f"a scenario file (format: emulator/README.md) or one of: {', '.join(SCENARIOS)}",
    )
    call_cmd.add_argument("--webhook-url", required=True, help="the app's webhook endpoint")
    call_cmd.add_argument(
        "--emulator-url", help="a running emulator (python -m emulator serve); default: in-process"
    )
    call_cmd.add_argument(
        "--secret", type=_secret, default=DEFAULT_WEBHOOK_SECRET, help="in-process emulator only"
    )
    call_cmd.add_argument("--api-key", default=DEFAULT_API_KEY, help="in-process emulator only")
    call_cmd.add_argument("--port", type=int, default=DEFAULT_PORT, help="in-process emulator only")
    call_cmd.add_argument("--time-scale", type=float, default=1.0, help="multiplies scenario waits")
    call_cmd.add_argument("--timeout", type=float, default=300.0, help="give up after this long")
    return root


@contextlib.asynccontextmanager
async def _running(config: EmulatorConfig, out: TextIO) -> Any:
    """An emulator on the configured port; a taken port is one clear line, not a traceback."""
    emulator = Emulator(config, listener=_printer(out))
    try:
        await emulator.start()
    except OSError as error:
        await emulator.close()
        if error.errno != errno.EADDRINUSE:
            raise
        raise PortInUse(
            f"port {config.port} on {config.host} is already in use (another emulator?): "
            "stop what holds it, or pick another port with --port (0 = any free port)"
        ) from None
    try:
        yield emulator
    finally:
        await emulator.close()


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Entry point of `python -m emulator`."""
    args = parser().parse_args(argv)
    command = serve if args.command == "serve" else call
    with contextlib.suppress(KeyboardInterrupt):
        try:
            return asyncio.run(command(args, out))
        except PortInUse as error:
            print(f"python -m emulator {args.command}: {error}", file=sys.stderr)
            return 2
    return 130
