import json
import time
from datetime import UTC, datetime

import openai
import pytest
from standardwebhooks import Webhook

from switchboard.webhook import (
    MAX_BODY_BYTES,
    IgnoredEvent,
    IncomingCall,
    WebhookRejected,
    instance_id_for,
    parse_webhook,
)

SECRET = "whsec_c3dpdGNoYm9hcmQtbG9jYWwtZW11bGF0b3Itc2VjcmV0"
VERIFIER = openai.OpenAI(api_key="unused-in-these-tests", webhook_secret=SECRET).webhooks


def event(call_id: str = "rtc_abc123", **data: object) -> dict[str, object]:
    return {
        "object": "event",
        "id": "evt_1",
        "type": "realtime.call.incoming",
        "created_at": 1750287018,
        "data": {
            "call_id": call_id,
            "sip_headers": [{"name": "From", "value": "<sip:+14155550123@x>"}],
            **data,
        },
    }


def signed(
    body: bytes, *, secret: str = SECRET, age: int = 0, msg_id: str = "wh_1"
) -> dict[str, str]:
    timestamp = datetime.fromtimestamp(time.time() - age, tz=UTC)
    signature = Webhook(secret).sign(msg_id, timestamp, body.decode("utf-8", "replace"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }


def reject_status(body: bytes, headers: dict[str, str]) -> int:
    with pytest.raises(WebhookRejected) as raised:
        parse_webhook(body, headers, VERIFIER)
    return raised.value.status


def test_a_signed_incoming_call_is_parsed_once_into_a_type() -> None:
    body = json.dumps(event()).encode()
    call = parse_webhook(body, signed(body), VERIFIER)
    assert isinstance(call, IncomingCall)
    assert (call.call_id, call.webhook_id, call.event_id) == ("rtc_abc123", "wh_1", "evt_1")
    assert call.sip_headers[0].value == "<sip:+14155550123@x>"
    assert IncomingCall.from_dict(call.to_dict()) == call


def test_bad_signatures_stale_and_future_timestamps_and_missing_headers_are_400() -> None:
    body = json.dumps(event()).encode()
    assert reject_status(body, signed(body, secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ==")) == 400
    assert reject_status(body, signed(body, age=301)) == 400
    assert reject_status(body, signed(body, age=-301)) == 400
    headers = signed(body)
    del headers["webhook-signature"]
    assert reject_status(body, headers) == 400
    assert reject_status(body + b" ", signed(body)) == 400  # body changed after signing
    assert reject_status(b"\xff\xfe", signed(b"x")) == 400  # not UTF-8


def test_signature_within_tolerance_and_any_of_several_signatures_passes() -> None:
    body = json.dumps(event()).encode()
    headers = signed(body, age=290)
    headers["webhook-signature"] = "v1,bm90LXRoaXMtb25l " + headers["webhook-signature"]
    assert isinstance(parse_webhook(body, headers, VERIFIER), IncomingCall)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"type": 5}).encode(),
        json.dumps({**event(), "data": {"sip_headers": []}}).encode(),
        json.dumps(event(call_id="  ")).encode(),
        json.dumps({**event(), "data": {"call_id": "rtc_1", "sip_headers": "nope"}}).encode(),
    ],
)
def test_malformed_signed_bodies_are_400(payload: bytes) -> None:
    assert reject_status(payload, signed(payload)) == 400


def test_oversized_bodies_are_413_before_any_work() -> None:
    body = b"x" * (MAX_BODY_BYTES + 1)
    assert reject_status(body, {}) == 413


def test_other_event_types_are_acknowledged_and_ignored() -> None:
    body = json.dumps({**event(), "type": "response.completed"}).encode()
    assert parse_webhook(body, signed(body), VERIFIER) == IgnoredEvent("response.completed", "wh_1")


def test_instance_ids_are_stable_safe_and_distinct() -> None:
    assert instance_id_for("rtc_0123abcd") == "rtc_0123abcd"
    unsafe = instance_id_for("rtc/../x?y#z")
    assert not set("/\\?#") & set(unsafe)
    assert unsafe == instance_id_for("rtc/../x?y#z")
    assert instance_id_for("a/b") != instance_id_for("a?b")
    assert len(instance_id_for("r" * 500)) < 100
    for dot_segment in (".", "..", "rtc_a\n"):
        assert instance_id_for(dot_segment) != dot_segment  # never a URL dot segment or a newline


@pytest.mark.parametrize(
    "call_id",
    [
        "rtc_x&model=evil&call_id=rtc_victim",
        "rtc_a\r\nINFO forged line",
        "rtc_a\x00",
        "rtc_\x1b[31mred",
        "rtc_a\n",
        "rtc_../../admin",
        "rtc_a b",
        "rtc_" + "a" * 125,
        "rtc_",
        "call_123",
        ".",
        "",
        "rtc_\uff10",  # a full-width digit
    ],
)
def test_call_ids_not_of_the_services_form_are_refused(call_id: str) -> None:
    body = json.dumps(event(call_id)).encode()
    with pytest.raises(WebhookRejected) as raised:
        parse_webhook(body, signed(body), VERIFIER)
    assert (raised.value.status, raised.value.reason) == (400, "malformed event")
    assert raised.value.detail.isprintable()
    assert len(raised.value.detail) < 200


@pytest.mark.parametrize("call_id", ["rtc_0123abcdef", "rtc_u1_9c6574da8b8a41a1", "rtc_A-b_c"])
def test_call_ids_of_the_services_form_are_accepted(call_id: str) -> None:
    body = json.dumps(event(call_id)).encode()
    assert isinstance(parse_webhook(body, signed(body), VERIFIER), IncomingCall)
