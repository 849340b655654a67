"""Serve function_app.py on 127.0.0.1 without Core Tools, in the Durable host the tests use.

Orchestrations, activities, entities, timers and HTTP functions run in this one process.
Like `func start`, it reads local.settings.json (Values become environment variables; a variable
already set wins) and logs every function execution and each orchestration's progress.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .durable_host import indexed_functions
from .server import DevHost, Keys
from .settings import LocalSettingsError, apply_local_settings

logger = logging.getLogger("devhost")

DEFAULT_PORT = 7071
_QUIET_LOGGERS = ("azure", "aiohttp.access", "openai", "asyncio")  # the app's HTTP requests stay


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help with the description as written and each real default shown once."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m devhost``."""
    root = argparse.ArgumentParser(
        prog="python -m devhost",
        description=__doc__,
        formatter_class=_Help,
    )
    root.add_argument(
        "--port",
        type=int,
        help=f"port on 127.0.0.1; 0 picks a free one (default: local.settings.json "
        f"Host.LocalHttpPort, else {DEFAULT_PORT})",
    )
    root.add_argument("--script-root", default=".", help="the app's folder (function_app.py)")
    root.add_argument(
        "--settings", default="local.settings.json", help="settings file, relative to the root"
    )
    root.add_argument(
        "--function-key", help="key for authLevel=function routes (default: a random one, printed)"
    )
    root.add_argument(
        "--master-key",
        help="key for admin routes and the Durable HTTP API (default: a random one, printed)",
    )
    root.add_argument(
        "--no-auth",
        action="store_true",
        help="check no keys, as func start does without --enableAuth",
    )
    root.add_argument("--verbose", action="store_true", help="debug logs, the SDKs' included")
    return root


def configure_logging(verbose: bool) -> None:
    """``[2026-01-01T10:00:00.000Z] message`` lines on stdout, as ``func start`` writes them."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_UtcFormatter("[%(asctime)s] %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    if not verbose:
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _task_hub(root: Path) -> str:
    """``extensions.durableTask.hubName`` from host.json, as the extension names the task hub."""
    try:
        host = json.loads((root / "host.json").read_text(encoding="utf-8"))
        return str(host["extensions"]["durableTask"]["hubName"])
    except (OSError, ValueError, KeyError, TypeError):
        return "TestHubName"


def _check_app_settings() -> None:
    """Say at start what the app would say at its first call: which settings are wrong."""
    from switchboard.settings import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as exc:
        logger.error("The app's settings are not valid; calls will fail until fixed: %s", exc)


async def serve(app: Any, port: int, keys: Keys | None, hub: str) -> int:
    """Serve until Ctrl-C or SIGTERM, then close the app's connection as worker shutdown does."""
    from switchboard.connection import close_connection

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        dev = DevHost(indexed_functions(app), port=port, keys=keys, task_hub=hub)
        async with dev:
            print("\nFunctions:\n", flush=True)
            for line in dev.function_lines():
                print(f"        {line}", flush=True)
            if keys is None:
                print("\nKeys: not checked (--no-auth)", flush=True)
            else:
                print(f"\nFunction key: {keys.function}", flush=True)
                print(f"Master key:   {keys.master}", flush=True)
                print("  (send as ?code=<key> or the x-functions-key header)", flush=True)
            print(f"\nHost started: {dev.base_url} (Ctrl-C stops it)\n", flush=True)
            await stop.wait()
            logger.info("Stopping the host.")
        await close_connection()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(
            f"devhost: port {port} on 127.0.0.1 is already in use (another func start or "
            "python -m devhost?); stop it, or pick another port with --port",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m devhost``."""
    args = parser().parse_args(argv)
    configure_logging(args.verbose)
    root = Path(args.script_root).resolve()
    if not (root / "function_app.py").is_file():
        print(f"devhost: no function_app.py in {root} (see --script-root)", file=sys.stderr)
        return 2
    os.chdir(root)
    sys.path.insert(0, str(root))
    try:
        local = apply_local_settings(root / args.settings)
    except LocalSettingsError as exc:
        print(f"devhost: {exc}", file=sys.stderr)
        return 2
    port = args.port if args.port is not None else local.port or DEFAULT_PORT
    keys = None
    if not args.no_auth:
        keys = Keys(
            function=args.function_key or secrets.token_urlsafe(24),
            master=args.master_key or secrets.token_urlsafe(24),
        )
    _check_app_settings()
    import function_app

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(function_app.app, port, keys, _task_hub(root)))
    return 130
