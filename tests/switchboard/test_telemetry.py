"""The call_ended event: its fields, how Application Insights receives them, and a real call.

The mapping test runs the OpenTelemetry logging handler and the Azure Monitor exporter's own
conversion (the code the worker's distro runs in Azure) on the event, so "each ``extra`` key
becomes one custom dimension" is checked, not assumed.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from azure.monitor.opentelemetry.exporter.export.logs._exporter import _convert_log_to_envelope
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard import telemetry
from switchboard.records import CallRecord
from tests.blueprints.calls import place_and_finish

# opentelemetry-sdk marks its LoggingHandler deprecated; the mapping it feeds is what is tested.
OTEL_HANDLER = pytest.mark.filterwarnings("ignore:`LoggingHandler`:DeprecationWarning")
CREATED = 1_764_583_200  # 2025-12-01T10:00:00Z, the webhook event's created_at


def answered_record() -> CallRecord:
    record = CallRecord(call_id="rtc_abc", received_at="2025-12-01T10:00:00.400000+00:00")
    record.decision, record.accepted_at = "accept", "2025-12-01T10:00:01.250000+00:00"
    record.ended_at, record.end_reason = "2025-12-01T10:02:31.250000+00:00", "transferred"
    record.transfers = [
        {"target": "tel:+14155550111", "status": "not_completed"},
        {"target": "sip:op@pbx.example.com", "status": "completed"},
    ]
    record.estimated_cost_usd = 0.1234567
    return record


def test_an_answered_call_gives_latency_duration_and_transfers() -> None:
    fields = telemetry.call_ended_fields(answered_record(), CREATED)
    assert fields == {
        "call_event": "call_ended",
        "call_id": "rtc_abc",
        "end_reason": "transferred",
        "decision": "accept",
        "sip_status": 0,
        "answered": 1,
        "webhook_to_accept_ms": 1250,
        "start_to_accept_ms": 850,
        "duration_seconds": 150.0,
        "transfers_completed": 1,
        "transfers_failed": 1,
        "estimated_cost_usd": 0.123457,
    }
    assert tuple(fields) == telemetry.CALL_ENDED_FIELDS


def test_a_busy_call_is_refused_and_never_answered() -> None:
    record = CallRecord(call_id="rtc_busy", received_at="2025-12-01T10:00:00+00:00")
    record.decision, record.sip_status, record.end_reason = "reject", 486, "busy"
    record.ended_at = "2025-12-01T10:00:00.300000+00:00"
    fields = telemetry.call_ended_fields(record, CREATED)
    assert fields["answered"] == 0
    assert fields["sip_status"] == 486
    assert fields["webhook_to_accept_ms"] == fields["start_to_accept_ms"] == -1
    assert fields["duration_seconds"] == 0.0


def test_each_field_is_a_flat_attribute_of_one_info_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=telemetry.LOGGER_NAME)
    telemetry.call_ended(answered_record(), CREATED)
    [record] = [r for r in caplog.records if r.name == telemetry.LOGGER_NAME]
    assert record.getMessage() == "call rtc_abc: call_ended transferred"
    for name in telemetry.CALL_ENDED_FIELDS:
        assert hasattr(record, name), name
    assert not set(telemetry.CALL_ENDED_FIELDS) & set(logging.makeLogRecord({}).__dict__)


def custom_dimensions(log: logging.Logger, emit: Any) -> dict[str, str]:
    """What Application Insights stores as customDimensions for one record, via OpenTelemetry."""
    provider = LoggerProvider()
    exported = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider.add_log_record_processor(SimpleLogRecordProcessor(exported))
    handler = LoggingHandler(logger_provider=provider)
    log.addHandler(handler)
    try:
        emit()
    finally:
        log.removeHandler(handler)
    [record] = exported.get_finished_logs()
    envelope = _convert_log_to_envelope(record)
    assert envelope.data is not None
    assert envelope.data.base_type == "MessageData"  # the traces table
    properties: dict[str, str] = envelope.data.base_data.properties  # type: ignore[union-attr]
    return properties


@OTEL_HANDLER
def test_application_insights_gets_every_field_as_a_custom_dimension() -> None:
    dimensions = custom_dimensions(
        telemetry.logger, lambda: telemetry.call_ended(answered_record(), CREATED)
    )
    fields = telemetry.call_ended_fields(answered_record(), CREATED)
    assert {name: dimensions[name] for name in fields} == {k: str(v) for k, v in fields.items()}


@OTEL_HANDLER
def test_a_nested_custom_dimensions_dict_would_arrive_as_one_text_value() -> None:
    log = logging.getLogger("tests.telemetry.nested")
    dimensions = custom_dimensions(
        log, lambda: log.warning("x", extra={"custom_dimensions": {"call_event": "call_ended"}})
    )
    assert "call_event" not in dimensions
    assert dimensions["custom_dimensions"] == "{'call_event': 'call_ended'}"


async def test_a_real_call_writes_one_call_ended_event(
    emulator: Emulator,
    app_host: DurableTestHost,
    app_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=telemetry.LOGGER_NAME)
    record, _ = await place_and_finish(emulator, app_host, app_url, "transfer")
    events = [r for r in caplog.records if r.name == telemetry.LOGGER_NAME]
    assert len(events) == 1  # replays write nothing
    event = events[0].__dict__
    assert event["call_id"] == record["call_id"]
    assert event["end_reason"] == record["end_reason"] == "transferred"
    assert event["answered"] == 1
    assert 0 <= event["webhook_to_accept_ms"] < 5000
    assert event["transfers_completed"] + event["transfers_failed"] <= len(record["transfers"])
