"""Calling the agent's HTTP tools: the model's arguments checked, one bounded request, one answer.

The arguments are untrusted (the model writes them, often from what the caller said): they are
checked against the tool's declared JSON Schema before anything is sent, and a call that fails
the check never reaches the endpoint. The request is bounded in time (the tool's timeout, at most
30 s, covering the token, the connection and the body) and its answer in size
(:data:`MAX_RESPONSE_BYTES`). Every failure becomes a short structured error the model can
explain to the caller. What the record keeps of a call is its name, the size of its arguments,
its outcome, the HTTP status and its duration: never the arguments, the answer or any secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jsonschema

from switchboard.agent_tools import HttpTool, endpoint_problem
from switchboard.untrusted import shown

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024
MAX_ARGUMENT_BYTES = 16 * 1024
TokenSource = Callable[[str], Awaitable[str]]
"""Returns a bearer token for a scope (the app's managed identity)."""


@dataclass(frozen=True)
class ToolAnswer:
    """What goes back to the model (``function_call_output``) and what goes into the record."""

    output: str
    entry: dict[str, Any]


class ToolFailure(Exception):
    """A call that did not produce a usable answer; ``code`` is what the model and record see."""

    def __init__(self, code: str, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status


class HttpToolCaller:
    """Calls the declared tools over one aiohttp session; settings come from ``env``."""

    def __init__(
        self,
        tools: tuple[HttpTool, ...],
        http: aiohttp.ClientSession,
        env: Mapping[str, str],
        token: TokenSource | None = None,
        *,
        call: str = "-",
    ) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self._call = call
        """The phone call's id, for the log lines."""
        self._http = http
        self._env = env
        self._token = token

    async def call(self, call_id: str, name: str, arguments: str) -> ToolAnswer:
        """Check the arguments, call the endpoint, and say what happened (never raises)."""
        tool = self.tools[name]
        started, status = time.monotonic(), None
        try:
            args = _checked_arguments(tool, arguments)
            async with asyncio.timeout(tool.timeout_seconds):
                status, body = await self._request(tool, args)
            output, outcome = json.dumps(body), "ok"
        except ToolFailure as failure:
            status, outcome = failure.http_status or status, failure.code
            output = json.dumps({"error": {"code": failure.code, "message": failure.message}})
        except TimeoutError:
            outcome = "timeout"
            output = json.dumps(
                {"error": {"code": "timeout", "message": f"{name} did not answer in time."}}
            )
        duration_ms = round((time.monotonic() - started) * 1000)
        logger.info(
            "call %s: tool %s (%s): %s (HTTP %s) in %d ms",
            self._call,
            name,
            shown(call_id),
            outcome,
            status,
            duration_ms,
        )
        entry = {
            "call_id": call_id[:100],
            "name": name,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "arguments_bytes": len(arguments.encode()),
            "outcome": outcome,
            "http_status": status,
            "duration_ms": duration_ms,
        }
        return ToolAnswer(output, entry)

    async def _request(self, tool: HttpTool, args: dict[str, Any]) -> tuple[int, Any]:
        url = tool.url or self._env.get(tool.url_setting or "", "").strip()
        problem = endpoint_problem(url) if url else "is not set"
        if problem:
            logger.warning("call %s: tool %s: its endpoint %s", self._call, tool.name, problem)
            raise ToolFailure("not_configured", f"{tool.name} is not available right now.")
        options: dict[str, Any] = {"headers": await self._headers(tool), "allow_redirects": False}
        if tool.method == "GET":
            options["params"] = {key: _query_value(value) for key, value in args.items()}
        else:
            options["json"] = args
        try:
            async with self._http.request(tool.method, url, **options) as response:
                body = await _bounded_body(response)
                status = response.status
        except (aiohttp.ClientError, OSError) as error:
            raise ToolFailure("unreachable", f"{tool.name} could not be reached.") from error
        if not 200 <= status < 300:
            raise ToolFailure("http_error", f"{tool.name} answered with an error.", status)
        try:
            return status, json.loads(body)
        except ValueError:
            raise ToolFailure(
                "not_json", f"{tool.name} gave an unreadable answer.", status
            ) from None

    async def _headers(self, tool: HttpTool) -> dict[str, str]:
        auth = tool.auth_rule
        if auth.kind == "none":
            return {}
        if auth.kind == "managed_identity":
            if self._token is None or auth.scope is None:
                raise ToolFailure("not_configured", f"{tool.name} is not available right now.")
            try:
                return {"Authorization": "Bearer " + await self._token(auth.scope)}
            except Exception as error:  # any credential failure: the call goes on without it
                kind = type(error).__name__
                logger.warning("call %s: tool %s: no token (%s)", self._call, tool.name, kind)
                raise ToolFailure("not_configured", f"{tool.name} is not available now.") from None
        secret = self._env.get(auth.setting or "", "").strip()
        if not secret or auth.header is None:
            logger.warning(
                "call %s: tool %s: its auth setting %s is not set",
                self._call,
                tool.name,
                auth.setting,
            )
            raise ToolFailure("not_configured", f"{tool.name} is not available right now.")
        return {auth.header: secret}


def _checked_arguments(tool: HttpTool, arguments: str) -> dict[str, Any]:
    """The model's arguments, if they are a JSON object the tool's schema admits."""
    if len(arguments.encode()) > MAX_ARGUMENT_BYTES:
        raise ToolFailure("invalid_arguments", "The arguments are too long.")
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        raise ToolFailure("invalid_arguments", "The arguments are not valid JSON.") from None
    if not isinstance(args, dict):
        raise ToolFailure("invalid_arguments", "The arguments must be a JSON object.")
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(tool.parameters).iter_errors(args)
    )
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "arguments"
        raise ToolFailure("invalid_arguments", f"{where}: {error.message[:200]}")
    return args


def _query_value(value: object) -> str:
    """A GET argument as one query value: scalars as written, anything else as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


async def _bounded_body(response: aiohttp.ClientResponse) -> bytes:
    """The body, refused past :data:`MAX_RESPONSE_BYTES` (declared or actual)."""
    if (response.content_length or 0) > MAX_RESPONSE_BYTES:
        raise ToolFailure("too_large", "The answer was too large.", response.status)
    body = bytearray()
    async for chunk in response.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise ToolFailure("too_large", "The answer was too large.", response.status)
    return bytes(body)
