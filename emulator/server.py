"""The emulator: an aiohttp app on loopback for call control, the call WebSocket and /emulator."""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import tomllib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from . import analysis, faults, rest
from .call import Call, CallState, EndReason, TimelineListener
from .config import EmulatorConfig
from .errors import ApiError
from .events import JsonDict, new_id
from .realtime import AUTH_KIND, serve_socket
from .samples import OrderStatusSample
from .scenario import (
    SCENARIOS,
    Repeat,
    Say,
    Scenario,
    ScenarioError,
    Step,
    load_scenario,
    parse_scenario,
)
from .script import run_script
from .webhook import deliver, redeliver

logger = logging.getLogger(__name__)

API_PREFIXES = ("/openai/v1", "/v1")
"""Azure OpenAI's v1 paths and OpenAI's; both serve the same API."""

_CALL_VERBS: dict[str, Callable[[Call, JsonDict], Awaitable[None]]] = {
    "accept": rest.accept,
    "reject": rest.reject,
    "refer": rest.refer,
    "hangup": rest.hangup,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Emulator:
    """A stand-in for Azure OpenAI's SIP gateway and Realtime API, run on the caller's event loop.

    ``async with Emulator(config) as emu`` starts it; `base_url` is then its address.
    Nothing here blocks the loop, so it can share one with the code under test.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, listener: TimelineListener | None = None
    ) -> None:
        self.config = config or EmulatorConfig()
        self.calls: dict[str, Call] = {}
        """Every call placed on this instance, by call_id (live and finished)."""
        self._listener = listener
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._port: int | None = None
        self.order_status = OrderStatusSample()
        """The sample order-status endpoint (``/samples/order-status``) and its requests."""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; the app uses ``base_url + "/openai/v1"``."""
        if self._port is None:
            raise RuntimeError("the emulator is not running; use 'async with Emulator(...)'")
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self._port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind the configured loopback address and start serving."""
        app = web.Application(
            middlewares=[self._middleware], client_max_size=self.config.max_body_bytes
        )
        for prefix in API_PREFIXES:
            app.router.add_post(prefix + "/realtime/calls/{call_id}/{verb}", self._call_control)
            app.router.add_get(prefix + "/realtime", self._realtime)
            app.router.add_post(prefix + "/chat/completions", self._chat_completions)
        app.router.add_route("*", "/samples/order-status", self.order_status.order_status)
        app.router.add_get("/emulator/health", self._health)
        app.router.add_get("/emulator/calls", self._list_calls)
        app.router.add_post("/emulator/calls", self._place_call)
        app.router.add_get("/emulator/calls/{call_id}", self._get_call)
        app.router.add_post("/emulator/calls/{call_id}/caller-hangup", self._caller_hangup)
        app.router.add_post("/emulator/calls/{call_id}/drop-sockets", self._drop_sockets)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._http = aiohttp.ClientSession()
        logger.info("emulator listening on %s", self.base_url)

    async def close(self) -> None:
        """End every live call, wait for their tasks, and stop serving."""
        for call in self.calls.values():
            call.finish(CallState.ENDED, EndReason.EMULATOR_SHUTDOWN)
        tasks = [task for call in self.calls.values() for task in call.tasks]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._port = None

    # -- the Python API -------------------------------------------------------------------

    async def place_call(
        self, scenario: str | Scenario, webhook_url: str, *, time_scale: float | None = None
    ) -> str:
        """Create a ringing call and start delivering its webhook; returns the call_id at once.

        `scenario` is a shipped name (see `SCENARIOS`), a path, or a parsed `Scenario`.
        `time_scale` (default: the config's) multiplies the scenario's `wait` steps.
        """
        if self._http is None:
            raise RuntimeError("the emulator is not running; use 'async with Emulator(...)'")
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        scale = self.config.time_scale if time_scale is None else time_scale
        if not scale > 0:
            raise ValueError(f"time_scale must be > 0, got {scale}")
        call = Call(
            call_id=new_id("rtc_", 16),
            scenario=scenario,
            webhook_url=webhook_url,
            time_scale=scale,
            listener=self._listener,
        )
        call.redeliver = functools.partial(redeliver, self._http, call, self.config)
        self.calls[call.call_id] = call
        call.record(
            "state",
            previous=None,
            state=call.state.value,
            reason=None,
            sip_status=None,
            scenario=scenario.name,
        )
        logger.info("call %s placed (scenario %s)", call.call_id, scenario.name)
        call.spawn(deliver(self._http, call, self.config), "webhook")
        call.spawn(self._ring_timeout(call), "ring-timeout")
        call.spawn(run_script(call, self.config.step_timeout_seconds), "script")
        return call.call_id

    async def wait_for_end(self, call_id: str, timeout: float = 10.0) -> JsonDict:
        """Wait until the call has ended and its sockets are closed; returns `timeline(call_id)`.

        Raises KeyError for an unknown call and TimeoutError if it is still live after `timeout`.
        """
        call = self.calls[call_id]
        async with asyncio.timeout(timeout):
            await call.ended.wait()
        return call.view()

    def timeline(self, call_id: str) -> JsonDict:
        """The call's JSON view, the same as GET /emulator/calls/{call_id}."""
        return self.calls[call_id].view()

    async def caller_hangup(self, call_id: str) -> None:
        """The caller hangs up now (cancels the call if it is still ringing)."""
        self.calls[call_id].caller_hangup()

    async def drop_sockets(self, call_id: str) -> int:
        """Drop every WebSocket of the call without a close frame; the call stays up."""
        return self.calls[call_id].drop_sockets()

    async def _ring_timeout(self, call: Call) -> None:
        await asyncio.sleep(self.config.ring_timeout_seconds)
        if call.state is CallState.RINGING:
            call.finish(CallState.ENDED, EndReason.RING_TIMEOUT, 408)
            return
        limit = self.config.max_call_seconds
        if call.scenario.session_limit_seconds is not None:
            limit = min(limit, call.scenario.session_limit_seconds * call.time_scale)
        await asyncio.sleep(max(0.0, limit - call.elapsed()))
        call.finish(CallState.ENDED, EndReason.SESSION_LIMIT)

    # -- HTTP ---------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Authenticate API routes, render errors as JSON, and record API requests on the call."""
        api = request.path.startswith(API_PREFIXES)
        auth = request[AUTH_KIND] = _auth_kind(request)
        body: Any = None
        try:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(
                    413,
                    f"Request body larger than {self.config.max_body_bytes} bytes.",
                    code="request_too_large",
                ) from None
            body = _body_for_timeline(raw)
            if api and not self._authorized(request):
                raise ApiError(
                    401,
                    "Missing or invalid credentials: "
                    "send 'api-key: <key>' or 'Authorization: Bearer <token>'.",
                    code="invalid_api_key",
                    error_type="invalid_request_error",
                )
            response = await handler(request)
        except faults.ConnectionReset:
            # Close the connection without a word; nothing is written, so record no status.
            if request.transport is not None:
                request.transport.abort()
            self._record_request(request, auth, body, None)
            return web.Response(status=204)  # never written: the transport is gone
        except ApiError as exc:
            response = exc.response()
        except web.HTTPException as exc:
            response = ApiError(
                exc.status, exc.reason, code=exc.reason.lower().replace(" ", "_")
            ).response()
        if api and not isinstance(response, web.WebSocketResponse):  # sockets record themselves
            self._record_request(request, auth, body, response.status)
        return response

    def _record_request(
        self, request: web.Request, auth: str, body: Any, status: int | None
    ) -> None:
        call = self.calls.get(request.match_info.get("call_id") or request.query.get("call_id", ""))
        if call is not None:
            call.record(
                "request",
                method=request.method,
                path=request.path,
                auth=auth,
                body=body,
                status=status,
            )

    def _authorized(self, request: web.Request) -> bool:
        key = self.config.api_key.encode()
        api_key = request.headers.get("api-key")
        if api_key is not None and hmac.compare_digest(api_key.encode(), key):
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.config.accept_any_bearer_token or hmac.compare_digest(
            token.strip().encode(), key
        )

    async def _call_control(self, request: web.Request) -> web.Response:
        verb = _CALL_VERBS.get(request.match_info["verb"])
        if verb is None:
            raise ApiError(
                404, f"Unknown operation {request.match_info['verb']!r}.", code="not_found"
            )
        call = self._call(request.match_info["call_id"])
        body = await _json_object(request, required=False)
        await faults.before_request(call, request.match_info["verb"], _waiting(request))
        await verb(call, body)
        return web.Response(status=200)

    async def _chat_completions(self, request: web.Request) -> web.Response:
        """The text deployment of the post-call analysis, scripted by each call's scenario."""
        body = await _json_object(request, required=True)
        scripts = [_analysis_script(call) for call in reversed(self.calls.values())]
        return web.json_response(analysis.complete(body, self.config.analysis_deployment, scripts))

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        call_id = request.query.get("call_id")
        if not call_id:
            raise ApiError(
                400,
                "Missing required query parameter: 'call_id'.",
                code="missing_required_parameter",
                param="call_id",
            )
        call = self._call(call_id)
        await faults.before_request(call, "connect", _waiting(request))
        if call.state is not CallState.ACTIVE:
            raise rest.not_found(call_id, f"is not active ({call.state.value})")
        return await serve_socket(request, call)

    def _call(self, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise rest.not_found(call_id)
        return call

    async def _health(self, request: web.Request) -> web.Response:
        live = sum(1 for call in self.calls.values() if call.live)
        return web.json_response(
            {
                "status": "ok",
                "calls": len(self.calls),
                "live_calls": live,
                "scenarios": list(SCENARIOS),
            }
        )

    async def _list_calls(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"calls": [call.view(timeline=False) for call in self.calls.values()]}
        )

    async def _get_call(self, request: web.Request) -> web.Response:
        return web.json_response(self._call(request.match_info["call_id"]).view())

    async def _place_call(self, request: web.Request) -> web.Response:
        body = await _json_object(request, required=True)
        scenario = _requested_scenario(body)
        webhook_url = body.get("webhook_url")
        if not isinstance(webhook_url, str) or not webhook_url.startswith(("http://", "https://")):
            raise ApiError(
                400,
                "'webhook_url' must be an http(s) URL.",
                code="invalid_value",
                param="webhook_url",
            )
        time_scale = body.get("time_scale", self.config.time_scale)
        if (
            isinstance(time_scale, bool)
            or not isinstance(time_scale, int | float)
            or not time_scale > 0
        ):
            raise ApiError(
                400, "'time_scale' must be a number > 0.", code="invalid_value", param="time_scale"
            )
        call_id = await self.place_call(scenario, webhook_url, time_scale=float(time_scale))
        return web.json_response({"call_id": call_id}, status=201)

    async def _caller_hangup(self, request: web.Request) -> web.Response:
        call = self._call(request.match_info["call_id"])
        call.caller_hangup()
        return web.json_response(call.view(timeline=False))

    async def _drop_sockets(self, request: web.Request) -> web.Response:
        dropped = self._call(request.match_info["call_id"]).drop_sockets()
        return web.json_response({"dropped": dropped})


def _requested_scenario(body: JsonDict) -> Scenario:
    """A shipped scenario by name, or one sent as TOML text (`scenario_toml`, named `scenario`)."""
    name = body.get("scenario")
    text = body.get("scenario_toml")
    if text is None:
        if not isinstance(name, str) or name not in SCENARIOS:
            raise ApiError(
                400,
                f"'scenario' must be one of {list(SCENARIOS)}, or send 'scenario_toml'.",
                code="invalid_value",
                param="scenario",
            )
        return load_scenario(name)
    if not isinstance(text, str) or not isinstance(name, str | None):
        raise ApiError(
            400,
            "'scenario_toml' must be the text of a scenario file, 'scenario' its name.",
            code="invalid_type",
            param="scenario_toml",
        )
    try:
        return parse_scenario(name or "custom", tomllib.loads(text))
    except (ScenarioError, tomllib.TOMLDecodeError) as exc:
        raise ApiError(400, str(exc), code="invalid_scenario", param="scenario_toml") from None


def _waiting(request: web.Request) -> Callable[[], bool]:
    """Whether the client is still connected, waiting for its answer."""

    def waiting() -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    return waiting


def _auth_kind(request: web.Request) -> str:
    if "api-key" in request.headers:
        return "api-key"
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return "bearer"
    return "none"


def _body_for_timeline(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # deeply nested JSON raises RecursionError
        return raw[:2000].decode("utf-8", errors="replace")


async def _json_object(request: web.Request, *, required: bool) -> JsonDict:
    """The request body as a JSON object; an empty body is `{}` unless the route needs one."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ApiError(400, "A JSON object body is required.", code="invalid_json")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def _analysis_script(call: Call) -> dict[str, Any]:
    """A call's scripted analysis, with the caller lines that identify its transcript."""
    scripted = call.scenario.analysis
    return {
        "caller_lines": _caller_lines(call.scenario.steps),
        "summary": scripted.summary,
        "data": dict(scripted.data),
        "success": scripted.success,
        "success_reason": scripted.success_reason,
        "follow_up": scripted.follow_up,
    }


def _caller_lines(steps: tuple[Step, ...]) -> list[str]:
    lines: list[str] = []
    for step in steps:
        if isinstance(step, Say):
            lines.append(step.text)
        elif isinstance(step, Repeat):
            lines.extend(_caller_lines(step.steps))
    return lines
