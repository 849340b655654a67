"""A call's index row: the summary the list answers with, built from the call record.

Rows hold only short, bounded values (each string at most 1,024 characters, well under Table
Storage's 64 KiB per property and 1 MiB per entity); the transcript and everything else stays in
the record's blob.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from switchboard.store import keys
from switchboard.webhook import instance_id_for

Status = Literal["live", "ended"]
_TEXT_LIMIT = 1024
SUMMARY_FIELDS = (
    "call_id",
    "status",
    "received_at",
    "accepted_at",
    "ended_at",
    "end_reason",
    "caller",
    "callee",
    "decision",
    "decision_reason",
    "sip_status",
    "after_hours",
    "transfer_status",
    "duration_seconds",
    "turns",
    "estimated_cost_usd",
    "errors",
    "summary",
    "success",
    "follow_up",
)
"""What the list shows of each call, in this order."""


def received_at(record: Mapping[str, Any]) -> datetime:
    """When the call's webhook arrived (orchestration time): the call's place in the list."""
    moment = datetime.fromisoformat(str(record["received_at"]))
    if moment.tzinfo is None:
        raise ValueError(f"received_at has no time zone: {record['received_at']!r}")
    return moment


def index_row(record: Mapping[str, Any], status: Status, caller_key: str | None) -> dict[str, Any]:
    """The index row of ``record``: its keys, its summary, and its caller index partition."""
    call_id = str(record["call_id"])
    moment = received_at(record)
    row: dict[str, Any] = {
        "PartitionKey": keys.day_key(moment),
        "RowKey": keys.row_key(moment, instance_id_for(call_id)),
        "call_id": call_id[:_TEXT_LIMIT],
        "status": status,
        "received_at": moment.isoformat(),
        "turns": _count(record.get("turns")),
        "errors": len(record.get("errors") or ()),
        "after_hours": bool(record.get("after_hours")),
        "duration_seconds": _duration(record),
        "estimated_cost_usd": float(record.get("estimated_cost_usd") or 0.0),
        "caller_key": caller_key,
    }
    for name in (
        "accepted_at",
        "ended_at",
        "end_reason",
        "caller",
        "callee",
        "decision",
        "decision_reason",
        "transfer_status",
    ):
        value = record.get(name)
        row[name] = None if value is None else str(value)[:_TEXT_LIMIT]
    sip_status = record.get("sip_status")
    row["sip_status"] = sip_status if isinstance(sip_status, int) else None
    row.update(_analysis_columns(record.get("analysis")))
    return {name: value for name, value in row.items() if value is not None}


def _analysis_columns(analysis: Any) -> dict[str, Any]:
    """The analysis' summary, verdict and follow-up flag, so the list can show them."""
    if not isinstance(analysis, Mapping):
        return {}
    follow_up = analysis.get("follow_up")
    return {
        "summary": str(analysis.get("summary") or "")[:_TEXT_LIMIT] or None,
        "success": analysis.get("success") if isinstance(analysis.get("success"), bool) else None,
        "follow_up": bool(follow_up.get("needed")) if isinstance(follow_up, Mapping) else None,
    }


def summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the list answers for one row (absent values as null)."""
    return {name: row.get(name) for name in SUMMARY_FIELDS}


def _count(turns: Any) -> int:
    """The number of turns: the transcript's length (or a count already taken)."""
    return turns if isinstance(turns, int) else len(turns or ())


def _duration(record: Mapping[str, Any]) -> float | None:
    """Seconds from answer to end, for calls that were answered and have ended."""
    accepted, ended = record.get("accepted_at"), record.get("ended_at")
    if not accepted or not ended:
        return None
    delta = datetime.fromisoformat(str(ended)) - datetime.fromisoformat(str(accepted))
    return round(delta.total_seconds(), 3)
