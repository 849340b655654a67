"""Bad-input campaign against the operator API: get_call, transfer and hang-up, and the call list.

Generated call ids (unicode, slashes, ``?#``, control characters, very long) and bodies, against
unknown calls, an ended call and a live one. Invariants: no exception escapes (the host would
answer 500), the status is one the API documents, errors are a bare ``{"error": reason}``, and a
refused command changes nothing: no instance appears, no event reaches an orchestration.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import azure.functions as func
import pytest
from azure.durable_functions.models.history import HistoryEventType
from hypothesis import given
from hypothesis import strategies as st

from activities.names import OPERATOR_EVENT
from devhost.durable_history import Event
from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard.operator import OperatorCommand
from tests.campaigns.conftest import CAMPAIGN
from tests.campaigns.signing import encode, incoming_event, signed_headers

CALL_TIMEOUT = 5.0
RECORD_TIMEOUT = 15.0
ENDED_CALL = "rtc_campaign_ended"
ROUTES = {
    "get_call": ("GET", "", frozenset({200, 404})),
    "transfer_live_call": ("POST", "/transfer", frozenset({202, 400, 404, 409, 429})),
    "hang_up_live_call": ("POST", "/hangup", frozenset({202, 404, 409, 429})),
}
REASONS = frozenset(
    {
        "unknown call",
        "call has ended",
        "body must be JSON",
        "body must be a JSON object",
        "target_uri must be a tel: (E.164) or sip: URI",
        "only target_uri and handoff may be given",
        "handoff must be true or false",
        "call not answered yet",
        "a transfer is in progress",
        "call is ending",
    }
)


async def operator(
    host: DurableTestHost, function: str, call_id: str, body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    """Call one operator function as the host would route ``/api/calls/{call_id}[/verb]``."""
    method, verb, _ = ROUTES[function]
    req = func.HttpRequest(
        method=method,
        url=f"http://127.0.0.1/api/calls/{quote(call_id, safe='')}{verb}",
        headers={"content-type": "application/json"},
        route_params={"call_id": call_id},
        body=body,
    )
    async with asyncio.timeout(CALL_TIMEOUT):
        response = await host.call_http(function, req)
    payload = json.loads(response.get_body())
    assert isinstance(payload, dict)
    return response.status_code, payload


def events_raised(host: DurableTestHost) -> list[Event]:
    """Operator events that reached an orchestration (entity replies are events too: skipped)."""
    return [
        event
        for view in host.instances.values()
        for event in view.history
        if event["EventType"] == HistoryEventType.EVENT_RAISED and event["Name"] == OPERATOR_EVENT
    ]


# ---------------------------------------------------------------------------- strategies

call_ids = (
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=200)
    | st.sampled_from(
        [
            *(".", "..", ".\n", "a/b", "../x", "?x", "#x", "a?b#c", "%2F", "%00", "\x00"),
            *("\n", "@x", "rtc_1\n", "rtc_1\r\n", " "),
        ]
    )
    | st.integers(1000, 20_000).map(lambda n: "rtc_" + "9" * n)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
targets = st.sampled_from(
    ["tel:+14155550100", "sip:desk@pbx.example", "tel:123", "sip:nohost", "mailto:a@b", ""]
) | st.text(max_size=80)
bodies = (
    st.just(b"")
    | st.binary(max_size=512)
    | json_values.map(encode)
    | st.builds(lambda t: encode({"target_uri": t}), targets | json_values)
)


def valid_transfer(body: bytes) -> bool:
    try:
        OperatorCommand.transfer("campaign", body)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture
async def ended_call(app_host: DurableTestHost) -> str:
    """A call that has ended (a forged call the service does not know: ``caller_gone``)."""
    body = encode(incoming_event(ENDED_CALL))
    req = func.HttpRequest(
        method="POST",
        url="http://127.0.0.1/api/calls/incoming",
        headers=signed_headers(body),
        body=body,
    )
    assert (await app_host.call_http("incoming_call", req)).status_code == 200
    await app_host.wait_for_completion(ENDED_CALL, RECORD_TIMEOUT)
    return ENDED_CALL


@pytest.fixture
async def live_call(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> AsyncIterator[str]:
    """A call in progress (``long_call``), hung up by the caller at teardown."""
    call_id = await emulator.place_call(
        "long_call", webhook_url=f"{app_url}/api/calls/incoming", time_scale=1.0
    )
    await app_host.wait_until(
        lambda: len(app_host.activity_calls("monitor_call")) == 1, timeout=RECORD_TIMEOUT
    )
    yield call_id
    await emulator.caller_hangup(call_id)
    await app_host.wait_for_completion(call_id, RECORD_TIMEOUT)


# ----------------------------------------------------------------------------- campaigns


@CAMPAIGN
@given(
    function=st.sampled_from(sorted(ROUTES)),
    call_id=call_ids | st.just(ENDED_CALL),
    body=bodies,
)
async def test_any_call_id_and_body_gets_a_documented_status_and_changes_nothing(
    app_host: DurableTestHost, ended_call: str, function: str, call_id: str, body: bytes
) -> None:
    status, payload = await operator(app_host, function, call_id, body)
    assert status in ROUTES[function][2], payload
    if status >= 400:
        assert list(payload) == ["error"]
        assert payload["error"] in REASONS
    if function == "transfer_live_call" and not valid_transfer(body):
        assert status == 400
    elif call_id == ended_call:
        assert status == (200 if function == "get_call" else 409)
        assert payload.get("record", {}).get("end_reason", "caller_gone") == "caller_gone"
    else:
        assert (status, payload) == (404, {"error": "unknown call"})
    assert list(app_host.instances) == [ended_call]
    assert events_raised(app_host) == []


@CAMPAIGN
@given(body=bodies.filter(lambda body: not valid_transfer(body)))
async def test_refused_transfers_leave_a_live_call_untouched(
    app_host: DurableTestHost, live_call: str, body: bytes
) -> None:
    status, payload = await operator(app_host, "transfer_live_call", live_call, body)
    assert status == 400
    assert list(payload) == ["error"]
    assert payload["error"] in REASONS
    assert app_host.instances[live_call].runtime_status.value == "Running"
    assert events_raised(app_host) == []


# ------------------------------------------- regressions: 500s this campaign found (87e4f05)


@pytest.mark.parametrize("function", ["get_call", "hang_up_live_call"])
@pytest.mark.parametrize("call_id", [".", "..", ".\n"])
async def test_a_dot_segment_call_id_is_404_not_a_crash(
    app_host: DurableTestHost, function: str, call_id: str
) -> None:
    assert await operator(app_host, function, call_id) == (404, {"error": "unknown call"})


async def test_a_deeply_nested_transfer_body_is_400_not_a_crash(
    app_host: DurableTestHost,
) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    status, payload = await operator(app_host, "transfer_live_call", "rtc_any", body)
    assert (status, payload) == (400, {"error": "body must be JSON"})


async def test_concurrent_hangups_of_one_call_get_202_or_409_never_500(
    app_host: DurableTestHost, live_call: str
) -> None:
    async def hang_up_until_ended() -> list[int | str]:
        results: list[int | str] = []
        while app_host.instances[live_call].runtime_status.value == "Running":
            try:
                results.append((await operator(app_host, "hang_up_live_call", live_call))[0])
            except Exception as error:  # what the Functions host would turn into a 500
                results.append(f"500: {error}")
        return results

    outcomes = [
        r for rs in await asyncio.gather(*(hang_up_until_ended() for _ in range(8))) for r in rs
    ]
    assert 202 in outcomes
    assert {r for r in outcomes if not isinstance(r, int)} == set()
    assert set(outcomes) <= {202, 409}


LIST_PARAMS = ("since", "status", "limit", "cursor", "code", "other")
"""The call list's parameters, plus ones it must ignore."""


@CAMPAIGN
@given(
    params=st.dictionaries(
        st.sampled_from(LIST_PARAMS),
        st.text(max_size=60)
        | st.sampled_from(["running", "completed,failed", "50", "0", "2026-01-01T00:00:00Z"]),
        max_size=4,
    )
)
async def test_any_call_list_query_gets_200_or_a_named_400(
    app_host: DurableTestHost, ended_call: str, params: dict[str, str]
) -> None:
    req = func.HttpRequest(method="GET", url="http://127.0.0.1/api/calls", params=params, body=b"")
    response = await app_host.call_http("list_calls", req)
    payload = json.loads(response.get_body())
    if response.status_code == 200:
        assert set(payload) == {"calls", "next"}
        assert all(call["call_id"] == ended_call for call in payload["calls"])
    else:
        assert response.status_code in (400, 502), payload
        assert list(payload) == ["error"]
        named = payload["error"].split(" ", 1)[0]
        assert named in LIST_PARAMS or response.status_code == 502, payload
    assert list(app_host.instances) == [ended_call]
