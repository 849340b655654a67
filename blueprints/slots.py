"""The ``call_slots`` Durable Entity: one global count of live calls, for admission control.

An entity processes one operation at a time, so acquiring under a limit is race-free across every
instance of a scaled-out app, which no in-process counter could be.
"""

import logging

import azure.durable_functions as df
import azure.functions as func

from activities import names
from activities._shared import call_control
from switchboard.call_control import Outcome
from switchboard.slots import SLOTS_KEY, Slots
from switchboard.webhook import instance_id_for

logger = logging.getLogger(__name__)
bp = df.Blueprint()
SLOTS = df.EntityId(names.CALL_SLOTS, SLOTS_KEY)
TEMPORARILY_UNAVAILABLE = 480
"""What a caller still ringing for an orchestration that is gone hears."""


@bp.entity_trigger(context_name="context", entity_name=names.CALL_SLOTS)
def call_slots(context: df.DurableEntityContext) -> None:
    """``acquire`` {call_id, limit, at} → granted; ``release`` call_id → whether one was held."""
    slots = Slots.from_state(context.get_state(dict))
    operation, request = context.operation_name, context.get_input()
    if operation == "acquire":
        call_id = str(request["call_id"])
        done = slots.acquire(call_id, int(request["limit"]), str(request["at"]))
        outcome = "granted" if done else "refused"
    elif operation == "release":
        call_id = str(request)
        done = slots.release(call_id)
        outcome = "released" if done else "was already free"
    else:
        raise ValueError(f"unknown call_slots operation {operation!r}")
    logger.info("call %s: slot %s (%d held)", call_id, outcome, len(slots.held))
    context.set_result(done)
    context.set_state(slots.to_state())


_LIVE = frozenset(
    {
        df.OrchestrationRuntimeStatus.Running,
        df.OrchestrationRuntimeStatus.Pending,
        df.OrchestrationRuntimeStatus.Suspended,  # the call is still up; it goes on after resume
        df.OrchestrationRuntimeStatus.ContinuedAsNew,
    }
)


@bp.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def reconcile_call_slots(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """End (hang up, or reject if still ringing) and free the calls whose orchestration is gone.

    Every orchestration hangs up and releases its own slot, but one that was terminated by an
    administrator, failed in the engine, or was purged never runs its last step: without this
    sweep its call would stay up at the service (with nobody on its socket) and its slot be held
    for good. The hang-up comes first, so a slot is freed only once its call is down.
    """
    state = await client.read_entity_state(SLOTS)
    if not state.entity_exists:
        return
    for call_id in Slots.from_state(state.entity_state).held:
        status = (await client.get_status(instance_id_for(call_id))).runtime_status
        if status in _LIVE:
            continue
        try:
            outcome = await _end_at_service(call_id)
        except Exception:  # transient: the slot stays held and the next sweep tries again
            logger.exception("call %s: the sweep could not end it; trying again later", call_id)
            continue
        logger.warning(
            "call %s: its orchestration is %s without having ended the call: %s at the service, "
            "slot released",
            call_id,
            status.value if status is not None else "gone",
            outcome,
        )
        await client.signal_entity(SLOTS, "release", call_id)


async def _end_at_service(call_id: str) -> str:
    """Hang the call up, or reject it if it was never answered; what happened, for the log."""
    control = call_control()
    result = await control.hangup(call_id)
    if result.outcome is Outcome.REFUSED and result.status == 409:  # still ringing
        rejected = await control.reject(call_id, TEMPORARILY_UNAVAILABLE)
        return f"rejected ({rejected.outcome.value})"
    return f"hung up ({result.outcome.value})"
