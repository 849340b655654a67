"""Activity: answer the call with the agent's session config (model = the deployment name).

With ``CALLER_MEMORY=on`` the caller's earlier calls are looked up here, just before the
accept, so memory costs the answer no Durable hop (bounded: see :mod:`switchboard.memory`).
"""

from datetime import datetime
from typing import Any

import azure.durable_functions as df

from activities._shared import call_control
from switchboard.memory import recall, with_memory
from switchboard.settings import get_settings

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def accept_call(request: dict[str, Any]) -> dict[str, Any]:
    """Accept; a transient failure raises for Durable to retry, a refusal comes back typed."""
    settings = get_settings()
    session = settings.agent.session_config(
        settings.deployment, after_hours=bool(request.get("after_hours"))
    )
    deadline = datetime.fromisoformat(request["deadline"]) if request.get("deadline") else None
    if settings.caller_memory:
        days = settings.record_retention_days
        earlier = await recall(request["call_id"], request.get("caller"), days, deadline)
        session["instructions"] = with_memory(session["instructions"], earlier)
    return (await call_control().accept(request["call_id"], session, deadline)).to_dict()
