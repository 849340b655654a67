"""Remote MCP servers the agent may use, from the definition's ``[[mcp_servers]]`` tables.

The Realtime API calls the server itself: each entry becomes an ``{"type": "mcp", ...}`` tool in
the session the call is accepted with. Secrets never sit in the file: a header's value names an
app setting (``"setting:MCP_TOKEN"``, a Key Vault reference in Azure) that the settings resolve at
load. ``require_approval`` is what the service asks about; ``approve`` is the app's own answer: the
tools it grants when asked (every other request is declined).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

LABEL = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
"""A server label: letters, digits, ``_`` and ``-``, starting with a letter (it names the server
in the record and in the service's events)."""
TOOL = r"^[A-Za-z0-9_.-]{1,64}$"
HEADER = r"^[A-Za-z0-9-]{1,64}$"
SETTING_REF = re.compile(r"setting:([A-Za-z_][A-Za-z0-9_]{0,127})\Z")
MAX_URL = 2048
MAX_SERVERS = 10

ToolName = Annotated[str, StringConstraints(pattern=TOOL)]
HeaderName = Annotated[str, StringConstraints(pattern=HEADER)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolFilter(_Model):
    """The service's filter object: tools by name, or by their read-only annotation."""

    tool_names: tuple[ToolName, ...] | None = None
    read_only: bool | None = None


class ApprovalFilter(_Model):
    """Per-tool approval as the Realtime API's MCP tool takes it: ``always`` / ``never`` filters."""

    always: ToolFilter | None = None
    never: ToolFilter | None = None


class McpServer(_Model):
    """One ``[[mcp_servers]]`` entry."""

    server_label: Annotated[str, StringConstraints(pattern=LABEL)]
    server_url: Annotated[str, StringConstraints(max_length=MAX_URL)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    allowed_tools: tuple[ToolName, ...] | None = None
    require_approval: Literal["always", "never"] | ApprovalFilter = "always"
    approve: tuple[ToolName, ...] = ()
    """The app's policy: tools whose approval requests it grants; every other one is declined."""
    headers: dict[HeaderName, str] = Field(default_factory=dict, max_length=20)
    """Header name → ``setting:<NAME>``: the value is the app setting's, never inline."""

    @field_validator("server_url")
    @classmethod
    def _https(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname:
            return url
        if parts.scheme == "http" and _loopback(parts.hostname):
            return url
        raise ValueError("must be an https:// URL (http:// only on loopback, for tests)")

    @field_validator("headers")
    @classmethod
    def _settings_only(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not SETTING_REF.fullmatch(value):
                raise ValueError(
                    f"header {name!r} must name an app setting, e.g. 'setting:MCP_TOKEN' "
                    "(secrets never go in the file)"
                )
        return headers

    def settings(self) -> list[str]:
        """The app settings this server's headers read."""
        return [_setting(value) for value in self.headers.values()]

    def session_tool(self, setting_values: Mapping[str, str]) -> dict[str, Any]:
        """The ``mcp`` tool for the accept; ``setting_values`` holds the resolved settings."""
        tool: dict[str, Any] = {
            "type": "mcp",
            "server_label": self.server_label,
            "server_url": self.server_url,
            "require_approval": (
                self.require_approval
                if isinstance(self.require_approval, str)
                else self.require_approval.model_dump(mode="json", exclude_none=True)
            ),
        }
        if self.description is not None:
            tool["server_description"] = self.description
        if self.allowed_tools is not None:
            tool["allowed_tools"] = list(self.allowed_tools)
        if self.headers:
            tool["headers"] = {
                name: setting_values[_setting(value)] for name, value in self.headers.items()
            }
        return tool

    def grants(self, tool: str) -> bool:
        """Whether the app approves a request to run ``tool`` on this server."""
        allowed = self.allowed_tools is None or tool in self.allowed_tools
        return allowed and tool in self.approve


def _setting(reference: str) -> str:
    match = SETTING_REF.fullmatch(reference)
    assert match is not None  # checked by the validator
    return match.group(1)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_servers(raw: object) -> tuple[McpServer, ...]:
    """The definition's ``mcp_servers`` array; ``ValueError`` names the entry and the field."""
    if not isinstance(raw, list) or len(raw) > MAX_SERVERS:
        raise ValueError(f"needs [[mcp_servers]] to be at most {MAX_SERVERS} tables")
    servers: list[McpServer] = []
    for index, entry in enumerate(raw):
        try:
            servers.append(McpServer.model_validate(entry))
        except ValueError as error:
            raise ValueError(f"has an invalid [[mcp_servers]] entry {index}: {error}") from None
    labels = [server.server_label for server in servers]
    if len(set(labels)) != len(labels):
        raise ValueError("names an MCP server_label twice")
    return tuple(servers)
