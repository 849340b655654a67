"""How each kind of setting value is read.

One function per format; its ``ValueError`` says what the value must be (the settings loader adds
the variable's name and the value, unless secret).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

from switchboard.agent import VOICES, Agent
from switchboard.numbers import COUNTRY_CODES, REGIONS, to_e164
from switchboard.sip import FROM, P_ASSERTED_IDENTITY, TargetRules, is_transfer_target
from switchboard.untrusted import shown
from switchboard.usage import Prices

APP_ROOT = Path(__file__).resolve().parent.parent
"""The app root (host.json is here); relative ``AGENT_DEFINITION`` paths start here."""
_TIMESPAN = re.compile(r"(?:([0-9]+)\.)?([0-9]{1,2}):([0-9]{2}):([0-9]{2})\Z")


def non_empty(raw: str) -> str:
    return raw


def resolved_secret(raw: str) -> str:
    """A secret another setting names (an MCP header): a Key Vault reference must be resolved."""
    if raw.startswith("@Microsoft.KeyVault("):
        raise ValueError("is a Key Vault reference the platform did not resolve (check its access)")
    return raw


def endpoint(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://<resource>.openai.azure.com")
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("must use https (plain http is only allowed for a local emulator)")
    if parts.path.rstrip("/") not in {"", "/openai/v1", "/openai"}:
        raise ValueError("must be the resource root, without a path")
    return f"{parts.scheme}://{parts.netloc}"


def webhook_secret(raw: str) -> str:
    if not raw.startswith("whsec_") or len(raw) < 16:
        raise ValueError("must be the webhook signing secret, starting with 'whsec_'")
    return raw


def voice(raw: str) -> str:
    if raw not in VOICES:
        raise ValueError(f"must be one of {', '.join(sorted(VOICES))}")
    return raw


def transfer_target(raw: str) -> str:
    if not is_transfer_target(raw):
        raise ValueError(
            "must be a tel: URI with a +number or a sip:/sips: user@host URI, without spaces, "
            "URI headers ('?') or maddr, e.g. tel:+14155550123"
        )
    return raw


def agent_file(raw: str) -> Agent:
    path = APP_ROOT / raw
    try:
        return Agent.load(path)
    except ValueError as error:
        raise ValueError(
            f"names an agent definition ({shown(str(path), 200)}) that {error}"
        ) from error


def items(raw: str) -> list[str]:
    """Comma-separated values, each stripped; empty ones are dropped."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def pairs(raw: str) -> list[tuple[str, str]]:
    """Comma-separated ``name=value`` items, both sides stripped (no ``=``: an empty value)."""
    split = (item.partition("=") for item in items(raw))
    return [(name.strip(), value.strip()) for name, _, value in split]


def prices(raw: str) -> Prices:
    """``text_in=4,audio_out=64``: the named prices change, the others keep their default."""
    names = {f.name for f in fields(Prices)}
    values: dict[str, float] = {}
    for name, value in pairs(raw):
        try:
            price = float(value)
        except ValueError:
            price = -1.0
        if name not in names or not 0 <= price < 10_000:
            raise ValueError(f"must be name=price pairs with names from {sorted(names)}")
        values[name] = price
    return Prices(**values)


def department_targets(raw: str) -> dict[str, str]:
    targets: dict[str, str] = {}
    for department, target in pairs(raw):
        if not department or not is_transfer_target(target):
            raise ValueError(
                "must be department=target pairs, e.g. sales=tel:+14155550123,support=sip:help@pbx"
            )
        targets[department.lower()] = target
    return targets


def target_rules(raw: str) -> TargetRules:
    return TargetRules.parse(items(raw))


def off_or_name(raw: str) -> str | None:
    return None if raw.lower() == "off" else raw


def region(raw: str) -> str:
    if raw.upper() not in REGIONS:
        raise ValueError("must be a two-letter region code such as US, GB or SE")
    return raw.upper()


def numbers(region: str | None) -> Callable[[str], frozenset[str]]:
    """Comma-separated phone numbers, normalised to E.164 (national forms in ``region``)."""

    def parse(raw: str) -> frozenset[str]:
        read = {item: to_e164(item, region) for item in items(raw)}
        bad = [item for item, number in read.items() if number is None]
        if bad:
            raise ValueError(
                "must be comma-separated phone numbers, e.g. +14155550123 (national forms need "
                f"DEFAULT_REGION); bad: {bad[:3]}"
            )
        return frozenset(number for number in read.values() if number)

    return parse


def country_codes(raw: str) -> frozenset[int]:
    codes = [code.removeprefix("+") for code in items(raw)]
    bad = [code for code in codes if not code.isdigit() or int(code) not in COUNTRY_CODES]
    if bad:
        raise ValueError(
            f"must be comma-separated country calling codes, e.g. 1,44,46; not codes: {bad[:3]}"
        )
    return frozenset(int(code) for code in codes)


def caller_id_header(raw: str) -> str:
    if raw.lower() not in {FROM, P_ASSERTED_IDENTITY}:
        raise ValueError(f"must be '{FROM}' or '{P_ASSERTED_IDENTITY}'")
    return raw.lower()


def accept_or_reject(raw: str) -> bool:
    if raw.lower() not in {"accept", "reject"}:
        raise ValueError("must be 'accept' or 'reject'")
    return raw.lower() == "reject"


def on_off(raw: str) -> bool:
    if raw.lower() not in {"on", "off"}:
        raise ValueError("must be 'on' or 'off'")
    return raw.lower() == "on"


def int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ValueError(f"must be an integer between {low} and {high}")
        return value

    return parse


def timespan_seconds(raw: str) -> int | None:
    """A Functions ``TimeSpan`` such as ``00:30:00`` in seconds; ``-1`` (no limit) is None."""
    if raw == "-1":
        return None
    match = _TIMESPAN.match(raw)
    if match is None:
        raise ValueError("must be a time span such as 00:30:00")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def host_function_timeout() -> str | None:
    """host.json's ``functionTimeout``, which applies unless an app setting overrides it."""
    try:
        host = json.loads((APP_ROOT / "host.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = host.get("functionTimeout") if isinstance(host, dict) else None
    return value if isinstance(value, str) else None
