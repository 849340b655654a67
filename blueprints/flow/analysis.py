"""The post-call analysis step: after the hang-up, when a text deployment is set."""

from typing import Any

import azure.durable_functions as df

from activities import names
from blueprints.flow.base import Steps
from switchboard.records import CallPlan, CallRecord


def analyze(context: Any, retry: df.RetryOptions, plan: CallPlan, record: CallRecord) -> Steps:
    """Analyse a call that had a conversation; a failure is recorded and never costs the record."""
    if not plan.analysis or not record.turns:
        return
    request = {"call_id": record.call_id, "turns": record.turns}
    try:
        result = yield context.call_activity_with_retry(names.ANALYZE_CALL, retry, request)
    except Exception as error:  # failed past its retries: recorded, the call is over anyway
        record.analysis_error = (str(error).splitlines() or ["failed"])[0][:300]
        return
    record.analysis = result.get("analysis")
    record.analysis_error = result.get("error")
