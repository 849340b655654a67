"""The real app against the emulator's stricter modes: several signatures, an unnoticed cancel.

Runs ``function_app.py`` in the Durable test host (``tests/conftest.py``), so what is proved here
is the app's behaviour, with the emulator only playing the service.
"""

from __future__ import annotations

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from switchboard.agent import CHECK_IN_LINE, SILENCE_GOODBYE_LINE
from tests.blueprints.calls import place_and_finish, requests, successful
from tests.blueprints.conftest import app_logs_stay_clean
from tests.conftest import CallEnv

__all__ = ["app_logs_stay_clean"]  # the autouse log check of every end-to-end test


async def test_the_app_accepts_a_webhook_when_one_of_several_signatures_matches(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    record, timeline = await place_and_finish(
        emulator, app_host, app_url, "signature_rotation", time_scale=0.2
    )
    assert record["end_reason"] == "caller_hangup"
    webhooks = [e for e in timeline["timeline"] if e["kind"] == "webhook"]
    assert [e["status"] for e in webhooks] == [200]
    assert len(successful(timeline, "accept")) == 1
    assert timeline["expectation_errors"] == []


async def test_a_caller_gone_before_the_answer_is_ended_by_the_silence_limit(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(SILENCE_SECONDS="1")
    record, timeline = await place_and_finish(
        emulator, app_host, app_url, "cancelled_but_accepted", timeout=20
    )
    assert [e["noticed"] for e in timeline["timeline"] if e["kind"] == "caller_gone"] == [False]
    assert len(successful(timeline, "accept")) == 1
    assert record["end_reason"] == "silence"
    assert (timeline["state"], timeline["reason"]) == ("ended", "hangup")  # not session_limit
    said = [
        e["payload"]["response"].get("instructions")
        for e in timeline["timeline"]
        if e["kind"] == "event_received" and e["type"] == "response.create"
    ]
    assert said[1:] == [CHECK_IN_LINE, SILENCE_GOODBYE_LINE]
    assert len(requests(timeline, "hangup")) == 1
    assert {turn["speaker"] for turn in record["turns"]} == {"agent"}  # nobody on the line
