"""``python -m bench.capacity --help`` shows what a user runs, not the driver's child roles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_help_hides_the_internal_roles_and_shows_defaults() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "bench.capacity", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "usage: python -m bench.capacity [-h] [--calls CALLS]" in shown
    for internal in ("_source", "_worker", "--cpu", "--mode ", "--port", "role"):
        assert internal not in shown, internal
    assert "(default: 100,500,1000,2000,3000)" in shown
