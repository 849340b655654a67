"""HTTP tools called for the model: checked arguments, bounded requests, structured failures."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from switchboard.agent_tools import HttpTool
from switchboard.realtime.http_tools import MAX_RESPONSE_BYTES, HttpToolCaller
from tests.switchboard.realtime.tool_endpoint import Endpoint, endpoint

SCHEMA = {
    "type": "object",
    "required": ["order_number"],
    "additionalProperties": False,
    "properties": {"order_number": {"type": "string", "pattern": "^[A-Z0-9-]{1,20}$"}},
}
SECRET = "tool-secret-value-0123456789"


@pytest.fixture
async def served() -> AsyncIterator[Endpoint]:
    async with endpoint() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def tool(served: Endpoint, path: str = "/ok", **fields: Any) -> HttpTool:
    values: dict[str, Any] = {
        "name": "lookup",
        "description": "Look an order up.",
        "parameters": SCHEMA,
        "url": served.url + path,
    }
    return HttpTool.model_validate(values | fields)


async def call(caller: HttpToolCaller, arguments: object) -> tuple[dict[str, Any], dict[str, Any]]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    answer = await caller.call("call_1", "lookup", text)
    return json.loads(answer.output), answer.entry


async def test_a_valid_post_sends_the_arguments_as_json_and_returns_the_answer(
    served: Endpoint, http: aiohttp.ClientSession
) -> None:
    caller = HttpToolCaller((tool(served),), http, {})
    output, entry = await call(caller, {"order_number": "A-1"})
    assert output == {"echo": {"order_number": "A-1"}}
    assert [(r["method"], r["body"]) for r in served.requests] == [
        ("POST", {"order_number": "A-1"})
    ]
    assert (entry["name"], entry["outcome"], entry["http_status"]) == ("lookup", "ok", 200)
    assert entry["arguments_bytes"] == len('{"order_number": "A-1"}')


async def test_a_get_encodes_the_arguments_in_the_query(
    served: Endpoint, http: aiohttp.ClientSession
) -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}}
    caller = HttpToolCaller((tool(served, method="GET", parameters=schema),), http, {})
    output, _ = await call(caller, {"q": "a&b=c#d", "n": 3})
    assert output == {"echo": {"q": "a&b=c#d", "n": "3"}}
    assert served.requests[0]["method"] == "GET"


@pytest.mark.parametrize(
    ("arguments", "detail"),
    [
        ({"order_number": "a 1"}, "order_number: 'a 1' does not match"),
        ({}, "arguments: 'order_number' is a required property"),
        ({"order_number": "A-1", "extra": 1}, "arguments: Additional properties"),
        ("not json", "The arguments are not valid JSON."),
        ("[1]", "The arguments must be a JSON object."),
        ({"order_number": "A" * 20_000}, "The arguments are too long."),
    ],
)
async def test_arguments_the_schema_refuses_are_never_sent(
    served: Endpoint, http: aiohttp.ClientSession, arguments: object, detail: str
) -> None:
    caller = HttpToolCaller((tool(served),), http, {})
    output, entry = await call(caller, arguments)
    assert output["error"]["code"] == "invalid_arguments"
    assert output["error"]["message"].startswith(detail)
    assert (entry["outcome"], entry["http_status"]) == ("invalid_arguments", None)
    assert served.requests == []


@pytest.mark.parametrize(
    ("path", "outcome", "status"),
    [
        ("/fail", "http_error", 503),
        ("/text", "not_json", 200),
        ("/big", "too_large", 200),
        ("/stream", "too_large", 200),
    ],
)
async def test_a_bad_answer_becomes_a_short_error_for_the_model(
    served: Endpoint, http: aiohttp.ClientSession, path: str, outcome: str, status: int
) -> None:
    caller = HttpToolCaller((tool(served, path),), http, {})
    output, entry = await call(caller, {"order_number": "A-1"})
    assert output["error"]["code"] == outcome
    assert len(json.dumps(output)) < 200
    assert (entry["outcome"], entry["http_status"]) == (outcome, status)
    assert MAX_RESPONSE_BYTES == 64 * 1024


async def test_a_slow_endpoint_times_out_within_the_tools_timeout(
    served: Endpoint, http: aiohttp.ClientSession
) -> None:
    served.delay = 5.0
    caller = HttpToolCaller((tool(served, "/slow", timeout_seconds=0.3),), http, {})
    output, entry = await call(caller, {"order_number": "A-1"})
    assert output["error"]["code"] == "timeout"
    assert entry["outcome"] == "timeout"
    assert 300 <= entry["duration_ms"] < 1500


async def test_an_unreachable_endpoint_is_reported(http: aiohttp.ClientSession) -> None:
    async with endpoint() as gone:
        url = gone.url
    unreachable = HttpTool.model_validate(
        {"name": "lookup", "description": "x", "parameters": SCHEMA, "url": url + "/ok"}
    )
    output, entry = await call(HttpToolCaller((unreachable,), http, {}), {"order_number": "A"})
    assert (output["error"]["code"], entry["outcome"]) == ("unreachable", "unreachable")


@pytest.mark.parametrize(
    "url", ["", "http://example.com/orders", "ftp://127.0.0.1/x", "https://user:pw@example.com/"]
)
async def test_a_url_setting_must_hold_an_https_or_loopback_url(
    http: aiohttp.ClientSession, url: str
) -> None:
    declared = HttpTool.model_validate(
        {"name": "lookup", "description": "x", "parameters": SCHEMA, "url_setting": "ORDERS_URL"}
    )
    caller = HttpToolCaller((declared,), http, {"ORDERS_URL": url})
    output, entry = await call(caller, {"order_number": "A-1"})
    assert (output["error"]["code"], entry["outcome"]) == ("not_configured", "not_configured")


async def test_secret_headers_are_sent_but_never_logged_or_recorded(
    served: Endpoint, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tools = (
        tool(served, auth="header:X-Api-Key:ORDERS_KEY"),
        tool(served, name="keyed", auth="function_key:ORDERS_KEY"),
    )
    caller = HttpToolCaller(tools, http, {"ORDERS_KEY": SECRET})
    first = await caller.call("call_1", "lookup", '{"order_number": "A-1"}')
    second = await caller.call("call_2", "keyed", '{"order_number": "A-1"}')
    assert [r["headers"].get("X-Api-Key") for r in served.requests] == [SECRET, None]
    assert served.requests[1]["headers"]["x-functions-key"] == SECRET
    assert SECRET not in json.dumps([first.entry, second.entry, first.output, second.output])
    assert SECRET not in caplog.text


async def test_a_missing_secret_setting_sends_nothing(
    served: Endpoint, http: aiohttp.ClientSession
) -> None:
    caller = HttpToolCaller((tool(served, auth="header:X-Api-Key:ORDERS_KEY"),), http, {})
    output, _ = await call(caller, {"order_number": "A-1"})
    assert output["error"]["code"] == "not_configured"
    assert served.requests == []


async def test_a_managed_identity_tool_sends_a_bearer_token_for_its_scope(
    served: Endpoint, http: aiohttp.ClientSession
) -> None:
    scopes: list[str] = []

    async def token(scope: str) -> str:
        scopes.append(scope)
        return "token-for-" + scope

    scope = "api://orders/.default"
    caller = HttpToolCaller((tool(served, auth=f"managed_identity:{scope}"),), http, {}, token)
    await call(caller, {"order_number": "A-1"})
    assert scopes == [scope]
    assert served.requests[0]["headers"]["Authorization"] == f"Bearer token-for-{scope}"
