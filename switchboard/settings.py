"""Settings: one frozen dataclass, read from the environment once, validated all at once.

Every problem is reported in one error that names each variable and says what it must be, so a
misconfigured deployment fails with a message an operator can act on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from functools import cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from switchboard.agent import TRANSFER_CALL, VOICES, Agent
from switchboard.hours import BusinessHours, time_zone
from switchboard.policy import Policy
from switchboard.records import CallPlan
from switchboard.sip import is_transfer_target, to_e164
from switchboard.usage import Prices

T = TypeVar("T")

APP_ROOT = Path(__file__).resolve().parent.parent
"""Where ``function_app.py`` lives: relative ``AGENT_DEFINITION`` paths start here."""


class SettingsError(ValueError):
    """Raised with every invalid or missing setting named, one per line."""


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment (app settings / local.settings.json)."""

    openai_endpoint: str
    deployment: str
    webhook_secret: str
    api_key: str | None
    client_id: str | None
    agent: Agent
    transfer_target: str | None
    transfer_targets: Mapping[str, str]
    transfer_fallback: str | None
    monitor_slice_seconds: int
    transfer_verify_seconds: int
    max_call_seconds: int
    ring_timeout_seconds: int
    silence_seconds: int
    max_concurrent_calls: int
    prices: Prices
    policy: Policy
    record_retention_days: int
    analysis_deployment: str | None = None

    def plan(self) -> CallPlan:
        """What an orchestration needs from the settings, snapshotted when its call arrives."""
        return CallPlan(
            greeting=self.agent.greeting,
            after_hours_greeting=self.agent.greeting_for(after_hours=True),
            slice_seconds=self.monitor_slice_seconds,
            transfer_target=self.transfer_target,
            transfer_targets=dict(self.transfer_targets),
            transfer_fallback=self.transfer_fallback,
            transfer_verify_seconds=self.transfer_verify_seconds,
            max_call_seconds=self.max_call_seconds,
            ring_timeout_seconds=self.ring_timeout_seconds,
            silence_seconds=self.silence_seconds,
            max_concurrent_calls=self.max_concurrent_calls,
            prices=self.prices,
            analysis=self.analysis_deployment is not None,
        )

    @property
    def api_base_url(self) -> str:
        """The v1 API root: ``<endpoint>/openai/v1`` (no ``api-version``, no deployment path)."""
        return f"{self.openai_endpoint}/openai/v1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build from ``env`` (default ``os.environ``); one error names every bad variable."""
        reader = _Reader(os.environ if env is None else env)
        agent = reader.optional("AGENT_DEFINITION", _agent_file) or Agent()
        zone = reader.get("BUSINESS_TIME_ZONE", time_zone, "UTC") or "UTC"
        settings = cls(
            openai_endpoint=reader.get("AZURE_OPENAI_ENDPOINT", _endpoint),
            deployment=reader.get("AZURE_OPENAI_DEPLOYMENT", _non_empty),
            webhook_secret=reader.get("OPENAI_WEBHOOK_SECRET", _webhook_secret, secret=True),
            api_key=reader.optional("AZURE_OPENAI_API_KEY", _non_empty, secret=True),
            client_id=reader.optional("AZURE_CLIENT_ID", _non_empty),
            agent=replace(
                agent,
                instructions=reader.get("CALL_INSTRUCTIONS", _non_empty, agent.instructions),
                greeting=reader.get("CALL_GREETING", _non_empty, agent.greeting),
                voice=reader.get("CALL_VOICE", _voice, agent.voice),
                transcription_model=reader.get(
                    "CALL_TRANSCRIPTION_MODEL", _off_or_name, agent.transcription_model or "off"
                ),
            ),
            transfer_target=reader.optional("TRANSFER_TARGET_URI", _transfer_target),
            transfer_targets=reader.get("TRANSFER_TARGETS", _department_targets, ""),
            transfer_fallback=reader.optional("TRANSFER_FALLBACK_URI", _transfer_target),
            monitor_slice_seconds=reader.get(
                "MONITOR_SLICE_SECONDS", _int_between(60, 3600), "1500"
            ),
            transfer_verify_seconds=reader.get(
                "TRANSFER_VERIFY_SECONDS", _int_between(1, 300), "20"
            ),
            max_call_seconds=reader.get("MAX_CALL_SECONDS", _int_between(10, 3540), "3300"),
            ring_timeout_seconds=reader.get("RING_TIMEOUT_SECONDS", _int_between(2, 300), "30"),
            silence_seconds=reader.get("SILENCE_SECONDS", _int_between(0, 3600), "30"),
            max_concurrent_calls=reader.get("MAX_CONCURRENT_CALLS", _int_between(0, 100_000), "50"),
            prices=reader.get("USAGE_PRICES", _prices, ""),
            policy=Policy(
                allowlist=reader.get("CALLER_ALLOWLIST", _numbers, ""),
                blocklist=reader.get("CALLER_BLOCKLIST", _numbers, ""),
                country_codes=reader.get("ALLOWED_COUNTRY_CODES", _country_codes, ""),
                reject_anonymous=reader.get("ANONYMOUS_CALLERS", _accept_or_reject, "accept"),
                refusal_status=reader.get("REJECT_SIP_STATUS", _int_between(400, 699), "603"),
                hours=reader.optional("BUSINESS_HOURS", lambda raw: BusinessHours.parse(raw, zone)),
                after_hours_accept=not reader.get("AFTER_HOURS", _accept_or_reject, "reject"),
                after_hours_status=reader.get(
                    "AFTER_HOURS_SIP_STATUS", _int_between(400, 699), "480"
                ),
            ),
            record_retention_days=reader.get(
                "CALL_RECORD_RETENTION_DAYS", _int_between(1, 3650), "30"
            ),
            analysis_deployment=reader.optional("AZURE_OPENAI_ANALYSIS_DEPLOYMENT", _non_empty),
        )
        if reader.valid:
            settings._check_departments(reader)
        reader.raise_if_invalid()
        return settings

    def _check_departments(self, reader: _Reader) -> None:
        """Every department the agent may name must lead somewhere."""
        if TRANSFER_CALL not in self.agent.tools or self.transfer_target is not None:
            return
        missing = sorted(set(self.agent.departments) - set(self.transfer_targets))
        if missing:
            reader.fail(
                "TRANSFER_TARGETS",
                f"has no target for the agent's departments {missing} "
                "and TRANSFER_TARGET_URI (the default target) is not set",
            )


@cache
def get_settings() -> Settings:
    """The process's settings, read on first use (not at import, when the host indexes)."""
    return Settings.from_env()


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._errors: list[str] = []

    def get(
        self,
        name: str,
        parse: Callable[[str], T],
        default: str | None = None,
        *,
        secret: bool = False,
    ) -> T:
        raw = self._env.get(name, "").strip() or default
        if raw is None:
            self._errors.append(f"{name} is required but not set")
            return None  # type: ignore[return-value]  # never used: raise_if_invalid raises
        return self._parse(name, raw, parse, secret)

    def optional(self, name: str, parse: Callable[[str], T], *, secret: bool = False) -> T | None:
        raw = self._env.get(name, "").strip()
        return self._parse(name, raw, parse, secret) if raw else None

    def _parse(self, name: str, raw: str, parse: Callable[[str], T], secret: bool) -> T:
        try:
            return parse(raw)
        except ValueError as error:
            shown = "a value that is not shown (secret)" if secret else repr(raw)
            self._errors.append(f"{name} {error}, got {shown}")
            return None  # type: ignore[return-value]  # never used: raise_if_invalid raises

    @property
    def valid(self) -> bool:
        return not self._errors

    def fail(self, name: str, problem: str) -> None:
        self._errors.append(f"{name} {problem}")

    def raise_if_invalid(self) -> None:
        if self._errors:
            raise SettingsError("Invalid settings:\n" + "\n".join(f"- {e}" for e in self._errors))


def _non_empty(raw: str) -> str:
    return raw


def _endpoint(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://<resource>.openai.azure.com")
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("must use https (plain http is only allowed for a local emulator)")
    if parts.path.rstrip("/") not in {"", "/openai/v1", "/openai"}:
        raise ValueError("must be the resource root, without a path")
    return f"{parts.scheme}://{parts.netloc}"


def _webhook_secret(raw: str) -> str:
    if not raw.startswith("whsec_") or len(raw) < 16:
        raise ValueError("must be the webhook signing secret, starting with 'whsec_'")
    return raw


def _voice(raw: str) -> str:
    if raw not in VOICES:
        raise ValueError(f"must be one of {', '.join(sorted(VOICES))}")
    return raw


def _transfer_target(raw: str) -> str:
    if not is_transfer_target(raw):
        raise ValueError("must be a tel: (E.164) or sip: URI, e.g. tel:+14155550123")
    return raw


def _agent_file(raw: str) -> Agent:
    path = APP_ROOT / raw
    try:
        return Agent.load(path)
    except ValueError as error:
        raise ValueError(f"names an agent definition ({path}) that {error}") from error


def _items(raw: str) -> list[str]:
    """Comma-separated values, each stripped; empty ones are dropped."""
    return [item.strip() for item in raw.split(",") if item.strip()]


def _pairs(raw: str) -> list[tuple[str, str]]:
    """Comma-separated ``name=value`` items, both sides stripped (no ``=``: an empty value)."""
    split = (item.partition("=") for item in _items(raw))
    return [(name.strip(), value.strip()) for name, _, value in split]


def _prices(raw: str) -> Prices:
    """``text_in=4,audio_out=64``: the named prices change, the others keep their default."""
    names = {f.name for f in fields(Prices)}
    values: dict[str, float] = {}
    for name, value in _pairs(raw):
        try:
            price = float(value)
        except ValueError:
            price = -1.0
        if name not in names or not 0 <= price < 10_000:
            raise ValueError(f"must be name=price pairs with names from {sorted(names)}")
        values[name] = price
    return Prices(**values)


def _department_targets(raw: str) -> dict[str, str]:
    targets: dict[str, str] = {}
    for department, target in _pairs(raw):
        if not department or not is_transfer_target(target):
            raise ValueError(
                "must be department=target pairs, e.g. sales=tel:+14155550123,support=sip:help@pbx"
            )
        targets[department.lower()] = target
    return targets


def _off_or_name(raw: str) -> str | None:
    return None if raw.lower() == "off" else raw


def _numbers(raw: str) -> frozenset[str]:
    items = _items(raw)
    bad = [item for item in items if to_e164(item) != item]
    if bad:
        raise ValueError(f"must be comma-separated E.164 numbers (+14155550123); bad: {bad[:3]}")
    return frozenset(items)


def _country_codes(raw: str) -> tuple[str, ...]:
    codes = tuple(code.lstrip("+") for code in _items(raw))
    if not all(code.isdigit() and 1 <= len(code) <= 3 for code in codes):
        raise ValueError("must be comma-separated country calling codes, e.g. 1,44,46")
    return codes


def _accept_or_reject(raw: str) -> bool:
    if raw.lower() not in {"accept", "reject"}:
        raise ValueError("must be 'accept' or 'reject'")
    return raw.lower() == "reject"


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ValueError(f"must be an integer between {low} and {high}")
        return value

    return parse
