"""The incoming-call webhook: verify the signature on the raw bytes, then parse once into a type.

Verification is the ``openai`` SDK's (Standard Webhooks, constant-time compare, 300 s tolerance);
this module only decides what each failure means to the sender.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import openai
import pydantic
from openai.types.webhooks import RealtimeCallIncomingWebhookEvent

from switchboard.sip import SipHeader
from switchboard.untrusted import shown

MAX_BODY_BYTES = 1024 * 1024
SIGNATURE_TOLERANCE_SECONDS = 300
CALL_ID = re.compile(r"rtc_[A-Za-z0-9_\-]{1,124}\Z", re.ASCII)
"""The form of the service's call ids (``rtc_`` and letters, digits, ``_`` or ``-``): any other
``call_id`` is refused at ingress, so none reaches a log line, a URL or an instance id."""
# Starts alphanumeric (so never "." or ".." as a URL path segment); \Z, since $ allows a final \n.
_INSTANCE_ID_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}\Z")


class SignatureVerifier(Protocol):
    """What the SDK's ``client.webhooks`` offers and this module needs."""

    def verify_signature(
        self, payload: str | bytes, headers: Mapping[str, str], *, tolerance: int = ...
    ) -> None: ...


class WebhookRejected(Exception):
    """A request that starts nothing: ``status`` and a public ``reason``; ``detail`` is for logs."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class IncomingCall:
    """A verified ``realtime.call.incoming`` event: everything later steps need about the call."""

    call_id: str
    webhook_id: str
    event_id: str
    created_at: int
    sip_headers: tuple[SipHeader, ...]

    @property
    def instance_id(self) -> str:
        """The orchestration instance id for this call (see :func:`instance_id_for`)."""
        return instance_id_for(self.call_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as it travels through Durable inputs."""
        return {
            "call_id": self.call_id,
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
            "created_at": self.created_at,
            "sip_headers": [{"name": h.name, "value": h.value} for h in self.sip_headers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IncomingCall:
        """Inverse of :meth:`to_dict`."""
        return cls(
            call_id=data["call_id"],
            webhook_id=data["webhook_id"],
            event_id=data["event_id"],
            created_at=data["created_at"],
            sip_headers=tuple(SipHeader(h["name"], h["value"]) for h in data["sip_headers"]),
        )


@dataclass(frozen=True)
class IgnoredEvent:
    """A verified event of another type: acknowledged (2xx) so the sender stops retrying."""

    event_type: str
    webhook_id: str


def instance_id_for(call_id: str) -> str:
    r"""A Durable instance id derived only from ``call_id``, so a redelivery maps to the same one.

    Ids the service issues (``rtc_<hex>``) are used as is. Anything else (characters Durable
    forbids such as ``/ \ ? #``, or overlong) becomes a readable prefix plus a hash of the
    original, which keeps distinct call ids distinct.
    """
    if _INSTANCE_ID_SAFE.match(call_id):
        return call_id
    readable = re.sub(r"[^A-Za-z0-9_.:\-]", "-", call_id)[:40]
    digest = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{readable}~{digest}"


def refuse_declared_oversize(headers: Mapping[str, str]) -> None:
    """413 for a body whose ``Content-Length`` is over the cap, before the body is touched.

    The Functions host hands the worker a body it has read whole; what bounds that read is the
    host's own limit, ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`` (set to :data:`MAX_BODY_BYTES` by the
    deployment), which stops a larger body, chunked or not, while it arrives.
    """
    declared = headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise WebhookRejected(413, "body too large", f"declared length {shown(declared)}")


def parse_webhook(
    body: bytes, headers: Mapping[str, str], verifier: SignatureVerifier
) -> IncomingCall | IgnoredEvent:
    """Verify and parse one delivery; raise :class:`WebhookRejected` for anything not acceptable."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejected(413, "body too large", f"body of {len(body)} bytes")
    webhook_id = headers.get("webhook-id", "")
    try:
        verifier.verify_signature(body, headers, tolerance=SIGNATURE_TOLERANCE_SECONDS)
    except openai.InvalidWebhookSignatureError as error:
        raise WebhookRejected(400, "invalid signature", str(error)) from None
    except (ValueError, TypeError) as error:  # missing headers, non-UTF-8 body, non-ASCII header
        raise WebhookRejected(400, "invalid signature", f"cannot verify: {error}") from None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRejected(
            400, "malformed JSON", "body is not JSON (or nested too deep)"
        ) from None
    event_type = payload.get("type") if isinstance(payload, dict) else None
    if not isinstance(event_type, str):
        raise WebhookRejected(400, "malformed event", "no event type")
    if event_type != "realtime.call.incoming":
        return IgnoredEvent(event_type=event_type[:100], webhook_id=webhook_id)
    try:
        event = RealtimeCallIncomingWebhookEvent.model_validate(payload)
    except pydantic.ValidationError as error:
        fields = ", ".join(shown(".".join(map(str, e["loc"]))) for e in error.errors()[:5])
        raise WebhookRejected(400, "malformed event", f"invalid fields: {fields}") from None
    if not CALL_ID.match(event.data.call_id):
        raise WebhookRejected(
            400,
            "malformed event",
            f"data.call_id {shown(event.data.call_id)} is not of the service's form rtc_<id>",
        )
    return IncomingCall(
        call_id=event.data.call_id,
        webhook_id=webhook_id,
        event_id=event.id,
        created_at=event.created_at,
        sip_headers=tuple(SipHeader(h.name, h.value) for h in event.data.sip_headers),
    )
