"""The ``call_slots`` Durable Entity: one global count of live calls, for admission control.

An entity processes one operation at a time, so acquiring under a limit is race-free across every
instance of a scaled-out app, which no in-process counter could be.
"""

import logging

import azure.durable_functions as df

from activities import names
from switchboard.slots import Slots

logger = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.entity_trigger(context_name="context", entity_name=names.CALL_SLOTS)
def call_slots(context: df.DurableEntityContext) -> None:
    """``acquire`` {call_id, limit, at} → bool; ``release`` call_id → bool; ``get`` → state."""
    slots = Slots.from_state(context.get_state(dict))
    operation, request = context.operation_name, context.get_input()
    if operation == "acquire":
        granted = slots.acquire(str(request["call_id"]), int(request["limit"]), str(request["at"]))
        logger.info(
            "call %s: slot %s (%d held)",
            request["call_id"],
            "granted" if granted else "refused",
            len(slots.held),
        )
        context.set_result(granted)
    elif operation == "release":
        released = slots.release(str(request))
        logger.info(
            "call %s: slot %s (%d held)",
            request,
            "released" if released else "was already free",
            len(slots.held),
        )
        context.set_result(released)
    elif operation == "get":
        context.set_result(slots.to_state())
    else:
        raise ValueError(f"unknown call_slots operation {operation!r}")
    context.set_state(slots.to_state())
