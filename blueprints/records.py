"""Call records (function-key auth): the call store's steps, its list, and its retention purge.

* The orchestration saves each call as live just before it is answered, and with its full record
  at the end (:mod:`blueprints.store_steps`, activities in ``activities/store.py``).
* ``GET /api/calls`` lists summaries from the store's index, newest first, with filters and an
  opaque cursor (:mod:`switchboard.store.query`); the full record is at ``GET /api/calls/{id}``.
* ``purge_call_records`` runs daily at 03:00 UTC and deletes calls received more than
  ``CALL_RECORD_RETENTION_DAYS`` ago from the store (rows and blobs), then purges finished
  instances of that age from the task hub with ``purge_instance_history_by``. The hub's purge
  filter cannot exclude entities by id; it matches them only by status, and entities are always
  Running, so the terminal-status filter is what keeps both live calls and entities. Never call
  it without one: the hub then applies no status filter at all.
"""

import logging
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func

from blueprints._http import error_response, json_response
from switchboard.settings import get_settings
from switchboard.store.account import get_account
from switchboard.store.calls import CallStore
from switchboard.store.query import CallQuery, QueryError

logger = logging.getLogger(__name__)
bp = df.Blueprint()

PURGE_SCHEDULE = "0 0 3 * * *"
FINISHED = [
    df.OrchestrationRuntimeStatus.Completed,
    df.OrchestrationRuntimeStatus.Failed,
    df.OrchestrationRuntimeStatus.Terminated,
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@bp.route(route="calls", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def list_calls(req: func.HttpRequest) -> func.HttpResponse:
    """One page of call summaries, newest first."""
    try:
        account = await get_account()
        query = CallQuery.parse(req.params, account.config.caller_secret)
        page = await CallStore(account).page(query)
    except QueryError as error:
        logger.info("call list refused: %s", error)
        return error_response(400, str(error))
    logger.info("listed %d calls (more: %s)", len(page["calls"]), page["next"] is not None)
    return json_response(200, page)


@bp.timer_trigger(schedule=PURGE_SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def purge_call_records(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """Delete calls received more than ``CALL_RECORD_RETENTION_DAYS`` days ago, everywhere."""
    days = get_settings().record_retention_days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    stored = await CallStore(await get_account()).purge(cutoff)
    result = await client.purge_instance_history_by(
        created_time_from=_EPOCH, created_time_to=cutoff, runtime_status=FINISHED
    )
    logger.info(
        "purged %d stored calls and %d finished instances from before %s (retention %d days%s)",
        stored,
        result.instances_deleted,
        cutoff.isoformat(timespec="seconds"),
        days,
        ", run was past due" if timer.past_due else "",
    )
