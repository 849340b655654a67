"""Activity: the post-call analysis of one call's transcript (summary, data, verdict, follow-up)."""

import logging
from typing import Any

import azure.durable_functions as df

from switchboard.analysis import AnalysisFailed, analyze
from switchboard.connection import get_connection
from switchboard.settings import get_settings

logger = logging.getLogger(__name__)
bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def analyze_call(request: dict[str, Any]) -> dict[str, Any]:
    """``{"analysis": ...}`` or ``{"error": ...}``; a transient failure raises for a retry."""
    settings = get_settings()
    deployment = settings.analysis_deployment
    if deployment is None:  # the plan said on, the settings now say off: say so, do not guess
        return {"error": "AZURE_OPENAI_ANALYSIS_DEPLOYMENT is not set"}
    client = get_connection(settings).client
    try:
        analysis = await analyze(client, deployment, settings.agent.analysis, request["turns"])
    except AnalysisFailed as error:
        logger.warning("call %s: analysis failed: %s", request["call_id"], error)
        return {"error": str(error)}
    logger.info(
        "call %s: analysed (%d fields, %d invalid)",
        request["call_id"],
        len(analysis.data),
        len(analysis.invalid),
    )
    return {"analysis": analysis.model_dump(mode="json")}
