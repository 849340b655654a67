"""Settings of one emulator instance, and the clearly fake credentials used by default."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

DEFAULT_API_KEY = "switchboard-local-emulator-key"
"""Fake key for local use: the emulator accepts it as `api-key` or as a bearer token."""

DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"switchboard-local-emulator-secret").decode()
"""Fake Standard Webhooks secret (``whsec_`` + base64 of "switchboard-local-emulator-secret")."""

DEFAULT_PORT = 8765
DEFAULT_ANALYSIS_DEPLOYMENT = "call-analysis"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """Everything an emulator instance needs; invalid values fail at construction, all at once."""

    api_key: str = DEFAULT_API_KEY
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    host: str = "127.0.0.1"
    port: int = 0
    ring_timeout_seconds: float = 30.0
    """A call nobody accepts (or rejects) within this time ends with SIP 408."""
    webhook_retries: int = 3
    """Redeliveries after the first attempt when the app answers non-2xx or times out."""
    webhook_backoff_seconds: float = 0.5
    """Delay before the first redelivery; doubles for each further one."""
    webhook_timeout_seconds: float = 10.0
    step_timeout_seconds: float = 10.0
    """Default bound for scenario steps that wait (for a socket, a response, a tool output...)."""
    max_call_seconds: float = 3600.0
    """Realtime sessions last at most 60 minutes; the call then ends with reason session_limit."""
    time_scale: float = 1.0
    """Multiplies scenario `wait` steps, so tests can shrink `long_call`."""
    accept_any_bearer_token: bool = False
    """Accept any bearer token (e.g. an Entra ID token), not only `api_key`."""
    max_body_bytes: int = 1024 * 1024
    analysis_deployment: str = DEFAULT_ANALYSIS_DEPLOYMENT
    """The text deployment's name: chat completions for any other model get 404."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.api_key:
            problems.append("api_key must not be empty")
        problems.extend(_secret_problems(self.webhook_secret))
        if self.host not in LOOPBACK_HOSTS:
            problems.append(
                f"host must be a loopback address {sorted(LOOPBACK_HOSTS)}, got {self.host!r}"
            )
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be between 0 and 65535, got {self.port}")
        if self.webhook_retries < 0:
            problems.append(f"webhook_retries must be >= 0, got {self.webhook_retries}")
        if self.max_body_bytes < 1024:
            problems.append(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
        for name in (
            "ring_timeout_seconds",
            "webhook_timeout_seconds",
            "step_timeout_seconds",
            "max_call_seconds",
            "time_scale",
        ):
            value = getattr(self, name)
            if not value > 0:
                problems.append(f"{name} must be > 0, got {value!r}")
        if self.webhook_backoff_seconds < 0:
            problems.append(
                f"webhook_backoff_seconds must be >= 0, got {self.webhook_backoff_seconds}"
            )
        if problems:
            raise ValueError("invalid EmulatorConfig: " + "; ".join(problems))


def _secret_problems(secret: str) -> list[str]:
    if not secret:
        return ["webhook_secret must not be empty"]
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            return ["webhook_secret must be 'whsec_' followed by base64"]
        if not key:
            return ["webhook_secret must be 'whsec_' followed by a non-empty base64 key"]
    return []


def secret_key(secret: str) -> bytes:
    """Return the HMAC key of a webhook secret, derived as Standard Webhooks and the SDK do."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()
