"""The agent definition's ``[[mcp_servers]]``: grammar, the session tool, secrets by setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from switchboard.agent import Agent
from switchboard.analysis import transcript_text
from switchboard.settings import Settings, SettingsError

SERVER: dict[str, Any] = {
    "server_label": "orders",
    "server_url": "https://mcp.example.com/orders",
    "allowed_tools": ["order_status", "cancel_order"],
    "require_approval": {"always": {"tool_names": ["cancel_order"]}},
    "approve": ["cancel_order"],
    "headers": {"Authorization": "setting:MCP_TOKEN"},
}
BASE_ENV = {
    "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
    "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
    "OPENAI_WEBHOOK_SECRET": "whsec_c3dpdGNoYm9hcmQtbG9jYWwtZW11bGF0b3Itc2VjcmV0",
}


def _agent(**changes: Any) -> Agent:
    return Agent.from_definition({"mcp_servers": [{**SERVER, **changes}]})


def _settings(tmp_path: Path, **env: str) -> Settings:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[[mcp_servers]]\nserver_label = "orders"\nserver_url = "https://mcp.example.com/o"\n'
        'headers = { Authorization = "setting:MCP_TOKEN" }\n',
        encoding="utf-8",
    )
    return Settings.from_env({**BASE_ENV, "AGENT_DEFINITION": str(path), **env})


def test_a_server_becomes_an_mcp_tool_with_the_settings_value_as_header(tmp_path: Path) -> None:
    settings = _settings(tmp_path, MCP_TOKEN="Bearer s3cret")
    session = settings.agent.session_config("gpt-realtime")
    assert session["tools"][-1] == {
        "type": "mcp",
        "server_label": "orders",
        "server_url": "https://mcp.example.com/o",
        "require_approval": "always",
        "headers": {"Authorization": "Bearer s3cret"},
    }
    assert "s3cret" not in repr(settings.agent)


def test_the_approval_filter_and_allowed_tools_go_as_the_api_takes_them() -> None:
    agent = Agent.from_definition({"tools": [], "mcp_servers": [{**SERVER, "headers": {}}]})
    session = agent.session_config("m")
    assert session["tool_choice"] == "auto"
    assert session["tools"] == [
        {
            "type": "mcp",
            "server_label": "orders",
            "server_url": "https://mcp.example.com/orders",
            "allowed_tools": ["order_status", "cancel_order"],
            "require_approval": {"always": {"tool_names": ["cancel_order"]}},
        }
    ]


def test_after_hours_the_agent_has_no_mcp_servers() -> None:
    agent = _agent(headers={})
    assert all(
        t["type"] == "function" for t in agent.session_config("m", after_hours=True)["tools"]
    )


def test_the_policy_grants_only_listed_and_allowed_tools() -> None:
    (server,) = _agent(approve=["cancel_order", "drop_tables"]).mcp_servers
    assert server.grants("cancel_order")
    assert not server.grants("order_status")  # allowed, but not approved by the app
    assert not server.grants("drop_tables")  # approved, but not an allowed tool


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"server_label": "1orders"}, "server_label"),
        ({"server_label": "or ders"}, "server_label"),
        ({"server_url": "http://mcp.example.com/orders"}, "https:// URL"),
        ({"server_url": "ftp://127.0.0.1/x"}, "https:// URL"),
        ({"headers": {"Authorization": "Bearer inline"}}, "must name an app setting"),
        ({"require_approval": "sometimes"}, "require_approval"),
        ({"require_approval": {"always": {"names": ["x"]}}}, "names"),
        ({"allowed_tools": ["bad tool"]}, "allowed_tools"),
        ({"token": "x"}, "token"),
    ],
)
def test_bad_servers_are_refused_by_name(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match="invalid \\[\\[mcp_servers\\]\\] entry 0") as error:
        _agent(**change)
    assert problem in str(error.value)


def test_loopback_http_is_allowed_for_tests() -> None:
    for url in ("http://127.0.0.1:9/mcp", "http://localhost/mcp", "http://[::1]/mcp"):
        assert _agent(server_url=url).mcp_servers[0].server_url == url


def test_two_servers_with_one_label_are_refused() -> None:
    with pytest.raises(ValueError, match="server_label twice"):
        Agent.from_definition({"mcp_servers": [SERVER, SERVER]})


def test_a_missing_or_unresolved_header_setting_is_named_and_not_shown(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MCP_TOKEN is required but not set"):
        _settings(tmp_path)
    reference = "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/mcp)"
    with pytest.raises(SettingsError) as error:
        _settings(tmp_path, MCP_TOKEN=reference)
    assert "MCP_TOKEN is a Key Vault reference the platform did not resolve" in str(error.value)
    assert "vault.azure.net" not in str(error.value)


def test_the_analysis_reads_a_tool_turn_as_the_tools_not_the_agents() -> None:
    turns = [
        {"speaker": "caller", "text": "Cancel 5678"},
        {"speaker": "tool", "text": "mcp orders.cancel_order: completed"},
        {"speaker": "agent", "text": "Done."},
    ]
    assert transcript_text(turns).splitlines() == [
        "Caller: Cancel 5678",
        "Tool: mcp orders.cancel_order: completed",
        "Agent: Done.",
    ]
