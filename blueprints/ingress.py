"""``POST /api/calls/incoming``: the signed webhook that starts one orchestration per call.

Anonymous at the Functions level: the Standard Webhooks signature is the authentication. It
answers in milliseconds: no Azure OpenAI request happens here, only a Durable start.
"""

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities import names
from blueprints._http import error_response, json_response
from switchboard.connection import get_connection
from switchboard.records import CallStart
from switchboard.settings import SettingsError, get_settings
from switchboard.sip import mask_number
from switchboard.untrusted import shown
from switchboard.webhook import (
    IgnoredEvent,
    WebhookRejected,
    parse_webhook,
    refuse_declared_oversize,
)

logger = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.route(route="calls/incoming", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def incoming_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Verify, parse, and start the call's orchestration exactly once."""
    try:
        settings = get_settings()
    except SettingsError:
        logger.exception("webhook refused: the app is misconfigured")
        return error_response(503, "service not configured")
    webhook_id = shown(req.headers.get("webhook-id", ""))
    try:
        refuse_declared_oversize(req.headers)
        parsed = parse_webhook(
            req.get_body(), req.headers, get_connection(settings).client.webhooks
        )
    except WebhookRejected as rejected:
        logger.warning(
            "webhook %s rejected with %s: %s", webhook_id, rejected.status, rejected.detail
        )
        return error_response(rejected.status, rejected.reason)
    if isinstance(parsed, IgnoredEvent):
        logger.info("webhook %s: ignored event type %s", webhook_id, shown(parsed.event_type))
        return json_response(200, {"ignored": parsed.event_type})
    # Screening is pure policy: decided here, as the call arrives, it costs no Durable round trip,
    # a refused caller never asks for a slot, and the decision travels in the input (replay-safe).
    decision = settings.policy.screen(parsed, datetime.now(UTC))
    logger.info(
        "call %s from %s: %s (%s)",
        parsed.call_id,
        mask_number(decision.caller),
        "accept" if decision.accept else "reject",
        decision.reason,
    )
    start = CallStart(parsed, settings.plan(), decision)
    started = await start_once(client, parsed.instance_id, start.to_dict())
    logger.info(
        "call %s (webhook %s): %s",
        parsed.call_id,
        webhook_id,
        "orchestration started" if started else "duplicate delivery, already started",
    )
    return json_response(
        200,
        {
            "call_id": parsed.call_id,
            "instance_id": parsed.instance_id,
            "status": "started" if started else "duplicate",
        },
    )


async def start_once(
    client: df.DurableOrchestrationClient, instance_id: str, payload: dict[str, Any]
) -> bool:
    """Start the orchestration unless it exists; ``False`` when it already did.

    Status first, because ``start_new`` replaces a *completed* instance (host.json keeps
    ``overridableExistingInstanceStates: NonRunningStates``). Two concurrent deliveries can both
    see no instance: the loser's ``start_new`` fails on the running instance, and a second look
    at the status tells that apart from a real failure.
    """
    if (await client.get_status(instance_id)).runtime_status is not None:
        return False
    try:
        await client.start_new(names.CALL_ORCHESTRATOR, instance_id, payload)
    except Exception:
        if (await client.get_status(instance_id)).runtime_status is not None:
            return False
        raise
    return True
