"""Standard Webhooks signing for the campaigns, written from the spec (not the SDK under test)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from emulator.config import DEFAULT_WEBHOOK_SECRET

SECRET = DEFAULT_WEBHOOK_SECRET
"""The secret the app is configured with in ``call_env``."""
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-endpoint's-secret").decode()

REASONS = frozenset({"invalid signature", "malformed JSON", "malformed event", "body too large"})
"""Every public error reason the webhook may answer with."""


def signature(body: bytes, webhook_id: str, timestamp: str, secret: str = SECRET) -> str:
    """``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` keyed by the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    body: bytes,
    *,
    webhook_id: str = "wh_campaign",
    age: int = 0,
    secret: str = SECRET,
) -> dict[str, str]:
    """Headers signing ``body`` now minus ``age`` seconds (negative ``age``: the future)."""
    timestamp = str(int(time.time()) - age)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature(body, webhook_id, timestamp, secret),
    }


def incoming_event(call_id: str, *, from_number: str = "+14155550123") -> dict[str, Any]:
    """A well-formed ``realtime.call.incoming`` event for ``call_id``."""
    return {
        "object": "event",
        "id": f"evt_{call_id}",
        "type": "realtime.call.incoming",
        "created_at": int(time.time()),
        "data": {
            "call_id": call_id,
            "sip_headers": [
                {"name": "From", "value": f"<sip:{from_number}@carrier.example>;tag=1"},
                {"name": "To", "value": "<sip:+18005550100@carrier.example>"},
            ],
        },
    }


def encode(event: Any) -> bytes:
    """JSON as the service sends it: compact UTF-8."""
    return json.dumps(event, separators=(",", ":")).encode()
