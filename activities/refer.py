"""Activity: transfer the caller with a SIP REFER."""

from typing import Any

import azure.durable_functions as df

from activities._shared import call_control

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def refer_call(request: dict[str, Any]) -> dict[str, Any]:
    """Refer to ``target_uri`` (``tel:``/``sip:``); success means relayed, not yet completed."""
    return (await call_control().refer(request["call_id"], request["target_uri"])).to_dict()
