"""Activity: one attempt to deliver a call event (see :mod:`switchboard.events`).

A receiver that fails does not raise: the orchestration decides when to try again.
"""

from typing import Any

import azure.durable_functions as df

from switchboard.events import attempt

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def send_call_event(request: dict[str, Any]) -> dict[str, Any]:
    """``{"status": "off"}``, or the attempt's outcome with the event's id and the retry waits."""
    return await attempt(request["type"], request["record"]) or {"status": "off"}
