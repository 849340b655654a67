"""Activity: end the call."""

from typing import Any

import azure.durable_functions as df

from activities._shared import call_control

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def hangup_call(request: dict[str, Any]) -> dict[str, Any]:
    """Hang up; a call that is already gone comes back as ``call_gone``, not an error."""
    return (await call_control().hangup(request["call_id"])).to_dict()
