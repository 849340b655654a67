"""What the agent definition declares beyond its built-in tools: HTTP tools and keypad keys.

``[[http_tools]]`` are endpoints the model may call while the caller waits (the monitor calls
them, ``switchboard.realtime.http_tools``); ``[keypad]`` maps keys the caller presses to the
leaving actions the built-in tools take. Both are checked when the definition is loaded, so a
mistake fails the settings with a message that names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BUILT_IN_TOOLS = frozenset({"transfer_call", "end_call"})
TOOL_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
"""A function tool's name, as the Realtime API takes it (letters, digits, ``_``, ``-``)."""
SETTING_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
SETTING_NAME = re.compile(SETTING_PATTERN)
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")
SCOPE = re.compile(r"[\x21-\x7e]{1,200}\Z")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_TIMEOUT_SECONDS = 30.0
KEYS = frozenset("0123456789*#ABCD")


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` may not be a tool endpoint (HTTPS, or plain HTTP on loopback), or ``None``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme not in {"https", "http"} or not host:
        return "must be an https URL"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "must use https (plain http only on loopback)"
    if parts.username or parts.password:
        return "must not carry credentials (use auth)"
    return None


@dataclass(frozen=True)
class ToolAuth:
    """How a tool request proves itself: nothing, a managed identity token, or a secret header."""

    kind: Literal["none", "managed_identity", "function_key", "header"]
    scope: str | None = None
    header: str | None = None
    setting: str | None = None
    """The app setting holding the secret (the secret itself never sits in the definition)."""

    @classmethod
    def parse(cls, raw: str) -> ToolAuth:
        """Read one of the four forms (see the module and the README)."""
        kind, _, rest = raw.partition(":")
        if raw == "none":
            return cls("none")
        if kind == "managed_identity" and SCOPE.match(rest):
            return cls("managed_identity", scope=rest)
        if kind == "function_key" and SETTING_NAME.fullmatch(rest):
            return cls("function_key", header="x-functions-key", setting=rest)
        name, _, setting = rest.partition(":")
        if kind == "header" and HEADER_NAME.match(name) and SETTING_NAME.fullmatch(setting):
            return cls("header", header=name, setting=setting)
        raise ValueError(
            "auth must be none, managed_identity:<scope>, function_key:<setting> or "
            "header:<name>:<setting>"
        )


class HttpTool(BaseModel):
    """One ``[[http_tools]]`` entry: a function tool the monitor answers by calling an endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=TOOL_NAME)
    description: str = Field(min_length=1, max_length=1024)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    url: str | None = Field(default=None, max_length=2048)
    url_setting: str | None = Field(default=None, pattern=SETTING_PATTERN)
    method: Literal["GET", "POST"] = "POST"
    auth: str = "none"
    timeout_seconds: float = Field(default=5.0, gt=0, le=MAX_TIMEOUT_SECONDS)
    say_while_waiting: str | None = Field(default=None, min_length=1, max_length=300)

    @field_validator("name")
    @classmethod
    def _not_built_in(cls, name: str) -> str:
        if name in BUILT_IN_TOOLS:
            raise ValueError(f"{name!r} is a built-in tool")
        return name

    @field_validator("parameters")
    @classmethod
    def _a_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise ValueError(f"is not a JSON Schema: {error.message}") from None
        if schema.get("type") != "object":
            raise ValueError('must be a JSON Schema of "type": "object" (the arguments)')
        return schema

    @field_validator("auth")
    @classmethod
    def _auth(cls, raw: str) -> str:
        ToolAuth.parse(raw)
        return raw

    @model_validator(mode="after")
    def _one_url(self) -> HttpTool:
        if (self.url is None) == (self.url_setting is None):
            raise ValueError("needs exactly one of url and url_setting")
        problem = self.url and endpoint_problem(self.url)
        if problem:
            raise ValueError(f"url {problem}")
        return self

    @property
    def auth_rule(self) -> ToolAuth:
        """The parsed ``auth``."""
        return ToolAuth.parse(self.auth)

    def function_tool(self) -> dict[str, Any]:
        """Its entry in the session's ``tools``."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }


@dataclass(frozen=True)
class KeypadAction:
    """What a mapped key does: a transfer (to a department, or the default target) or end_call."""

    action: Literal["transfer", "end_call"]
    department: str | None = None


def http_tools(entries: object) -> tuple[HttpTool, ...]:
    """The ``[[http_tools]]`` array, each entry checked; names must be unique."""
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ValueError("needs [[http_tools]] to be an array of tables")
    tools: list[HttpTool] = []
    for index, entry in enumerate(entries):
        try:
            tools.append(HttpTool.model_validate(entry))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "entry"
            raise ValueError(
                f"has an invalid http_tools[{index}] ({where}: {first['msg']})"
            ) from None
    names = [tool.name for tool in tools]
    if len(set(names)) != len(names):
        raise ValueError("names an http tool twice")
    return tuple(tools)


def keypad(table: object, departments: Mapping[str, str]) -> dict[str, KeypadAction]:
    """The ``[keypad]`` table: ``"0" = "transfer:operator"``, ``"9" = "end_call"``."""
    if not isinstance(table, Mapping):
        raise ValueError("needs [keypad] to be a table")
    actions: dict[str, KeypadAction] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ValueError(f"maps keypad key {key!r}; keys are one of 0-9 * # A-D")
        if value == "end_call":
            actions[key] = KeypadAction("end_call")
            continue
        kind, _, department = str(value).partition(":")
        department = department.strip().lower()
        if kind != "transfer" or (":" in str(value) and not department):
            raise ValueError(
                f"maps keypad key {key!r} to {value!r}; use end_call, transfer or "
                "transfer:<department>"
            )
        if department and departments and department not in departments:
            raise ValueError(f"maps keypad key {key!r} to an unknown department {department!r}")
        actions[key] = KeypadAction("transfer", department or None)
    return actions
