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


def test_a_small_point_runs_the_product_monitor_loop_with_the_live_transcript(
    azurite: object,
) -> None:
    """20 calls for 1 s, end to end: the table says what ran (no timing is asserted)."""
    shown = subprocess.run(  # noqa: S603  # this interpreter, fixed arguments
        [
            *(sys.executable, "-m", "bench.capacity"),
            *("--calls", "20", "--seconds", "1", "--warmup", "0.5"),
            *("--modes", "switchboard,bare"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    ).stdout
    rows = [line for line in shown.splitlines() if line.startswith("| switchboard ")]
    assert len(rows) == 1, shown
    assert "20/20 slices ended call_ended; live transcript on (Azurite); uvloop loop" in rows[0]
    bare = [line for line in shown.splitlines() if line.startswith("| bare ")]
    assert "20/20 sockets closed; asyncio loop" in bare[0]
