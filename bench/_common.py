"""Shared helpers: app settings for a local emulator, percentiles, plain-text tables."""

from __future__ import annotations

import atexit
import functools
import math
import os
import platform
from collections.abc import Sequence

from emulator.config import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET
from switchboard.settings import get_settings
from tests.support.azurite import Azurite, AzuriteProcess, azurite_command


def use_emulator_settings(base_url: str, *, store: bool = False, **extra: str) -> None:
    """Point the app's settings at an emulator, as ``tests/conftest.py`` ``call_env`` does.

    Benchmarks run the real settings path (environment → ``Settings.from_env``), so the cache is
    dropped after the environment changes. ``store=True`` (benchmarks that run whole calls) also
    points the call store at an in-memory Azurite started for the process, as every call writes
    to it.
    """
    if store:
        extra = {"AzureWebJobsStorage": _azurite().connection_string, **extra}
    values = {
        "AZURE_OPENAI_ENDPOINT": base_url,
        "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
        "AZURE_OPENAI_API_KEY": DEFAULT_API_KEY,
        "OPENAI_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET,
        "TRANSFER_TARGET_URI": "tel:+14155550100",
        "TRANSFER_VERIFY_SECONDS": "2",
        "MONITOR_SLICE_SECONDS": "60",
        **extra,
    }
    os.environ.update(values)
    get_settings.cache_clear()


@functools.cache
def _azurite() -> Azurite:
    """One Azurite for the benchmark process, stopped when it exits."""
    command = azurite_command()
    if command is None:
        raise SystemExit("Azurite is not installed: run `npm ci --ignore-scripts` first")
    process = AzuriteProcess(command)
    server = process.__enter__()
    atexit.register(process.__exit__)
    return server


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so the output can be pasted into ``docs/performance.md`` as is."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    """One line naming what the numbers were measured on."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
