"""How call-control outcomes are classified, driven by the SDK's own exception types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx2 as httpx
import openai
import pytest

from switchboard.call_control import (
    INVALID_TARGET_CODE,
    UNCONFIRMED_CODE,
    CallControl,
    ControlResult,
    Outcome,
    TransientCallError,
    run_control,
)

REQUEST = httpx.Request("POST", "https://contoso.openai.azure.com/openai/v1/realtime/calls/x/y")


def status_error(status: int, code: str = "x") -> openai.APIStatusError:
    response = httpx.Response(status, request=REQUEST, json={"error": {"code": code}})
    return openai.APIStatusError("refused", response=response, body={"code": code})


def scripted(*outcomes: Exception | None) -> tuple[Callable[[], Awaitable[None]], list[int]]:
    """A request that raises (or succeeds) as scripted, counting its attempts."""
    attempts: list[int] = []

    async def request() -> None:
        attempts.append(len(attempts) + 1)
        outcome = outcomes[len(attempts) - 1]
        if outcome is not None:
            raise outcome

    return request, attempts


async def test_transient_statuses_raise_for_durable_to_retry() -> None:
    for status in (429, 500, 503):
        request, _ = scripted(status_error(status))
        with pytest.raises(TransientCallError):
            await run_control("accept", "c", request)


async def test_gone_and_refused_come_back_typed() -> None:
    request, _ = scripted(status_error(404, "call_not_found"))
    assert await run_control("accept", "c", request) == ControlResult(
        Outcome.CALL_GONE, 404, "call_not_found"
    )
    request, _ = scripted(status_error(403, "forbidden"))
    assert (await run_control("reject", "c", request)).outcome is Outcome.REFUSED


async def test_an_unanswered_reject_is_sent_again_and_gone_then_means_done() -> None:
    request, attempts = scripted(openai.APITimeoutError(REQUEST), status_error(404))
    assert await run_control("reject", "c", request) == ControlResult(Outcome.OK, 404, "x")
    assert attempts == [1, 2]


async def test_an_unanswered_accept_that_finds_the_call_gone_is_still_gone() -> None:
    request, _ = scripted(openai.APIConnectionError(request=REQUEST), status_error(404))
    result = await run_control("accept", "c", request, done_already=409)
    assert result.outcome is Outcome.CALL_GONE
    request, _ = scripted(openai.APITimeoutError(REQUEST), status_error(409))
    assert (await run_control("accept", "c", request, done_already=409)).outcome is Outcome.OK


async def test_a_second_unanswered_attempt_is_left_to_durable() -> None:
    request, attempts = scripted(openai.APITimeoutError(REQUEST), openai.APITimeoutError(REQUEST))
    with pytest.raises(TransientCallError):
        await run_control("hangup", "c", request)
    assert attempts == [1, 2]


async def test_an_unanswered_refer_is_never_sent_twice() -> None:
    request, attempts = scripted(openai.APITimeoutError(REQUEST))
    result = await run_control("refer", "c", request, resend=False)
    assert result == ControlResult(Outcome.OK, None, UNCONFIRMED_CODE)
    assert attempts == [1]


async def test_a_refer_to_an_invalid_target_is_never_sent() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    client = openai.AsyncOpenAI(
        api_key="unused",
        base_url="https://contoso.openai.azure.com/openai/v1/",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(record)),
    )
    control = CallControl(client)
    for target in ("tel:+14155550123;x=1\r\nX-Evil: 1", "sip:a@b.example?Replaces=x", "tel:555"):
        result = await control.refer("rtc_1", target)
        assert result == ControlResult(Outcome.REFUSED, 400, INVALID_TARGET_CODE)
    assert sent == []
    assert (await control.refer("rtc_1", "tel:+14155550123")).outcome is Outcome.OK
    assert [request.url.path for request in sent] == ["/openai/v1/realtime/calls/rtc_1/refer"]


async def test_the_sdk_encodes_the_call_id_in_rest_paths() -> None:
    """REST paths are the SDK's to build; it encodes path parameters, as this checks."""
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    client = openai.AsyncOpenAI(
        api_key="unused",
        base_url="https://contoso.openai.azure.com/openai/v1/",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(record)),
    )
    await CallControl(client).hangup("rtc_a/../../x?y=1#z")
    assert sent[0].url.raw_path.decode() == (
        "/openai/v1/realtime/calls/rtc_a%2F..%2F..%2Fx%3Fy=1%23z/hangup"
    )
