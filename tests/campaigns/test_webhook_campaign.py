"""Bad-input campaign against the real ``incoming_call`` function, run in the Durable test host.

Invariants for every request: no exception escapes the function (the host would answer 500), no
call hangs, the status is a documented one (200, 400, 413), a rejection's body is exactly
``{"error": <short public reason>}``, and nothing starts for a rejected or ignored request: no
instance, no activity. Hypothesis reuses one ``app_host`` across examples; the "nothing started"
assertion is what makes that sound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from activities import names
from devhost.durable_host import DurableTestHost
from switchboard.webhook import CALL_ID, MAX_BODY_BYTES
from tests.campaigns.conftest import CAMPAIGN
from tests.campaigns.signing import (
    OTHER_SECRET,
    REASONS,
    encode,
    incoming_event,
    signature,
    signed_headers,
)
from tests.support.logs import APP_LOGGERS, leaks

URL = "http://127.0.0.1/api/calls/incoming"
CALL_TIMEOUT = 5.0
RECORD_TIMEOUT = 15.0
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


async def deliver(
    host: DurableTestHost, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """POST one delivery to the real function, bounded in time; (status, JSON body)."""
    req = func.HttpRequest(method="POST", url=URL, headers=headers, body=body)
    async with asyncio.timeout(CALL_TIMEOUT):
        response = await host.call_http("incoming_call", req)
    payload = json.loads(response.get_body())
    assert isinstance(payload, dict)
    return response.status_code, payload


def assert_nothing_started(host: DurableTestHost) -> None:
    assert host.instances == {}
    for activity in names.ACTIVITIES:
        assert host.activity_calls(activity) == []


async def assert_rejected(
    host: DurableTestHost, body: bytes, headers: dict[str, str], status: int = 400
) -> str:
    """The request is refused with ``status`` and a bare public reason; nothing started."""
    code, payload = await deliver(host, body, headers)
    assert code == status, payload
    assert list(payload) == ["error"]
    assert payload["error"] in REASONS
    assert_nothing_started(host)
    return str(payload["error"])


# ---------------------------------------------------------------------------- strategies

# Header values as the Functions host could hand them over: any text (non-ASCII included; the
# SDK's compare_digest refuses it with TypeError, which once escaped as a 500).
header_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=120)
call_ids = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60).filter(
    str.strip
)
webhook_ids = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | header_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(header_text, inner, max_size=4),
    max_leaves=12,
)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


@st.composite
def unsigned_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """Arbitrary bytes or JSON with arbitrary (sometimes plausible) webhook headers."""
    body = draw(st.binary(max_size=2048) | json_values.map(encode))
    headers = draw(st.dictionaries(st.sampled_from(WEBHOOK_HEADERS) | header_text, header_text))
    if draw(st.booleans()):
        headers["webhook-timestamp"] = str(int(time.time()))
        headers["webhook-signature"] = draw(header_text)
    return body, headers


TAMPERINGS = (
    "wrong_secret",
    "other_body",
    "other_webhook_id",
    "other_timestamp",
    "stale",
    "future",
    "non_numeric_timestamp",
    "missing_headers",
    "truncated_body",
    "non_utf8_body",
    "garbage_signatures",
    "duplicated_header",
)


@st.composite
def tampered_deliveries(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    """A real incoming-call event whose delivery was tampered with in one way."""
    kind = draw(st.sampled_from(TAMPERINGS))
    body = encode(incoming_event(draw(call_ids)))
    webhook_id = draw(webhook_ids)
    headers = signed_headers(body, webhook_id=webhook_id)
    if kind == "wrong_secret":
        headers = signed_headers(body, webhook_id=webhook_id, secret=OTHER_SECRET)
    elif kind == "other_body":  # a captured signature replayed on a different body
        other = draw(st.binary(max_size=512) | call_ids.map(incoming_event).map(encode))
        assume(other != body)
        body = other
    elif kind == "other_webhook_id":  # a captured delivery replayed under a new webhook-id
        other_id = draw(webhook_ids)
        assume(other_id != webhook_id)
        headers["webhook-id"] = other_id
    elif kind == "other_timestamp":  # a captured signature with a fresh, in-window timestamp
        shift = draw(st.integers(-200, 200).filter(bool))
        headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + shift)
    elif kind in ("stale", "future"):
        age = draw(st.integers(302, 10**9))
        headers = signed_headers(body, webhook_id=webhook_id, age=age if kind == "stale" else -age)
    elif kind == "non_numeric_timestamp":
        timestamp = draw(header_text.filter(lambda text: not _is_int(text)))
        headers["webhook-timestamp"] = timestamp
        headers["webhook-signature"] = signature(body, webhook_id, timestamp)
    elif kind == "missing_headers":
        dropped = draw(st.sets(st.sampled_from(WEBHOOK_HEADERS), min_size=1))
        headers = {k: v for k, v in headers.items() if k not in dropped}
    elif kind == "truncated_body":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif kind == "non_utf8_body":
        body = body[:10] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) + body
        headers = signed_headers(body, webhook_id=webhook_id)
    elif kind == "garbage_signatures":
        tokens = draw(st.lists(header_text.filter(str.strip), min_size=1, max_size=4))
        headers["webhook-signature"] = " ".join(tokens)
    else:  # duplicated_header: a proxy folded two copies into one comma-separated value
        name = draw(st.sampled_from(("webhook-id", "webhook-timestamp")))
        headers[name] = f"{headers[name]}, {headers[name]}"
    return kind, body, headers


def _break(event: dict[str, Any], draw: st.DrawFn) -> None:
    """Remove or mistype one field the incoming-call event requires."""
    where = draw(st.sampled_from(["id", "created_at", "data", "call_id", "sip_headers"]))
    target = event["data"] if where in ("call_id", "sip_headers") else event
    wrong: dict[str, list[Any]] = {
        "id": [None, 1, [], {}],
        "created_at": [None, "soon", [], {}, 1.5],
        "data": [None, [], "x", 7],
        "call_id": [None, 1, [], {}, "", "   "],
        "sip_headers": [None, "From: x", 1, [1], [{"name": 1, "value": "x"}], [{}]],
    }
    if draw(st.booleans()):
        del target[where]
    else:
        target[where] = draw(st.sampled_from(wrong[where]))


@st.composite
def signed_wrong_shapes(draw: st.DrawFn) -> bytes:
    """Validly signed JSON that is not a usable incoming-call event."""
    choice = draw(st.sampled_from(["any_json", "other_type", "broken_event"]))
    if choice == "any_json":
        return encode(draw(json_values))
    event = incoming_event(draw(call_ids))
    if choice == "other_type":
        event["type"] = draw(header_text.filter(lambda t: t != "realtime.call.incoming"))
    else:
        _break(event, draw)
    return encode(event)


# ----------------------------------------------------------------------------- campaigns


@CAMPAIGN
@given(request=unsigned_requests())
async def test_arbitrary_unsigned_requests_are_400_and_start_nothing(
    app_host: DurableTestHost, request: tuple[bytes, dict[str, str]]
) -> None:
    body, headers = request
    assert await assert_rejected(app_host, body, headers) == "invalid signature"


@CAMPAIGN
@given(delivery=tampered_deliveries())
async def test_tampered_replayed_stale_or_half_signed_deliveries_are_400(
    app_host: DurableTestHost, delivery: tuple[str, bytes, dict[str, str]]
) -> None:
    _, body, headers = delivery
    assert await assert_rejected(app_host, body, headers) == "invalid signature"


@CAMPAIGN
@given(body=signed_wrong_shapes(), webhook_id=webhook_ids)
async def test_signed_json_of_the_wrong_shape_is_400_or_ignored_and_starts_nothing(
    app_host: DurableTestHost, body: bytes, webhook_id: str
) -> None:
    status, payload = await deliver(app_host, body, signed_headers(body, webhook_id=webhook_id))
    event = json.loads(body)
    event_type = event.get("type") if isinstance(event, dict) else None
    if isinstance(event_type, str) and event_type != "realtime.call.incoming":
        assert (status, payload) == (200, {"ignored": event_type[:100]})
    else:
        assert status == 400
        assert list(payload) == ["error"]
        assert payload["error"] in {"malformed JSON", "malformed event"}
    assert_nothing_started(app_host)


@CAMPAIGN
@given(extra=st.integers(1, 4096), tail=st.binary(max_size=64), signed=st.booleans())
async def test_bodies_over_one_mebibyte_are_413_signed_or_not(
    app_host: DurableTestHost, extra: int, tail: bytes, signed: bool
) -> None:
    body = b'{"pad":"' + b"x" * (MAX_BODY_BYTES + extra) + b'"}' + tail
    headers = signed_headers(body) if signed else {}
    assert await assert_rejected(app_host, body, headers, status=413) == "body too large"


@pytest.mark.parametrize("declared", [MAX_BODY_BYTES + 1, 3 * MAX_BODY_BYTES, 10**12])
async def test_a_body_declared_over_one_mebibyte_is_413_before_it_is_read(
    app_host: DurableTestHost, declared: int
) -> None:
    body = encode(incoming_event("rtc_declared_large"))
    headers = {**signed_headers(body), "content-length": str(declared)}
    assert await assert_rejected(app_host, body, headers, status=413) == "body too large"


def test_the_hosts_own_body_limit_is_the_webhook_cap() -> None:
    """The host stops a larger body (chunked too) while it arrives: the worker gets it whole."""
    example = Path(__file__).resolve().parents[2] / "local.settings.json.example"
    values = json.loads(example.read_text(encoding="utf-8"))["Values"]
    assert values["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] == str(MAX_BODY_BYTES)


async def test_a_body_of_exactly_one_mebibyte_is_read_and_verified(
    app_host: DurableTestHost,
) -> None:
    event = incoming_event("rtc_exactly_1mib")
    event["pad"] = ""
    event["pad"] = "x" * (MAX_BODY_BYTES - len(encode(event)))
    body = encode(event)
    assert len(body) == MAX_BODY_BYTES
    assert await assert_rejected(app_host, body, {}) == "invalid signature"
    status, payload = await deliver(app_host, body, signed_headers(body))
    assert (status, payload["status"]) == (200, "started")


# ------------------------------------------------------------------------ timestamp edges


async def _at_the_start_of_a_second() -> None:
    """So that signing and verifying fall in the same wall-clock second.

    Only the just-too-new case needs it: a second ticking between the two would bring a timestamp
    301 s ahead back inside the tolerance. Every other edge stays on its side of it.
    """
    await asyncio.sleep(1.02 - time.time() % 1)


@pytest.mark.parametrize("age", [301, -301, 3600, -3600, 10**9, -(10**9)])
async def test_timestamps_beyond_the_300_second_tolerance_are_400(
    app_host: DurableTestHost, age: int
) -> None:
    body = encode(incoming_event("rtc_edge_rejected"))
    if age == -301:
        await _at_the_start_of_a_second()
    assert await assert_rejected(app_host, body, signed_headers(body, age=age)) == (
        "invalid signature"
    )


@pytest.mark.parametrize("age", [299, -299])
async def test_timestamps_within_the_tolerance_are_accepted_once(
    app_host: DurableTestHost, age: int
) -> None:
    call_id = f"rtc_edge_{abs(age)}_{'past' if age > 0 else 'future'}"
    body = encode(incoming_event(call_id))
    status, payload = await deliver(app_host, body, signed_headers(body, age=age))
    assert (status, payload["status"]) == (200, "started")
    assert list(app_host.instances) == [call_id]


async def test_one_valid_signature_among_several_is_enough(app_host: DurableTestHost) -> None:
    body = encode(incoming_event("rtc_multi_signature"))
    headers = signed_headers(body)
    forged = signature(body, "wh_campaign", headers["webhook-timestamp"], OTHER_SECRET)
    headers["webhook-signature"] = f"v1,bm9wZQ== {forged} {headers['webhook-signature']} v2,x"
    status, payload = await deliver(app_host, body, headers)
    assert (status, payload["status"]) == (200, "started")


async def test_a_forged_call_with_a_leaked_secret_ends_as_caller_gone_after_one_accept(
    app_host: DurableTestHost,
) -> None:
    """The cost of a leaked secret is bounded: the service does not know the forged call_id."""
    body = encode(incoming_event("rtc_forged_by_secret_holder"))
    status, payload = await deliver(app_host, body, signed_headers(body))
    assert (status, payload["status"]) == (200, "started")
    view = await app_host.wait_for_completion("rtc_forged_by_secret_holder", RECORD_TIMEOUT)
    assert view.output["end_reason"] == "caller_gone"
    assert len(app_host.activity_calls(names.ACCEPT_CALL)) == 1
    assert app_host.activity_calls(names.MONITOR_CALL) == []
    replay_status, replay = await deliver(app_host, body, signed_headers(body, webhook_id="wh_2"))
    assert (replay_status, replay["status"]) == (200, "duplicate")


# ------------------------------------------- regressions: 500s this campaign found (87e4f05)


async def test_a_non_ascii_signature_header_is_a_400_not_a_crash(
    app_host: DurableTestHost,
) -> None:
    body = encode(incoming_event("rtc_non_ascii_signature"))
    headers = signed_headers(body)
    headers["webhook-signature"] = "v1,sïgnature " + headers["webhook-signature"]
    assert await assert_rejected(app_host, body, headers) == "invalid signature"


async def test_deeply_nested_signed_json_is_a_400_not_a_crash(app_host: DurableTestHost) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert await assert_rejected(app_host, body, signed_headers(body)) == "malformed JSON"


# -------------------------------------------- call ids: only the service's form gets in


@pytest.mark.parametrize(
    "call_id",
    [
        ".",
        "..",
        ".\n",
        "rtc_a\n",
        "rtc_x&model=evil&call_id=rtc_victim",
        "rtc_a\r\nINFO blueprints.ingress call rtc_forged: orchestration started",
        "rtc_a\x00b",
        "rtc_\x1b[2J\x1b[31mred",
        "rtc_a/../../b",
        "rtc_" + "9" * 20_000,
    ],
)
async def test_call_ids_not_of_the_services_form_are_400_start_nothing_and_log_safely(
    app_host: DurableTestHost, caplog: pytest.LogCaptureFixture, call_id: str
) -> None:
    caplog.set_level(logging.DEBUG)
    body = encode(incoming_event(call_id))
    assert await assert_rejected(app_host, body, signed_headers(body)) == "malformed event"
    app_records = [r for r in caplog.records if r.name.startswith(APP_LOGGERS)]
    assert any("not of the service's form" in r.getMessage() for r in app_records)
    assert leaks(app_records, []) == []


@CAMPAIGN
@given(call_id=call_ids.filter(lambda call_id: not CALL_ID.match(call_id)))
async def test_any_call_id_not_of_the_services_form_is_400(
    app_host: DurableTestHost, call_id: str
) -> None:
    body = encode(incoming_event(call_id))
    assert await assert_rejected(app_host, body, signed_headers(body)) == "malformed event"


@CAMPAIGN
@given(
    webhook_id=header_text,
    event_type=header_text.filter(lambda t: t != "realtime.call.incoming"),
)
async def test_hostile_webhook_ids_and_event_types_are_logged_on_one_safe_line(
    app_host: DurableTestHost, webhook_id: str, event_type: str
) -> None:
    handler = _Collect()
    logger = logging.getLogger("blueprints")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        body = encode({**incoming_event("rtc_logged"), "type": event_type})
        headers = {**signed_headers(body), "webhook-id": webhook_id}
        await deliver(app_host, body, headers)  # a bad signature (the id is signed): 400
        await deliver(app_host, body, signed_headers(body))  # ignored: 200
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert len(handler.records) >= 2
    assert leaks(handler.records, []) == []
    assert_nothing_started(app_host)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
