"""The operator API (function-key auth): look at a call, transfer it, hang it up.

Commands reach the running orchestration as an external event; the orchestrator waits on the
monitor and on these at once, so a command acts within one replay.
"""

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from activities import names
from blueprints._http import error_response, json_response
from switchboard.operator import OperatorCommand
from switchboard.settings import get_settings
from switchboard.store.calls import stored_record
from switchboard.webhook import instance_id_for

logger = logging.getLogger(__name__)
bp = df.Blueprint()

_LIVE = frozenset({"Pending", "Running", "ContinuedAsNew"})


@bp.route(route="calls/{call_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The call's live phase, and its record once it has ended (from the call store)."""
    call_id = req.route_params["call_id"]
    status = await client.get_status(instance_id_for(call_id))
    live = status.runtime_status is not None and status.runtime_status.value in _LIVE
    stored = None if live else await stored_record(call_id)
    if status.runtime_status is None and stored is None:
        return error_response(404, "unknown call")
    return json_response(200, {**_view(call_id, status), **({"record": stored} if stored else {})})


@bp.route(route="calls/{call_id}/transfer", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def transfer_live_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Transfer a live call to ``target_uri`` or the configured target."""
    try:
        command = OperatorCommand.transfer(req.get_body(), get_settings().transfer_rules)
    except ValueError as error:
        return error_response(400, str(error))
    return await _send(client, req.route_params["call_id"], command)


@bp.route(route="calls/{call_id}/hangup", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def hang_up_live_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Hang up a live call."""
    return await _send(client, req.route_params["call_id"], OperatorCommand("hangup"))


async def _send(
    client: df.DurableOrchestrationClient, call_id: str, command: OperatorCommand
) -> func.HttpResponse:
    instance_id = instance_id_for(call_id)
    status = await client.get_status(instance_id)
    if status.runtime_status is None:
        return error_response(404, "unknown call")
    if status.runtime_status.value not in _LIVE:
        return error_response(409, "call has ended")
    try:
        await client.raise_event(instance_id, names.OPERATOR_EVENT, command.to_event())
    except Exception:  # the SDK raises a bare Exception; 410 Gone when the call ended meanwhile
        status = await client.get_status(instance_id)
        if status.runtime_status is not None and status.runtime_status.value not in _LIVE:
            return error_response(409, "call has ended")
        raise
    logger.info("call %s: operator %s requested", call_id, command.action)
    return json_response(202, {"call_id": call_id, "action": command.action, "accepted": True})


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
