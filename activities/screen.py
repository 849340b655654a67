"""Activity: screen the caller, for calls started under orchestration version 1 only.

Version 2 screens at ingress. A version-1 call still ringing when version 2 is deployed replays
this step, so it stays registered until no version-1 call can be live (an hour after the deploy:
calls last at most 59 minutes); then it goes, with the version-1 branch in the orchestration.
"""

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
