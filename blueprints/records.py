"""Call records (function-key auth): list them, and purge finished ones past retention daily.

``GET /api/calls?since=&status=&limit=&cursor=`` pages through the Durable store with the
extension's own continuation token, in instance-id order; why, and what a page promises, is in
:mod:`switchboard.call_list`. The Python SDK has no paged query (``get_status_by`` returns the
first store page only), so the list request goes to the same local Durable HTTP API the SDK
itself calls, with ``top`` and the ``x-ms-continuation-token`` header.

``purge_call_records`` runs daily at 03:00 UTC and purges Completed, Failed and Terminated
instances created more than ``CALL_RECORD_RETENTION_DAYS`` ago with ``purge_instance_history_by``.
The store's purge filter cannot exclude entities by id; it matches them only by status, and
entities are always Running (the entity dispatcher continues as new after every batch), so the
terminal-status filter is what keeps both live calls and entities. Never call it without one: the
store then applies no status filter at all.
"""

import logging
from datetime import UTC, datetime, timedelta

import aiohttp
import azure.durable_functions as df
import azure.functions as func

from activities import names
from blueprints._http import error_response, json_response
from switchboard.call_list import CallQuery, QueryError, StorePage, read_page
from switchboard.settings import get_settings

logger = logging.getLogger(__name__)
bp = df.Blueprint()

CONTINUATION_HEADER = "x-ms-continuation-token"
PURGE_SCHEDULE = "0 0 3 * * *"
FINISHED = [
    df.OrchestrationRuntimeStatus.Completed,
    df.OrchestrationRuntimeStatus.Failed,
    df.OrchestrationRuntimeStatus.Terminated,
]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STORE_TIMEOUT = aiohttp.ClientTimeout(total=60)


class StoreError(RuntimeError):
    """The Durable HTTP API refused an instance query."""


@bp.route(route="calls", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_calls(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """One page of calls with their phase and, once finished, their record."""
    try:
        query = CallQuery.parse(req.params)
    except QueryError as error:
        return error_response(400, str(error))
    url = f"{_rpc_base_url(client)}instances/"
    async with aiohttp.ClientSession(timeout=_STORE_TIMEOUT) as session:

        async def store(params: dict[str, str], token: str | None) -> StorePage:
            headers = {CONTINUATION_HEADER: token} if token else {}
            async with session.get(url, params=params, headers=headers) as response:
                if response.status != 200:
                    raise StoreError(f"instance query answered {response.status}")
                rows = await response.json(content_type=None)
                if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                    raise StoreError("instance query answered something other than a list")
                return StorePage(rows, response.headers.get(CONTINUATION_HEADER))

        try:
            page = await read_page(query, store, names.CALL_ORCHESTRATOR)
        except StoreError as error:  # a forged or stale cursor token is the usual cause
            logger.warning("call list refused by the Durable store: %s", error)
            return error_response(502, "the instance store refused the query (stale cursor?)")
    logger.info("listed %d calls (more: %s)", len(page["calls"]), page["next"] is not None)
    return json_response(200, page)


@bp.timer_trigger(schedule=PURGE_SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def purge_call_records(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """Purge finished calls created more than ``CALL_RECORD_RETENTION_DAYS`` days ago."""
    days = get_settings().record_retention_days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    result = await client.purge_instance_history_by(
        created_time_from=_EPOCH, created_time_to=cutoff, runtime_status=FINISHED
    )
    logger.info(
        "purged %d finished call records created before %s (retention %d days%s)",
        result.instances_deleted,
        cutoff.isoformat(timespec="seconds"),
        days,
        ", run was past due" if timer.past_due else "",
    )


def _rpc_base_url(client: df.DurableOrchestrationClient) -> str:
    """The local Durable HTTP API the SDK sends every request to (no public accessor exists)."""
    base: str | None = client._orchestration_bindings.rpc_base_url
    if not base:
        raise StoreError("the durable client binding has no rpcBaseUrl")
    return base
