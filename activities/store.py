"""Activities: write a call to the call store (idempotent; see :mod:`switchboard.store.calls`).

Each also does what the orchestration would otherwise need another activity (and, in Azure,
another queue hop) for: the start sends ``call.started`` beside its write, and the end says
whether events are on at all.
"""

import asyncio
from typing import Any

import azure.durable_functions as df

from switchboard.events import attempt, events_on
from switchboard.store.account import get_account
from switchboard.store.calls import CallStore

bp = df.Blueprint()
STARTED_TIMEOUT_SECONDS = 3.0
"""The caller is ringing while the live row is written: a store that hangs fails the attempt."""


@bp.activity_trigger(input_name="request")
async def record_call_started(request: dict[str, Any]) -> dict[str, Any]:
    """List the call as live and send ``call.started`` (one attempt), at once.

    A retry writes nothing new (the row exists) and sends the event again with the same
    ``webhook-id``, which the receiver drops if it had it. ``{"event": outcome or None}``.
    """
    async with asyncio.timeout(STARTED_TIMEOUT_SECONDS):
        store = CallStore(await get_account())
        _, event = await asyncio.gather(store.started(request), attempt("call.started", request))
    return {"event": event}


@bp.activity_trigger(input_name="request")
async def record_call_ended(request: dict[str, Any]) -> dict[str, Any]:
    """Store the full record and mark the call ended; a retry writes the same again."""
    await CallStore(await get_account()).ended(request)
    return {"events": events_on()}
