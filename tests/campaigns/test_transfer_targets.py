"""Hostile transfer targets against the real operator function: refused before anything is sent.

Each target here was once accepted and forwarded to the service in a REFER (one forged a log
line). Now every target passes ``switchboard.sip.is_transfer_target``, and an operator's target
must also be among ``TRANSFER_ALLOWED_TARGETS`` when that is set.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import azure.functions as func
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devhost.durable_host import DurableTestHost
from tests.campaigns.conftest import CAMPAIGN
from tests.conftest import CallEnv

HOSTILE = [
    "tel:+14155550123;x=1\r\nX-Evil: 1",
    "sip:desk@pbx.example.com\n",
    "sip:desk@pbx.example.com?Replaces=abc%40pbx&X-Evil=1",
    "sip:desk@pbx.example.com;maddr=203.0.113.9",
    "sip:" + "d" * 100_000 + "@pbx.example.com",
    "sip:desk\x00@pbx.example.com",
    "sip:desk@pbx.example.com\x1b[31m",
    "sip:desk@pbx.example.com\x1b[2K\rINFO forged line",
]


async def transfer(host: DurableTestHost, target: object) -> tuple[int, dict[str, Any]]:
    req = func.HttpRequest(
        method="POST",
        url="http://127.0.0.1/api/calls/rtc_nobody/transfer",
        headers={"content-type": "application/json"},
        route_params={"call_id": "rtc_nobody"},
        body=json.dumps({"target_uri": target}).encode(),
    )
    async with asyncio.timeout(5):
        response = await host.call_http("transfer_live_call", req)
    return response.status_code, json.loads(response.get_body())


@pytest.mark.parametrize("target", HOSTILE)
async def test_hostile_operator_targets_are_400(app_host: DurableTestHost, target: str) -> None:
    status, body = await transfer(app_host, target)
    assert (status, body) == (400, {"error": "target_uri must be a tel: (E.164) or sip: URI"})


@CAMPAIGN
@given(
    target=st.sampled_from(["tel:+14155550123", "sip:desk@pbx.example.com"]),
    junk=st.text(st.characters(categories=["Cc", "Zs", "Zl", "Zp"]), min_size=1, max_size=4),
    at=st.integers(0, 30),
)
async def test_a_target_with_control_characters_or_spaces_anywhere_is_400(
    app_host: DurableTestHost, target: str, junk: str, at: int
) -> None:
    status, _ = await transfer(app_host, target[:at] + junk + target[at:])
    assert status == 400


async def test_operator_targets_must_be_among_the_allowed_targets(
    call_env: CallEnv, app_host: DurableTestHost
) -> None:
    call_env.set(TRANSFER_ALLOWED_TARGETS="+14155550100,+1415777*,pbx.example.com")
    refused = {"error": "target_uri is not among the allowed transfer targets"}
    for target in ("tel:+19005550100", "sip:desk@evil.example", "sips:x@pbx.example.com.evil"):
        assert await transfer(app_host, target) == (400, refused)
    for target in ("tel:+14155550100", "tel:+14157770001", "sip:desk@PBX.example.com"):
        # passes validation; the call does not exist, so 404 (a 400 would mean refused)
        assert (await transfer(app_host, target))[0] == 404
