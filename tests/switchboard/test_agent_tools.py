"""HTTP tools and keypad keys in the agent definition: checked when the definition loads."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.agent import Agent
from switchboard.agent_tools import KeypadAction, ToolAuth, endpoint_problem

TOOL: dict[str, Any] = {
    "name": "order_status",
    "description": "Look an order up.",
    "url": "https://orders.example.com/status",
    "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}},
}


def test_an_http_tool_becomes_a_function_tool_in_the_session() -> None:
    agent = Agent.from_definition({"http_tools": [TOOL]})
    config = agent.session_config("gpt-realtime")
    assert config["tools"][-1] == {
        "type": "function",
        "name": "order_status",
        "description": "Look an order up.",
        "parameters": TOOL["parameters"],
    }
    assert config["tool_choice"] == "auto"
    tool = agent.http_tools[0]
    assert (tool.method, tool.timeout_seconds, tool.auth_rule) == ("POST", 5.0, ToolAuth("none"))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "end_call"}, "'end_call' is a built-in tool"),
        ({"name": "look up"}, "name: String should match pattern"),
        ({"name": "x" * 65}, "name: String should match pattern"),
        ({"description": ""}, "description: String should have at least 1 character"),
        ({"parameters": {"type": "object", "properties": 3}}, "is not a JSON Schema"),
        ({"parameters": {"type": "string"}}, 'must be a JSON Schema of "type": "object"'),
        ({"url": "http://orders.example.com/"}, "must use https"),
        ({"url": "https://user:pw@orders.example.com/"}, "must not carry credentials"),
        ({"url_setting": "ORDERS_URL"}, "needs exactly one of url and url_setting"),
        ({"url": None, "url_setting": "ORDERS URL"}, "url_setting: String should match"),
        ({"method": "DELETE"}, "method: Input should be 'GET' or 'POST'"),
        ({"timeout_seconds": 31}, "timeout_seconds: Input should be less than or equal to 30"),
        ({"timeout_seconds": 0}, "timeout_seconds: Input should be greater than 0"),
        ({"auth": "basic:me"}, "auth must be none, managed_identity:<scope>"),
        ({"auth": "header:X-Key"}, "auth must be none"),
        ({"auth": "function_key:"}, "auth must be none"),
        ({"headers": {"a": "b"}}, "headers: Extra inputs are not permitted"),
    ],
)
def test_a_bad_http_tool_is_refused_with_what_is_wrong(
    change: dict[str, Any], problem: str
) -> None:
    entry = {key: value for key, value in (TOOL | change).items() if value is not None}
    with pytest.raises(ValueError, match="http_tools\\[0\\]") as refused:
        Agent.from_definition({"http_tools": [entry]})
    assert problem in str(refused.value)


def test_two_http_tools_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="names an http tool twice"):
        Agent.from_definition({"http_tools": [TOOL, TOOL]})


@pytest.mark.parametrize(
    ("raw", "auth"),
    [
        ("none", ToolAuth("none")),
        (
            "managed_identity:api://orders/.default",
            ToolAuth("managed_identity", "api://orders/.default"),
        ),
        (
            "function_key:ORDERS_KEY",
            ToolAuth("function_key", None, "x-functions-key", "ORDERS_KEY"),
        ),
        ("header:X-Api-Key:ORDERS_KEY", ToolAuth("header", None, "X-Api-Key", "ORDERS_KEY")),
    ],
)
def test_auth_forms(raw: str, auth: ToolAuth) -> None:
    assert ToolAuth.parse(raw) == auth


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://orders.example.com/x", None),
        ("http://127.0.0.1:8765/samples/order-status", None),
        ("http://[::1]:80/x", None),
        ("http://localhost/x", None),
        ("http://10.0.0.1/x", "must use https (plain http only on loopback)"),
        ("file:///etc/passwd", "must be an https URL"),
        ("https://", "must be an https URL"),
    ],
)
def test_endpoints_are_https_or_loopback(url: str, problem: str | None) -> None:
    assert endpoint_problem(url) == problem


def test_keypad_keys_map_to_a_transfer_or_end_call() -> None:
    agent = Agent.from_definition(
        {
            "departments": {"operator": "a person", "sales": "orders"},
            "keypad": {"0": "transfer:Operator", "*": "transfer", "9": "end_call"},
        }
    )
    assert agent.keypad == {
        "0": KeypadAction("transfer", "operator"),
        "*": KeypadAction("transfer"),
        "9": KeypadAction("end_call"),
    }


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"10": "end_call"}, "maps keypad key '10'"),
        ({"x": "end_call"}, "maps keypad key 'x'"),
        ({"1": "hang_up"}, "use end_call, transfer or transfer:<department>"),
        ({"1": "transfer:"}, "use end_call, transfer or transfer:<department>"),
        ({"1": "transfer:billing"}, "unknown department 'billing'"),
    ],
)
def test_bad_keypad_maps_are_refused(table: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match="keypad") as refused:
        Agent.from_definition({"departments": {"sales": "orders"}, "keypad": table})
    assert problem in str(refused.value)
