"""The operators' workbook reads only what the app writes.

Every custom dimension a workbook query reads must be a field of the call_ended event that
switchboard/telemetry.py writes (taken from a record the module really logs, not from a list
kept here), every query must select that event, and the panels the operators need must be there.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from switchboard import telemetry
from switchboard.records import CallRecord
from tests.infra.bicep_eval import Context, Report, Template

INFRA = Path(__file__).resolve().parents[2] / "infra"
FIELD = re.compile(r"customDimensions(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")
SELECTS_EVENT = re.compile(
    r"customDimensions\.call_event\)?\s*==\s*\"" + re.escape(telemetry.CALL_ENDED) + '"'
)
# What the people who run the line asked for, as the fields each panel must read.
PANELS = {
    "calls per hour by end reason": {"end_reason"},
    "webhook-to-accept latency": {"webhook_to_accept_ms", "answered"},
    "call durations": {"duration_seconds"},
    "transfers completed and failed": {"transfers_completed", "transfers_failed"},
    "busy and rejected counts": {"end_reason", "decision", "sip_status"},
    "estimated cost per day": {"estimated_cost_usd"},
}


def workbook() -> dict[str, Any]:
    """The workbook as the Bicep deploys it (loadTextContent through the evaluator)."""
    root = Template(INFRA / "main.bicep", {}, Report(), Context())
    dashboard = root.child("dashboard")
    properties = dashboard.resources["workbook"]["config"]["properties"]
    data: dict[str, Any] = json.loads(dashboard.eval(properties["serializedData"]))
    return data


def queries(data: dict[str, Any]) -> dict[str, str]:
    return {
        item["name"]: item["content"]["query"]
        for item in data["items"]
        if item.get("type") == 3 and item["content"].get("version") == "KqlItem/1.0"
    }


def fields_read(query: str) -> set[str]:
    return {a or b for a, b in FIELD.findall(query)}


def written_fields(caplog: pytest.LogCaptureFixture) -> set[str]:
    """The extra attributes of a call_ended record the module really writes."""
    caplog.set_level(logging.INFO, logger=telemetry.LOGGER_NAME)
    record = CallRecord(call_id="rtc_x", received_at="2025-12-01T10:00:00+00:00")
    telemetry.call_ended(record, 1_764_583_200)
    [logged] = [r for r in caplog.records if r.name == telemetry.LOGGER_NAME]
    plain = set(logging.makeLogRecord({}).__dict__) | {"message"}
    return set(logged.__dict__) - plain


def query_problems(found: dict[str, str], written: set[str]) -> list[str]:
    problems = []
    for name, query in found.items():
        if not query.lstrip().startswith("traces"):
            problems.append(f"{name}: must query the traces the app writes")
        if not SELECTS_EVENT.search(query):
            problems.append(f"{name}: must select call_event == {telemetry.CALL_ENDED!r}")
        for field in sorted(fields_read(query) - written):
            problems.append(f"{name}: reads customDimensions.{field}, which the app never writes")
    return problems


def test_every_field_a_query_reads_is_written_by_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    written = written_fields(caplog)
    assert written == set(telemetry.CALL_ENDED_FIELDS)
    found = queries(workbook())
    assert len(found) == len(PANELS)
    assert query_problems(found, written) == []


def test_the_operators_panels_are_all_there() -> None:
    read = [fields_read(query) for query in queries(workbook()).values()]
    missing = [panel for panel, needs in PANELS.items() if not any(needs <= r for r in read)]
    assert missing == []


def test_the_workbook_runs_against_application_insights() -> None:
    data = workbook()
    assert data["version"] == "Notebook/1.0"
    for item in data["items"]:
        if item["type"] == 3:
            assert item["content"]["resourceType"] == "microsoft.insights/components"
            assert item["content"]["timeContextFromParameter"] == "TimeRange"


def test_the_checker_flags_a_field_the_app_does_not_write(
    caplog: pytest.LogCaptureFixture,
) -> None:
    written = written_fields(caplog)
    bad = {
        "callers": 'traces\n| where customDimensions.call_event == "call_ended"\n'
        '| summarize count() by tostring(customDimensions["caller_number"])',
        "no-filter": "traces | summarize count() by tostring(customDimensions.end_reason)",
    }
    assert query_problems(bad, written) == [
        "callers: reads customDimensions.caller_number, which the app never writes",
        "no-filter: must select call_event == 'call_ended'",
    ]
