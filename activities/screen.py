"""Activity: screen the caller against the configured policy, before anything is answered."""

import logging
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from switchboard.settings import get_settings
from switchboard.sip import mask_number
from switchboard.webhook import IncomingCall

logger = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
def screen_call(request: dict[str, Any]) -> dict[str, Any]:
    """Decide from the SIP headers and the orchestration's time (so replays agree).

    An activity, not orchestrator code: the policy is read from the settings, which may change.
    """
    call = IncomingCall.from_dict(request["call"])
    decision = get_settings().policy.screen(call, datetime.fromisoformat(request["at"]))
    logger.info(
        "call %s from %s: %s (%s)",
        call.call_id,
        mask_number(decision.caller),
        "accept" if decision.accept else "reject",
        decision.reason,
    )
    return decision.to_dict()
