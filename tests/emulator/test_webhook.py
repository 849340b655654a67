from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
import standardwebhooks
from aiohttp import web
from openai import AsyncOpenAI, InvalidWebhookSignatureError

from emulator import DEFAULT_WEBHOOK_SECRET, Emulator
from tests.emulator.emulator_testkit import SECRET, FakeApp


def verify_independently(body: bytes, headers: dict[str, str]) -> None:
    standardwebhooks.Webhook(SECRET).verify(body, headers)


async def test_webhook_is_verified_by_sdk_and_standardwebhooks(emu: Emulator, app: FakeApp) -> None:
    call_id = await emu.place_call("transfer", app.url)
    await emu.wait_for_end(call_id, timeout=5)
    (body, headers), *_ = app.deliveries
    verify_independently(body, headers)
    event = AsyncOpenAI(api_key="unused").webhooks.unwrap(body, headers, secret=SECRET)
    assert event.type == "realtime.call.incoming"
    assert event.data.call_id == call_id
    assert call_id.startswith("rtc_")
    payload = json.loads(body)
    assert payload["object"] == "event"
    assert payload["id"].startswith("evt_")
    assert abs(payload["created_at"] - time.time()) < 5
    names = [h["name"] for h in payload["data"]["sip_headers"]]
    assert names == ["From", "To", "Call-ID", "X-Customer-Tier"]
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["webhook-id"] == emu.calls[call_id].webhook_id


@pytest.mark.parametrize("scenario", ["bad_signature", "stale_timestamp"])
async def test_faulty_webhooks_fail_both_verifiers_and_are_retried(
    emu: Emulator, app: FakeApp, scenario: str
) -> None:
    call_id = await emu.place_call(scenario, app.url)
    view = await emu.wait_for_end(call_id, timeout=5)
    assert (view["reason"], view["sip_status"]) == ("ring_timeout", 408)
    assert app.webhook_statuses == [400] * (emu.config.webhook_retries + 1)
    body, headers = app.deliveries[0]
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        verify_independently(body, headers)
    with pytest.raises(InvalidWebhookSignatureError):
        AsyncOpenAI(api_key="unused").webhooks.verify_signature(body, headers, secret=SECRET)
    attempts = [e for e in view["timeline"] if e["kind"] == "webhook"]
    assert [e["attempt"] for e in attempts] == [1, 2, 3]
    stale = scenario == "stale_timestamp"
    assert all((time.time() - e["timestamp"] > 800) == stale for e in attempts)


async def test_duplicates_share_the_webhook_id_and_arrive_concurrently(
    emu: Emulator, app: FakeApp
) -> None:
    call_id = await emu.place_call("duplicate_webhook", app.url, time_scale=0.1)
    view = await emu.wait_for_end(call_id, timeout=5)
    ids = {headers["webhook-id"] for _, headers in app.deliveries}
    assert len(app.deliveries) == 4
    assert ids == {view["webhook"]["webhook_id"]}
    assert len({body for body, _ in app.deliveries}) == 1
    assert view["accept_count"] == 1
    assert view["expectation_errors"] == []


@pytest.fixture
async def flaky_endpoint() -> AsyncIterator[tuple[str, list[float]]]:
    """Answers 503, then hangs past the timeout, then 204; records arrival times."""
    arrivals: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return web.Response(status=503)
        if len(arrivals) == 2:
            await asyncio.sleep(1.0)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", arrivals
    await runner.cleanup()


async def test_redelivers_with_backoff_after_error_and_timeout(
    flaky_endpoint: tuple[str, list[float]],
) -> None:
    from emulator import EmulatorConfig

    url, arrivals = flaky_endpoint
    config = EmulatorConfig(
        webhook_retries=3,
        webhook_backoff_seconds=0.1,
        webhook_timeout_seconds=0.3,
        ring_timeout_seconds=2,
    )
    async with Emulator(config) as emu:
        call_id = await emu.place_call("bad_signature", url)
        await emu.calls[call_id].wait_until(lambda: emu.calls[call_id].webhook_acknowledged == 1, 3)
        attempts = [e for e in emu.calls[call_id].timeline if e["kind"] == "webhook"]
    assert [(e["status"], e["error"] is not None) for e in attempts] == [
        (503, False),
        (None, True),
        (204, False),
    ]
    assert arrivals[1] - arrivals[0] >= 0.1
    assert arrivals[2] - arrivals[1] >= 0.3 + 0.2  # the timeout, then the doubled backoff


def test_default_secret_is_clearly_fake() -> None:
    import base64

    assert (
        base64.b64decode(DEFAULT_WEBHOOK_SECRET.removeprefix("whsec_"))
        == b"switchboard-local-emulator-secret"
    )
