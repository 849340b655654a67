"""Activity: decline the call with the screening decision's SIP status."""

from typing import Any

import azure.durable_functions as df

from activities._shared import call_control

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def reject_call(request: dict[str, Any]) -> dict[str, Any]:
    """Reject with ``sip_status`` (486 busy, 603 decline, ...)."""
    return (await call_control().reject(request["call_id"], int(request["sip_status"]))).to_dict()
