"""A scenario's ``[[faults]]``: which fault a request meets, and what the fault does to it.

A fault lies in wait for a call-control verb, the WebSocket handshake (``connect``) or a client
event type; it lets `skip` matching requests through and hits the next `times` (see
:class:`emulator.scenario.Fault` and emulator/README.md).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from .call import Call
from .errors import ApiError
from .scenario import Fault


class ConnectionReset(Exception):
    """Raised by a handler so the server closes the TCP connection without answering."""


def status_error(status: int, retry_after_seconds: float) -> ApiError:
    """The service's 429 (with `retry-after` and `retry-after-ms`) or 5xx answer."""
    if status == 429:
        return ApiError(
            429,
            "Requests to the Realtime calls API have exceeded the rate limit. Retry later.",
            code="rate_limit_exceeded",
            error_type="rate_limit_error",
            headers={
                "retry-after": str(math.ceil(retry_after_seconds)),
                "retry-after-ms": str(round(retry_after_seconds * 1000)),
            },
        )
    return ApiError(
        status,
        "The server had an error while processing your request.",
        code="server_error",
        error_type="server_error",
    )


def take(call: Call, on: str) -> Fault | None:
    """Count one request matching `on` against every fault; return (and record) the one it meets."""
    hit: Fault | None = None
    for index, fault in enumerate(call.scenario.faults):
        if fault.on != on:
            continue
        seen = call.fault_seen.get(index, 0)
        call.fault_seen[index] = seen + 1
        if hit is None and fault.skip <= seen < fault.skip + fault.times:
            hit = fault
            call.record("fault", on=on, action=fault.action, status=fault.status, match=seen + 1)
    return hit


async def before_request(call: Call, on: str, client_waiting: Callable[[], bool]) -> None:
    """Apply the fault an HTTP request (verb or handshake) meets; return to carry it out.

    Raises :class:`ApiError` (``status``) or :class:`ConnectionReset` (``reset``): the request is
    then not carried out. ``timeout`` returns after holding the request, and records whether the
    client was still waiting for it (``client_waiting``) in a ``released`` timeline entry.
    """
    fault = take(call, on)
    if fault is None:
        return
    match fault.action:
        case "status":
            assert fault.status is not None  # the parser requires it
            raise status_error(fault.status, fault.retry_after_seconds)
        case "timeout":
            await asyncio.sleep(fault.seconds)
            call.record("released", on=on, seconds=fault.seconds, client_waiting=client_waiting())
        case "reset":
            raise ConnectionReset(f"fault on {on}")
        case _:
            await _side_effect(call, fault)


async def on_client_event(call: Call, event_type: str) -> bool:
    """Apply the fault a client event meets; ``False`` when the event is lost with it."""
    fault = take(call, event_type)
    if fault is None:
        return True
    await _side_effect(call, fault)
    return fault.action == "redeliver_webhook"


async def _side_effect(call: Call, fault: Fault) -> None:
    match fault.action:
        case "caller_hangup":
            call.caller_hangup()
        case "drop_sockets":
            call.drop_sockets()
        case "redeliver_webhook":
            await call.redeliver_webhook()
        case _:
            raise AssertionError(f"not a side-effect fault: {fault.action}")
