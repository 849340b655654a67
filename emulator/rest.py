"""Call control: accept, reject, refer and hangup, with the errors the real service would give.

Where the service's behaviour is undocumented the choice is listed in emulator/README.md
("Error choices"); in short: unknown or finished call → 404 `call_not_found`, accept/reject of
an accepted call → 409 `call_already_accepted`, refer/hangup of a ringing call → 409
`call_not_active`.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from .call import Call, CallState, EndReason
from .errors import ApiError
from .events import JsonDict
from .faults import status_error
from .model import DEFAULT_SESSION, merge
from .session_rules import session_refusal

_TARGET_URI = re.compile(r"^(tel|sips?):\S+$")


def not_found(call_id: str, detail: str = "does not exist") -> ApiError:
    """The 404 for an unknown call, or one whose caller is gone."""
    return ApiError(404, f"Call {call_id!r} {detail}.", code="call_not_found", param="call_id")


def _gone(call: Call) -> ApiError:
    reason = call.reason.value if call.reason else call.state.value
    return not_found(call.call_id, f"is no longer available ({call.state.value}: {reason})")


def _require(body: JsonDict, name: str, kind: type, description: str) -> Any:
    if name not in body or body[name] is None:
        raise ApiError(
            400,
            f"Missing required parameter: '{name}'.",
            code="missing_required_parameter",
            param=name,
        )
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise ApiError(
            400, f"Invalid '{name}': expected {description}.", code="invalid_type", param=name
        )
    return value


def _validate_accept(body: JsonDict) -> JsonDict:
    """Azure requires type, model and instructions; the rest must be a valid realtime session."""
    if _require(body, "type", str, "the string 'realtime'") != "realtime":
        raise ApiError(
            400, "Invalid 'type': must be 'realtime'.", code="invalid_value", param="type"
        )
    if not _require(body, "model", str, "a deployment name"):
        raise ApiError(
            400, "Invalid 'model': must not be empty.", code="invalid_value", param="model"
        )
    _require(body, "instructions", str, "a string")
    session = merge(DEFAULT_SESSION, body)
    refusal = session_refusal(session)
    if refusal is not None:
        raise ApiError(400, refusal.message, code=refusal.code, param=refusal.param)
    return session


async def accept(call: Call, body: JsonDict) -> None:
    """Validate, then apply the scenario's accept faults, then answer the call."""
    call.accept_attempts += 1
    session = _validate_accept(body)
    faults = call.scenario.accept
    if faults.delay_seconds:
        await asyncio.sleep(faults.delay_seconds)
    if faults.fail_status is not None and call.accept_attempts <= faults.fail_times:
        raise status_error(faults.fail_status, faults.retry_after_seconds)
    # No await between this check and the state change: of two racing accepts exactly one wins.
    if call.state is CallState.ACTIVE:
        raise ApiError(
            409, f"Call {call.call_id!r} has already been accepted.", code="call_already_accepted"
        )
    if call.state is not CallState.RINGING:
        raise _gone(call)
    call.session = session
    call.accept_count += 1
    call.counters.accepted += 1
    call.set_state(CallState.ACTIVE, sip_status=200)
    await call.notify()


async def reject(call: Call, body: JsonDict) -> None:
    """Send the caller a SIP final response (default 603 Decline)."""
    status = 603
    if body.get("status_code") is not None:
        status = _require(body, "status_code", int, "a SIP status code")
        if not 400 <= status <= 699:
            raise ApiError(
                400,
                "Invalid 'status_code': must be a SIP code between 400 and 699.",
                code="invalid_value",
                param="status_code",
            )
    if call.state is CallState.ACTIVE:
        raise ApiError(
            409,
            f"Call {call.call_id!r} has already been accepted; use hangup.",
            code="call_already_accepted",
        )
    if call.state is not CallState.RINGING:
        raise _gone(call)
    call.finish(CallState.ENDED, EndReason.REJECTED, status)


async def refer(call: Call, body: JsonDict) -> None:
    """Relay a REFER; the transfer itself completes (or not) as the scenario says."""
    target = _require(body, "target_uri", str, "a tel: or sip: URI")
    if not _TARGET_URI.match(target):
        raise ApiError(
            400,
            "Invalid 'target_uri': must be a tel: or sip: URI.",
            code="invalid_value",
            param="target_uri",
        )
    _require_active(call)
    first = not call.refer_targets
    call.refer_targets.append(target)
    call.counters.refer += 1
    call.record("refer", target_uri=target)
    await call.notify()
    behaviour = call.scenario.refer
    if first and behaviour.completes:
        call.spawn(_complete_transfer(call, behaviour.delay_seconds), "refer")


async def _complete_transfer(call: Call, delay: float) -> None:
    await asyncio.sleep(delay)
    call.finish(CallState.TRANSFERRED, EndReason.REFER)


async def hangup(call: Call, body: JsonDict) -> None:
    """End an active call; its sockets are closed by the server."""
    _require_active(call)
    call.finish(CallState.ENDED, EndReason.HANGUP)


def _require_active(call: Call) -> None:
    if call.state is CallState.RINGING:
        raise ApiError(
            409,
            f"Call {call.call_id!r} has not been accepted; use accept or reject.",
            code="call_not_active",
        )
    if call.state is not CallState.ACTIVE:
        raise _gone(call)
