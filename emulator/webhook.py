"""The `realtime.call.incoming` webhook: Standard Webhooks signing and delivery with retries."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import time

import aiohttp

from .call import Call
from .config import EmulatorConfig, secret_key

logger = logging.getLogger(__name__)

USER_AGENT = "switchboard-emulator/1.0 (+realtime.call.incoming)"


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` header value: ``v1,`` + base64 HMAC-SHA256."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def incoming_body(call: Call) -> bytes:
    """The event body; built once per call so every copy and retry carries identical bytes."""
    caller = call.scenario.caller
    headers = [
        {"name": "From", "value": caller.from_header},
        {"name": "To", "value": caller.to_header},
        {"name": "Call-ID", "value": f"{call.call_id.removeprefix('rtc_')}@emulator.invalid"},
        *({"name": name, "value": value} for name, value in caller.extra_headers),
    ]
    payload = {
        "object": "event",
        "id": call.webhook_event_id,
        "type": "realtime.call.incoming",
        "created_at": int(call.created_at),
        "data": {"call_id": call.call_id, "sip_headers": headers, "sip_media_security": "srtp"},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_headers(call: Call, secret: str, body: bytes) -> dict[str, str]:
    """Headers for one attempt; the scenario may skew the timestamp or break the signature."""
    faults = call.scenario.webhook
    timestamp = int(time.time()) + faults.timestamp_offset_seconds
    if faults.bad_signature:
        secret = (
            secret + "-wrong" if not secret.startswith("whsec_") else "not-the-configured-secret"
        )
    # Other keys' signatures first, so a verifier that reads only the first one fails.
    signatures = [
        sign(f"whsec_{base64.b64encode(os.urandom(24)).decode()}", call.webhook_id, timestamp, body)
        for _ in range(faults.extra_signatures)
    ]
    signatures.append(sign(secret, call.webhook_id, timestamp, body))
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": call.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


async def deliver(session: aiohttp.ClientSession, call: Call, config: EmulatorConfig) -> None:
    """Deliver the webhook copies the scenario asks for: some concurrently, the rest in turn."""
    body = incoming_body(call)
    faults = call.scenario.webhook
    first = [
        _deliver_copy(session, call, config, body, _next_copy(call))
        for _ in range(faults.concurrent)
    ]
    await asyncio.gather(*first)
    for _ in range(faults.concurrent, faults.copies):
        await asyncio.sleep(faults.duplicate_delay_seconds)
        await _deliver_copy(session, call, config, body, _next_copy(call))
    call.counters.webhook_done += 1
    await call.notify()


async def redeliver(session: aiohttp.ClientSession, call: Call, config: EmulatorConfig) -> None:
    """One more copy, now (a fault or a script step): same id and body, retried like the rest."""
    await _deliver_copy(session, call, config, incoming_body(call), _next_copy(call))


def _next_copy(call: Call) -> int:
    call.webhook_copies += 1
    return call.webhook_copies


async def _deliver_copy(
    session: aiohttp.ClientSession, call: Call, config: EmulatorConfig, body: bytes, copy: int
) -> None:
    """One copy, retried with backoff on non-2xx or timeout; the call's end cancels it."""
    timeout = aiohttp.ClientTimeout(total=config.webhook_timeout_seconds)
    for attempt in range(1, config.webhook_retries + 2):
        headers = signed_headers(call, config.webhook_secret, body)
        status: int | None = None
        error: str | None = None
        call.webhook_deliveries += 1
        try:
            async with session.post(
                call.webhook_url, data=body, headers=headers, timeout=timeout
            ) as response:
                status = response.status
                await response.read()
        except TimeoutError:
            error = f"timeout after {config.webhook_timeout_seconds}s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        call.record(
            "webhook",
            copy=copy,
            attempt=attempt,
            webhook_id=call.webhook_id,
            timestamp=int(headers["webhook-timestamp"]),
            status=status,
            error=error,
        )
        logger.info(
            "call %s: webhook copy %d attempt %d -> %s",
            call.call_id,
            copy,
            attempt,
            status or error,
        )
        if ok:
            call.webhook_acknowledged += 1
            return
        if attempt <= config.webhook_retries:
            await asyncio.sleep(config.webhook_backoff_seconds * 2 ** (attempt - 1))
