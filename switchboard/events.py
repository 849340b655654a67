"""Call events to the business's systems: ``call.started`` and ``call.ended``, Standard Webhooks.

Each event is one JSON POST to ``CALL_EVENTS_URL`` signed as Standard Webhooks specifies (the
scheme the SIP gateway's own webhooks use): ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` keyed with the
base64 key of ``CALL_EVENTS_SECRET`` (``whsec_...``). The id is derived from the call and the
event type only, so every attempt of one event carries the same id and a receiver can drop
repeats; the body is the same on every attempt, and the timestamp is the attempt's own.

:func:`send` makes one attempt and never raises: the orchestration decides when to try again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import aiohttp

from switchboard.store import rows

logger = logging.getLogger(__name__)
EventType = Literal["call.started", "call.ended"]
URL = "CALL_EVENTS_URL"
SECRET = "CALL_EVENTS_SECRET"  # noqa: S105  # the setting's name
RETRY = "CALL_EVENTS_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = (5.0, 30.0, 120.0, 600.0)
"""Waits between attempts: five attempts over about 12.6 minutes, then the event is failed."""
SEND_TIMEOUT_SECONDS = {"call.started": 2.0, "call.ended": 5.0}
"""How long an attempt may take: ``call.started`` is sent while the caller is ringing."""
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class EventsConfigError(ValueError):
    """The events settings are malformed; the message names each variable."""


@dataclass(frozen=True)
class EventsConfig:
    """Where events go, how they are signed, and how long a failing receiver is retried."""

    url: str
    key: bytes
    retry_seconds: tuple[float, ...] = DEFAULT_RETRY_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EventsConfig | None:
        """``None`` when ``CALL_EVENTS_URL`` is not set (events are off)."""
        env = os.environ if env is None else env
        url = env.get(URL, "").strip()
        if not url:
            return None
        errors: list[str] = []
        parts = urlsplit(url)
        secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
        if not parts.netloc or not secure:
            shown = f"{parts.scheme}://{parts.hostname}" if parts.hostname else "no host"
            errors.append(  # not the whole URL: it may hold credentials, and lands in records
                f"{URL} must be an https URL (http only on loopback), got {shown!r}"
            )
        key = _key(env.get(SECRET, "").strip())
        if key is None:
            errors.append(
                f"{SECRET} must be a Standard Webhooks secret, whsec_ and base64 of 24-64 bytes "
                "(a value that is not shown: it is a secret)"
            )
        retry = _retry(env.get(RETRY, "").strip())
        if retry is None:
            errors.append(
                f"{RETRY} must be 0-10 comma-separated waits in seconds (each 0.1-3600), "
                f"e.g. 5,30,120,600, got {env.get(RETRY)!r}"
            )
        if errors or key is None or retry is None:
            raise EventsConfigError("Invalid settings:\n" + "\n".join(f"- {e}" for e in errors))
        return cls(url, key, retry)


async def attempt(event_type: str, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """One attempt of a call's event, as the settings say; None when events are off.

    The outcome carries the event's ``webhook_id`` and the settings' ``retry_seconds``. Settings
    that do not parse make a failed outcome naming them (nothing a retry could fix).
    """
    if event_type not in SEND_TIMEOUT_SECONDS:
        raise ValueError(f"unknown call event type {event_type!r}")
    message_id = webhook_id(str(record["call_id"]), event_type)
    try:
        config = EventsConfig.from_env()
    except EventsConfigError as error:
        return {"status": "failed", "detail": str(error)[:300], "webhook_id": message_id}
    if config is None:
        return None
    body = payload(event_type, record)
    outcome = await send(config, message_id, body, SEND_TIMEOUT_SECONDS[event_type])
    shown = f"{outcome['status']} {outcome.get('http') or ''}".strip()
    logger.info("call %s: %s %s", record["call_id"], event_type, shown)
    return {**outcome, "webhook_id": message_id, "retry_seconds": list(config.retry_seconds)}


def events_on() -> bool:
    """Whether events are configured (settings that do not parse count as on: they get reported)."""
    try:
        return EventsConfig.from_env() is not None
    except EventsConfigError:
        return True


def webhook_id(call_id: str, event_type: str) -> str:
    """The id every attempt of one call's event carries."""
    digest = hashlib.sha256(f"{call_id}\n{event_type}".encode("utf-8", "surrogatepass"))
    return f"msg_{digest.hexdigest()[:32]}"


def payload(event_type: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The event body: its type, when it happened, and the call's summary (and record link)."""
    summary = rows.summary(
        rows.index_row(record, "ended" if event_type == "call.ended" else "live", None)
    )
    at = record.get("ended_at") if event_type == "call.ended" else record.get("received_at")
    data: dict[str, Any] = {**summary}
    if event_type == "call.ended":
        data["record_url"] = record_url(str(record["call_id"]))
        data["analysis"] = record.get("analysis")
        data["analysis_error"] = record.get("analysis_error")
    return {"type": event_type, "timestamp": at, "data": data}


def record_url(call_id: str) -> str:
    """The full record at the operator API (function-key auth), absolute when the host is known."""
    path = f"/api/calls/{quote(call_id, safe='')}"
    host = os.environ.get("WEBSITE_HOSTNAME", "").strip()
    return f"https://{host}{path}" if host else path


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


async def send(
    config: EventsConfig, message_id: str, body: dict[str, Any], timeout_seconds: float
) -> dict[str, Any]:
    """One attempt: ``{"status": "delivered", "http": 204}`` or ``{"status": "failed", ...}``."""
    data = json.dumps(body, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(config.key, message_id, timestamp, data),
    }
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(config.url, data=data, headers=headers, allow_redirects=False) as response,
        ):
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        return {"status": "failed", "detail": f"{type(error).__name__}: {error}"[:300]}
    if 200 <= status < 300:
        return {"status": "delivered", "http": status}
    return {"status": "failed", "http": status, "detail": f"HTTP {status}"}


def _key(secret: str) -> bytes | None:
    if not secret.startswith("whsec_"):
        return None
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (ValueError, binascii.Error):
        return None
    return key if 24 <= len(key) <= 64 else None


def _retry(raw: str) -> tuple[float, ...] | None:
    if not raw:
        return DEFAULT_RETRY_SECONDS
    try:
        waits = tuple(float(part) for part in raw.split(","))
    except ValueError:
        return None
    if len(waits) > 10 or not all(0.1 <= wait <= 3600 for wait in waits):
        return None
    return waits
