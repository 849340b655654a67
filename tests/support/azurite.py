"""Azurite (the Azure Storage emulator) for the tests: started once per session, in memory.

It listens on 127.0.0.1 at ports the OS picks (``--blobPort 0`` and kin), read back from its
start-up lines, so parallel test runs never collide. It is the npm package ``azurite`` (pinned in
package.json; ``npm ci --ignore-scripts`` installs it into node_modules, which scripts/test and
.ci/run do). Without it the tests that need it are skipped with that instruction, except when
``SWITCHBOARD_REQUIRE_AZURITE=1`` (CI): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's fixed, publicly documented development key: not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_LISTENING = re.compile(r"Azurite (Blob|Table) service is successfully listening at (http://\S+)")
START_TIMEOUT_SECONDS = 30.0
INSTALL_HELP = (
    "Azurite is not installed: run `npm ci --ignore-scripts` in the repository root "
    "(installs only the azurite npm package into node_modules), or set AZURITE to its path"
)


@dataclass(frozen=True)
class Azurite:
    """A running Azurite: its service endpoints and a connection string for them."""

    blob_url: str
    table_url: str

    @property
    def connection_string(self) -> str:
        """The form ``AzureWebJobsStorage`` takes locally."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={self.blob_url}/{ACCOUNT};TableEndpoint={self.table_url}/{ACCOUNT};"
        )


def azurite_command() -> list[str] | None:
    """How to run Azurite here, or None when it is not installed."""
    path = os.environ.get("AZURITE") or str(ROOT / "node_modules" / ".bin" / "azurite")
    if not Path(path).exists():
        path = shutil.which("azurite") or ""
    if not path or shutil.which("node") is None:
        return None
    return [
        path,
        "--silent",
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableProductStyleUrl",
        *("--blobHost", "127.0.0.1", "--blobPort", "0"),
        *("--queueHost", "127.0.0.1", "--queuePort", "0"),
        *("--tableHost", "127.0.0.1", "--tablePort", "0"),
    ]


def skip_or_fail(reason: str) -> None:
    """Skip (a developer's machine) or fail (CI, ``SWITCHBOARD_REQUIRE_AZURITE=1``)."""
    if os.environ.get("SWITCHBOARD_REQUIRE_AZURITE") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class AzuriteProcess:
    """Start Azurite, wait for its ports, stop it on exit."""

    def __init__(self, command: list[str]) -> None:
        self._command = command
        self._process: subprocess.Popen[str] | None = None
        self._found: dict[str, str] = {}
        self._lines: list[str] = []
        self._both = threading.Event()

    def __enter__(self) -> Azurite:
        self._process = subprocess.Popen(  # noqa: S603  # a fixed command line, no shell
            self._command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._both.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                output = "\n".join(self._lines[-20:])
                raise RuntimeError(f"Azurite did not start; its output:\n{output}")
        return Azurite(blob_url=self._found["Blob"], table_url=self._found["Table"])

    def __exit__(self, *_: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:  # drained to the end, so Azurite never blocks on it
            if len(self._lines) < 1000:
                self._lines.append(line.rstrip())
            if match := _LISTENING.search(line):
                self._found[match.group(1)] = match.group(2).rstrip("/")
                if len(self._found) == 2:
                    self._both.set()
