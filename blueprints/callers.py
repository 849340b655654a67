"""Erase one caller's history (function-key auth): ``DELETE /api/callers/{number}/history``.

Every finished call from the number goes: its stored record (blob), both index rows, and its
instance in the task hub (whose output is the record too). A call still under way (its row live,
or its orchestration still running, e.g. retrying a call event) is left alone and counted as
``in_progress``: it is stored again when it ends, so erase again after it has. Answers 200 with
the counts, also when nothing was stored (an erasure is repeatable); 400 for a number that is not
one, or when the app has no caller index.
"""

import asyncio
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from blueprints._http import error_response, json_response
from switchboard.numbers import to_e164
from switchboard.sip import mask_number
from switchboard.store.account import get_account
from switchboard.store.callers import CallerHistory, NoCallerIndex
from switchboard.webhook import instance_id_for

logger = logging.getLogger(__name__)
bp = df.Blueprint()

_MAX_NUMBER_CHARS = 64
_CONCURRENCY = 8
_LIVE = frozenset({"Pending", "Running", "ContinuedAsNew", "Suspended"})


@bp.route(route="callers/{number}/history", methods=["DELETE"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def erase_caller_history(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Erase every finished call from one number; ``{"erased": n, "in_progress": m}``."""
    raw = req.route_params.get("number", "")
    number = to_e164(raw.removeprefix("tel:")) if len(raw) <= _MAX_NUMBER_CHARS else None
    if number is None:
        logger.info("caller erasure refused: not a phone number")
        return error_response(400, "number must be a phone number in E.164 form, e.g. +46701234567")
    try:
        history = CallerHistory(await get_account())
    except NoCallerIndex as error:
        return error_response(400, str(error))
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(row: dict[str, Any]) -> bool:
        async with limit:
            return await _erase(history, client, row)

    done = await asyncio.gather(*(one(row) for row in await history.calls(number)))
    erased, in_progress = done.count(True), done.count(False)
    logger.info(
        "erased %d calls of caller %s (%d still in progress)",
        erased,
        mask_number(number),
        in_progress,
    )
    return json_response(200, {"erased": erased, "in_progress": in_progress})


async def _erase(
    history: CallerHistory, client: df.DurableOrchestrationClient, row: dict[str, Any]
) -> bool:
    """Erase one call unless it is still under way; whether it was erased."""
    if row.get("status") != "ended":
        return False
    instance_id = instance_id_for(str(row["call_id"]))
    status = await client.get_status(instance_id)
    if status.runtime_status is not None and status.runtime_status.value in _LIVE:
        return False
    if status.runtime_status is not None:
        await client.purge_instance_history(instance_id)
    await history.erase(row)
    return True
