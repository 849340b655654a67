"""Activity: one attempt to deliver a call event (see :mod:`switchboard.events`).

A receiver that fails does not raise: the orchestration decides when to try again.
"""

import logging
from typing import Any

import azure.durable_functions as df

from switchboard.events import SEND_TIMEOUT_SECONDS, EventsConfig, payload, send, webhook_id

logger = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def send_call_event(request: dict[str, Any]) -> dict[str, Any]:
    """``{"status": "off"}``, or the attempt's outcome with the event's id and the retry waits."""
    config = EventsConfig.from_env()
    if config is None:
        return {"status": "off"}
    event_type, record = request["type"], request["record"]
    if event_type not in SEND_TIMEOUT_SECONDS:
        raise ValueError(f"unknown call event type {event_type!r}")
    message_id = webhook_id(str(record["call_id"]), event_type)
    body = payload(event_type, record)
    outcome = await send(config, message_id, body, SEND_TIMEOUT_SECONDS[event_type])
    logger.info(
        "call %s: %s %s %s",
        record["call_id"],
        event_type,
        outcome["status"],
        outcome.get("http", ""),
    )
    return {**outcome, "webhook_id": message_id, "retry_seconds": list(config.retry_seconds)}
