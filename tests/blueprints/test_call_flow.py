"""End to end: emulator webhook → ingress → orchestration (real replay) → activities → emulator."""

from __future__ import annotations

from typing import Any

from emulator import Emulator
from tests.support.durable_host import DurableTestHost

RECORD_TIMEOUT = 15.0


async def place_and_finish(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, scenario: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Place a call, wait for both sides to finish; return (call record, emulator timeline)."""
    call_id = await emulator.place_call(scenario, webhook_url=f"{app_url}/api/calls/incoming")
    await app_host.wait_until(lambda: call_id in app_host.instances, what="orchestration start")
    instance = await app_host.wait_for_completion(call_id, timeout=RECORD_TIMEOUT)
    assert instance.runtime_status.value == "Completed", instance
    timeline = await emulator.wait_for_end(call_id, timeout=RECORD_TIMEOUT)
    return instance.output, timeline


def requests(timeline: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [
        entry
        for entry in timeline["timeline"]
        if entry["kind"] == "request" and entry.get("path", "").endswith(f"/{verb}")
    ]


async def test_greeting_call_is_accepted_greeted_transcribed_and_recorded(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert record["end_reason"] == "caller_hangup"
    assert record["decision"] == "accept"
    assert record["caller"] is not None
    assert record["accepted_at"] is not None
    assert record["ended_at"] >= record["accepted_at"]
    caller_lines = [t["text"] for t in record["turns"] if t["speaker"] == "caller"]
    agent_lines = [t["text"] for t in record["turns"] if t["speaker"] == "agent"]
    assert caller_lines == ["Hi, what are your opening hours?", "Great, thank you. Goodbye!"]
    assert "We are open from nine to five, Monday to Friday." in agent_lines
    assert len(agent_lines) == 3  # greeting + two replies
    assert record["usage"]["responses"] == 3
    assert record["usage"]["input_tokens"] > 0
    accepts = requests(timeline, "accept")
    assert len(accepts) == 1
    body = accepts[0]["body"]
    assert body["type"] == "realtime"
    assert body["model"] == "gpt-realtime"
    assert {tool["name"] for tool in body["tools"]} == {"transfer_call", "end_call"}
    assert timeline["state"] == "ended"
    assert timeline["sip_status"] == 200
    assert app_host.instances[record["call_id"]].custom_status == {"phase": "ended"}
