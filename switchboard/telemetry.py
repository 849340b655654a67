"""Structured call events for the operators' dashboard: one log record per finished call.

The fields travel as the log record's ``extra`` attributes, one key each. In Azure, the Python
worker's Azure Monitor OpenTelemetry distro (``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY``,
limited to this logger by ``PYTHON_AZURE_MONITOR_LOGGER_NAME``) exports every such attribute as
one custom dimension of the trace (its value as text). Two look-alikes do not work: the Functions
host's own log path keeps only the message (``extra`` is dropped), and the retired OpenCensus
convention ``extra={"custom_dimensions": {...}}`` arrives as ONE dimension holding the dict's
text. The workbook (infra/dashboard/calls.workbook.json) reads exactly :data:`CALL_ENDED_FIELDS`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from switchboard.records import CallRecord

LOGGER_NAME = "switchboard.telemetry"
CALL_ENDED = "call_ended"
CALL_ENDED_FIELDS = (
    "call_event",  # always "call_ended": what the workbook filters on
    "call_id",
    "end_reason",  # caller_hangup, transferred, busy, rejected, error:<kind>, ...
    "decision",  # accept, reject, or none (failed before screening)
    "sip_status",  # the status a refused call got; 0 when none
    "answered",  # 1 when the call was accepted, else 0
    "webhook_to_accept_ms",  # webhook event created -> accept done; -1 when not answered
    "start_to_accept_ms",  # orchestration start -> accept done; -1 when not answered
    "duration_seconds",  # accept -> end; 0 when not answered
    "transfers_completed",
    "transfers_failed",  # not_completed, call_gone, refused:<http>
    "estimated_cost_usd",  # model tokens at USAGE_PRICES
)
FAILED_TRANSFERS = ("not_completed", "call_gone")

logger = logging.getLogger(LOGGER_NAME)
logger.setLevel(logging.INFO)  # the dashboard's data: never lost to a WARNING root level

Field = str | int | float


def call_ended_fields(record: CallRecord, webhook_created_at: int) -> dict[str, Field]:
    """The call_ended event's fields, from the finished call's record."""
    accepted = _time(record.accepted_at)
    ended = _time(record.ended_at) or _time(record.received_at)
    statuses = [attempt.get("status", "") for attempt in record.transfers]
    fields: dict[str, Field] = {
        "call_event": CALL_ENDED,
        "call_id": record.call_id,
        "end_reason": record.end_reason or "unknown",
        "decision": record.decision or "none",
        "sip_status": record.sip_status or 0,
        "answered": 1 if accepted else 0,
        "webhook_to_accept_ms": -1,
        "start_to_accept_ms": -1,
        "duration_seconds": 0.0,
        "transfers_completed": statuses.count("completed"),
        "transfers_failed": sum(
            1 for s in statuses if s in FAILED_TRANSFERS or s.startswith("refused:")
        ),
        "estimated_cost_usd": round(record.estimated_cost_usd, 6),
    }
    if accepted is not None:
        webhook = datetime.fromtimestamp(webhook_created_at, tz=UTC)
        started = _time(record.received_at) or accepted
        fields["webhook_to_accept_ms"] = max(0, round((accepted - webhook).total_seconds() * 1000))
        fields["start_to_accept_ms"] = round((accepted - started).total_seconds() * 1000)
        fields["duration_seconds"] = round(((ended or accepted) - accepted).total_seconds(), 3)
    return fields


def call_ended(record: CallRecord, webhook_created_at: int) -> None:
    """Write the call_ended event (call it once per call, not on replays)."""
    fields = call_ended_fields(record, webhook_created_at)
    logger.info("call %s: call_ended %s", record.call_id, fields["end_reason"], extra=fields)


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
