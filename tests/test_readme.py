"""README.md says what the code does: the settings' ranges and the masked caller number."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from switchboard.settings import Settings, SettingsError
from switchboard.sip import mask_number

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BASE = {
    "AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com/",
    "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
    "OPENAI_WEBHOOK_SECRET": "whsec_c3dpdGNoYm9hcmQtbG9jYWwtZW11bGF0b3Itc2VjcmV0",
}
# Rows saying "(low\u2013high" (an en dash) in their description.
RANGES = re.findall(r"^\| `([A-Z_]+)` \| no \| [^|]* \| [^|]*?\((\d+)\u2013(\d+)\b", README, re.M)


def test_the_settings_table_states_ranges() -> None:
    assert {name for name, _, _ in RANGES} >= {
        "MONITOR_SLICE_SECONDS",
        "MAX_CALL_SECONDS",
        "SILENCE_SECONDS",
        "RING_TIMEOUT_SECONDS",
    }


@pytest.mark.parametrize(("name", "low", "high"), RANGES)
def test_a_documented_range_is_what_the_settings_enforce(name: str, low: str, high: str) -> None:
    for value in (low, high):
        Settings.from_env({**BASE, name: value})
    for outside in (int(low) - 1, int(high) + 1):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**BASE, name: str(outside)})


def test_the_masked_number_in_the_readme_is_what_the_logs_show() -> None:
    shown = re.search(r"Caller numbers are masked in logs\s+\(`([^`]+)`", README)
    assert shown is not None
    assert mask_number("+14155550123") == shown[1]
