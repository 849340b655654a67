"""The operator API (function-key auth): look at a call, transfer it, hang it up.

Commands reach the running orchestration as an external event carrying an id made here (and
returned in the 202), so the orchestration acts on each once. What a command does in each phase
is the orchestration's to decide (``switchboard.operator.refusal``); this API answers 409 early
when the phase it can see already refuses the command, and 429 once the call has taken its
share of commands.
"""

import logging
import uuid
from collections import OrderedDict
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from activities import names
from blueprints._http import error_response, json_response
from switchboard.operator import COMMANDS_PER_CALL, OperatorCommand, refusal
from switchboard.records import Phase
from switchboard.settings import get_settings
from switchboard.store.calls import stored_record
from switchboard.store.live import live_transcript
from switchboard.untrusted import shown
from switchboard.webhook import instance_id_for

logger = logging.getLogger(__name__)
bp = df.Blueprint()

_LIVE = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})
"""A suspended call is still up at the service: it is live, and commands wait for its resume."""
_REFUSED = {
    "not_answered": "call not answered yet",
    "transfer_in_progress": "a transfer is in progress",
    "ending": "call is ending",
    "ended": "call has ended",
}


@bp.route(route="calls/{call_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The call's live phase and its turns so far, and its record once it has ended."""
    call_id = req.route_params["call_id"]
    status = await client.get_status(instance_id_for(call_id))
    live = status.runtime_status is not None and status.runtime_status.value in _LIVE
    stored = None if live else await stored_record(call_id)
    if status.runtime_status is None and stored is None:
        return error_response(404, "unknown call")
    view = {**_view(call_id, status), **({"record": stored} if stored else {})}
    if live:
        view["live_turns"] = await live_transcript(call_id)
    return json_response(200, view)


@bp.route(route="calls/{call_id}/transfer", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def transfer_live_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Transfer a live call to ``target_uri`` or the configured target."""
    try:
        command = OperatorCommand.transfer(_new_id(), req.get_body(), get_settings().transfer_rules)
    except ValueError as error:
        return error_response(400, str(error))
    return await _send(client, req.route_params["call_id"], command)


@bp.route(route="calls/{call_id}/hangup", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def hang_up_live_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Hang up a live call."""
    return await _send(client, req.route_params["call_id"], OperatorCommand(_new_id(), "hangup"))


def _new_id() -> str:
    return uuid.uuid4().hex


_RAISED: OrderedDict[str, int] = OrderedDict()
"""Commands this worker raised per call, newest calls last: the custom status counts only what
the orchestration has taken, so a burst sent before it catches up would pass that check alone
(300 at once put ~400 events in one history). With this count a burst costs at most
``COMMANDS_PER_CALL`` events per worker. Bounded: the oldest calls are forgotten first."""
_RAISED_CALLS = 4096


def _take_budget(instance_id: str, taken: int) -> bool:
    """Count one more command for the call; ``False`` when it is over its limit already."""
    raised = max(_RAISED.pop(instance_id, 0), taken)
    if raised >= COMMANDS_PER_CALL:
        _RAISED[instance_id] = raised
        return False
    _RAISED[instance_id] = raised + 1
    while len(_RAISED) > _RAISED_CALLS:
        _RAISED.popitem(last=False)
    return True


async def _send(
    client: df.DurableOrchestrationClient, call_id: str, command: OperatorCommand
) -> func.HttpResponse:
    instance_id = instance_id_for(call_id)
    status = await client.get_status(instance_id)
    if status.runtime_status is None:
        return error_response(404, "unknown call")
    if status.runtime_status.value not in _LIVE:
        return error_response(409, "call has ended")
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    refused = _refused_now(command, custom)
    if refused is not None:
        return refused
    taken = custom.get("commands")
    if not _take_budget(instance_id, taken if isinstance(taken, int) else 0):
        return error_response(429, f"this call has taken its {COMMANDS_PER_CALL} commands")
    try:
        await client.raise_event(instance_id, names.OPERATOR_EVENT, command.to_event())
    except Exception:  # the SDK raises a bare Exception; 410 Gone when the call ended meanwhile
        status = await client.get_status(instance_id)
        if status.runtime_status is not None and status.runtime_status.value not in _LIVE:
            return error_response(409, "call has ended")
        raise
    logger.info("call %s: operator %s requested (%s)", shown(call_id), command.action, command.id)
    return json_response(
        202,
        {"call_id": call_id, "action": command.action, "command_id": command.id, "accepted": True},
    )


def _refused_now(command: OperatorCommand, custom: dict[str, Any]) -> func.HttpResponse | None:
    """409 when the phase the orchestration last showed refuses ``command``; 429 past the limit.

    The phase may be a moment old: the orchestration decides again on arrival, and a command it
    refuses then is listed in the record with its reason.
    """
    commands = custom.get("commands")
    if isinstance(commands, int) and commands >= COMMANDS_PER_CALL:
        return error_response(429, f"this call has taken its {COMMANDS_PER_CALL} commands")
    try:
        phase = Phase(str(custom.get("phase")))
    except ValueError:
        return None  # not started yet (or an older orchestration): let it decide
    why = refusal(command.action, phase)
    return None if why is None else error_response(409, _REFUSED.get(why, why))


def _view(call_id: str, status: DurableOrchestrationStatus) -> dict[str, Any]:
    custom = status.custom_status if isinstance(status.custom_status, dict) else {}
    return {
        "call_id": call_id,
        "runtime_status": status.runtime_status.value if status.runtime_status else None,
        "phase": custom.get("phase"),
        "created_time": _iso(status.created_time),
        "last_updated_time": _iso(status.last_updated_time),
        "record": status.output if isinstance(status.output, dict) else None,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
