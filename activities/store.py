"""Activities: write a call to the call store (idempotent; see :mod:`switchboard.store.calls`)."""

import asyncio
from typing import Any

import azure.durable_functions as df

from switchboard.store.account import get_account
from switchboard.store.calls import CallStore

bp = df.Blueprint()
STARTED_TIMEOUT_SECONDS = 3.0
"""The caller is ringing while the live row is written: a store that hangs fails the attempt."""


@bp.activity_trigger(input_name="request")
async def record_call_started(request: dict[str, Any]) -> None:
    """List the call as live (before it is answered); a retry or a late run changes nothing."""
    async with asyncio.timeout(STARTED_TIMEOUT_SECONDS):
        await CallStore(await get_account()).started(request)


@bp.activity_trigger(input_name="request")
async def record_call_ended(request: dict[str, Any]) -> None:
    """Store the full record and mark the call ended; a retry writes the same again."""
    await CallStore(await get_account()).ended(request)
