"""Settings: one frozen dataclass, read from the environment once, validated all at once.

Every problem is reported in one error that names each variable and says what it must be, so a
misconfigured deployment fails with a message an operator can act on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import TypeVar

from switchboard import setting_values as values
from switchboard.agent import TRANSFER_CALL, Agent
from switchboard.hours import BusinessHours, time_zone
from switchboard.policy import Policy
from switchboard.records import CallPlan
from switchboard.sip import FROM, TargetRules
from switchboard.usage import Prices

T = TypeVar("T")

MONITOR_SLICE_MAX_SECONDS = 3300
"""The longest monitor slice anywhere: with ``functionTimeout`` = slice + margin it stays within
the 60-minute grace Flex Consumption gives running executions on scale-in (the Bicep's
``monitorSliceSeconds`` carries the same cap)."""
MONITOR_SLICE_MARGIN_SECONDS = 300
"""How much longer than a slice ``functionTimeout`` must be (handshakes, a goodbye, the result):
the Bicep sets ``functionTimeout`` to the slice plus this."""


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
    transfer_rules: TargetRules
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
    caller_memory: bool = False

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
        zone = reader.get("BUSINESS_TIME_ZONE", time_zone, "UTC") or "UTC"
        region = reader.optional("DEFAULT_REGION", values.region)
        settings = cls(
            openai_endpoint=reader.get("AZURE_OPENAI_ENDPOINT", values.endpoint),
            deployment=reader.get("AZURE_OPENAI_DEPLOYMENT", values.non_empty),
            webhook_secret=reader.get("OPENAI_WEBHOOK_SECRET", values.webhook_secret, secret=True),
            api_key=reader.optional("AZURE_OPENAI_API_KEY", values.non_empty, secret=True),
            client_id=reader.optional("AZURE_CLIENT_ID", values.non_empty),
            agent=_read_agent(reader),
            transfer_target=reader.optional("TRANSFER_TARGET_URI", values.transfer_target),
            transfer_targets=reader.get("TRANSFER_TARGETS", values.department_targets, ""),
            transfer_fallback=reader.optional("TRANSFER_FALLBACK_URI", values.transfer_target),
            transfer_rules=reader.get("TRANSFER_ALLOWED_TARGETS", values.target_rules, ""),
            monitor_slice_seconds=reader.get(
                "MONITOR_SLICE_SECONDS", values.int_between(60, MONITOR_SLICE_MAX_SECONDS), "1500"
            ),
            transfer_verify_seconds=reader.get(
                "TRANSFER_VERIFY_SECONDS", values.int_between(1, 300), "20"
            ),
            max_call_seconds=reader.get("MAX_CALL_SECONDS", values.int_between(10, 3540), "3300"),
            ring_timeout_seconds=reader.get(
                "RING_TIMEOUT_SECONDS", values.int_between(2, 300), "30"
            ),
            silence_seconds=reader.get("SILENCE_SECONDS", values.int_between(0, 3600), "30"),
            max_concurrent_calls=reader.get(
                "MAX_CONCURRENT_CALLS", values.int_between(0, 100_000), "50"
            ),
            prices=reader.get("USAGE_PRICES", values.prices, ""),
            policy=_read_policy(reader, zone, region),
            record_retention_days=reader.get(
                "CALL_RECORD_RETENTION_DAYS", values.int_between(1, 3650), "30"
            ),
            analysis_deployment=reader.optional(
                "AZURE_OPENAI_ANALYSIS_DEPLOYMENT", values.non_empty
            ),
            caller_memory=reader.get("CALLER_MEMORY", values.on_off, "off"),
        )
        function_timeout = reader.get(
            "AzureFunctionsJobHost__functionTimeout",  # how the Bicep sets functionTimeout
            values.timespan_seconds,
            values.host_function_timeout() or "-1",
        )
        if reader.read("MONITOR_SLICE_SECONDS", "AzureFunctionsJobHost__functionTimeout"):
            settings._check_slice(reader, function_timeout)
        if settings.caller_memory and not reader.has("CALL_STORE_CALLER_KEY"):
            reader.fail(
                "CALLER_MEMORY",
                "must be off without CALL_STORE_CALLER_KEY: earlier calls are found through "
                "the caller index, which that key keys",
            )
        if reader.valid:
            settings._check_departments(reader)
            settings._check_targets_allowed(reader)
        reader.raise_if_invalid()
        return settings

    def _check_departments(self, reader: _Reader) -> None:
        """Every department the agent may name leads somewhere; every target names one of them."""
        known = set(self.agent.departments)
        unknown = sorted(set(self.transfer_targets) - known)
        if known and unknown:  # without declared departments the agent names them freely
            reader.fail(
                "TRANSFER_TARGETS",
                f"names departments the agent does not have: {unknown} "
                f"(the agent's departments: {sorted(known)}; names are case-insensitive)",
            )
        if TRANSFER_CALL not in self.agent.tools or self.transfer_target is not None:
            return
        missing = sorted(known - set(self.transfer_targets))
        if missing:
            reader.fail(
                "TRANSFER_TARGETS",
                f"has no target for the agent's departments {missing} "
                "and TRANSFER_TARGET_URI (the default target) is not set",
            )

    def _check_targets_allowed(self, reader: _Reader) -> None:
        """Configured targets obey the same rules as an operator's."""
        configured: dict[str, list[str | None]] = {
            "TRANSFER_TARGET_URI": [self.transfer_target],
            "TRANSFER_TARGETS": list(self.transfer_targets.values()),
            "TRANSFER_FALLBACK_URI": [self.transfer_fallback],
        }
        for name, targets in configured.items():
            refused = [t for t in targets if t is not None and not self.transfer_rules.admits(t)]
            if refused:
                reader.fail(name, f"has targets TRANSFER_ALLOWED_TARGETS does not admit: {refused}")

    def _check_slice(self, reader: _Reader, function_timeout: int | None) -> None:
        """A slice the host would kill (``functionTimeout``) loses what the monitor saw."""
        if function_timeout is None:
            return
        longest = function_timeout - MONITOR_SLICE_MARGIN_SECONDS
        if self.monitor_slice_seconds > longest:
            reader.fail(
                "MONITOR_SLICE_SECONDS",
                f"must be at most {max(longest, 0)}: functionTimeout is {function_timeout} s "
                f"and a slice must end {MONITOR_SLICE_MARGIN_SECONDS} s before it, got "
                f"{self.monitor_slice_seconds!r} (raise functionTimeout or lower the slice)",
            )


def _read_agent(reader: _Reader) -> Agent:
    """The agent file, with the single settings that override its values."""
    agent = reader.optional("AGENT_DEFINITION", values.agent_file) or Agent()
    mcp_settings = {
        name: reader.get(name, values.resolved_secret, secret=True)
        for server in agent.mcp_servers
        for name in server.settings()
    }
    return replace(
        agent,
        mcp_settings=mcp_settings,
        instructions=reader.get("CALL_INSTRUCTIONS", values.non_empty, agent.instructions),
        greeting=reader.get("CALL_GREETING", values.non_empty, agent.greeting),
        voice=reader.get("CALL_VOICE", values.voice, agent.voice),
        transcription_model=reader.get(
            "CALL_TRANSCRIPTION_MODEL",
            values.off_or_name,
            agent.transcription_model or "off",
        ),
    )


def _read_policy(reader: _Reader, zone: str, region: str | None) -> Policy:
    """The screening settings: caller identity and lists, hours, refusal statuses."""
    return Policy(
        allowlist=reader.get("CALLER_ALLOWLIST", values.numbers(region), ""),
        blocklist=reader.get("CALLER_BLOCKLIST", values.numbers(region), ""),
        country_codes=reader.get("ALLOWED_COUNTRY_CODES", values.country_codes, ""),
        reject_anonymous=reader.get("ANONYMOUS_CALLERS", values.accept_or_reject, "accept"),
        refusal_status=reader.get("REJECT_SIP_STATUS", values.int_between(400, 699), "603"),
        hours=reader.optional("BUSINESS_HOURS", lambda raw: BusinessHours.parse(raw, zone)),
        after_hours_accept=not reader.get("AFTER_HOURS", values.accept_or_reject, "reject"),
        after_hours_status=reader.get(
            "AFTER_HOURS_SIP_STATUS", values.int_between(400, 699), "480"
        ),
        caller_id_header=reader.get("CALLER_ID_HEADER", values.caller_id_header, FROM),
        region=region,
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
        self._failed: set[str] = set()

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

    def has(self, name: str) -> bool:
        """Whether ``name`` is set to something other than blanks."""
        return bool(self._env.get(name, "").strip())

    def optional(self, name: str, parse: Callable[[str], T], *, secret: bool = False) -> T | None:
        raw = self._env.get(name, "").strip()
        return self._parse(name, raw, parse, secret) if raw else None

    def _parse(self, name: str, raw: str, parse: Callable[[str], T], secret: bool) -> T:
        try:
            return parse(raw)
        except ValueError as error:
            shown = "a value that is not shown (secret)" if secret else repr(raw)
            self._errors.append(f"{name} {error}, got {shown}")
            self._failed.add(name)
            return None  # type: ignore[return-value]  # never used: raise_if_invalid raises

    @property
    def valid(self) -> bool:
        return not self._errors

    def read(self, *names: str) -> bool:
        """Whether each of ``names`` was read without a problem."""
        return not self._failed.intersection(names)

    def fail(self, name: str, problem: str) -> None:
        self._errors.append(f"{name} {problem}")

    def raise_if_invalid(self) -> None:
        if self._errors:
            raise SettingsError("Invalid settings:\n" + "\n".join(f"- {e}" for e in self._errors))
