"""scripts/run-local's first steps, run for real in a scratch copy of the project (no installs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASH = shutil.which("bash") or "/bin/bash"


def scratch(tmp_path: Path) -> Path:
    """The script and the settings example, as a fresh clone has them (no .venv)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "run-local", tmp_path / "scripts" / "run-local")
    shutil.copy2(ROOT / "local.settings.json.example", tmp_path)
    return tmp_path


def run(project: Path, python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  # the project's own script
        [BASH, str(project / "scripts" / "run-local")],
        cwd=project,
        env={**os.environ, "PYTHON": python},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unsupported_python_stops_it_after_writing_the_settings_and_before_any_venv(
    tmp_path: Path,
) -> None:
    project = scratch(tmp_path)
    done = run(project, sys.executable if sys.version_info >= (3, 13) else "/bin/false")
    assert done.returncode == 1
    assert "is not Python 3.11 or 3.12 (azure-functions needs < 3.13)" in done.stderr
    settings = project / "local.settings.json"
    assert settings.read_text() == (project / "local.settings.json.example").read_text()
    assert not (project / ".venv").exists()


@pytest.mark.skipif(shutil.which("python3.13") is None, reason="no python3.13 on this machine")
def test_python_3_13_leaves_no_venv_behind(tmp_path: Path) -> None:
    project = scratch(tmp_path)
    done = run(project, "python3.13")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PYTHON=python3.13 is not Python 3.11 or 3.12" in done.stderr
    assert not (project / ".venv").exists()


def test_its_azurite_takes_the_storage_sdks_newer_service_versions() -> None:
    """Without the flag Azurite refuses every call-store request of the pinned SDKs with
    "The API version ... is not supported by Azurite", and the demo's record lists the failures
    (the tests start theirs with the same flag: ``tests/support/azurite.py``)."""
    script = (ROOT / "scripts" / "run-local").read_text(encoding="utf-8")
    starts = [line for line in script.splitlines() if "node_modules/.bin/azurite --silent" in line]
    assert len(starts) == 1
    assert "--skipApiVersionCheck" in starts[0].split()
