"""Call events: settings, ids, and one signed attempt against a real loopback receiver."""

from __future__ import annotations

import pytest

from switchboard import events
from switchboard.events import EventsConfig, EventsConfigError
from tests.support.receiver import SECRET, Receiver, closed_port_url

RECORD = {
    "call_id": "rtc_events1",
    "received_at": "2026-11-30T10:00:00+00:00",
    "accepted_at": "2026-11-30T10:00:01+00:00",
    "ended_at": "2026-11-30T10:02:01+00:00",
    "end_reason": "caller_hangup",
    "caller": "+14155550123",
    "turns": [{"speaker": "caller", "text": "hello"}],
}


def config(url: str, **extra: str) -> EventsConfig:
    found = EventsConfig.from_env({"CALL_EVENTS_URL": url, "CALL_EVENTS_SECRET": SECRET, **extra})
    assert found is not None
    return found


def test_off_without_a_url_and_defaults() -> None:
    assert EventsConfig.from_env({"CALL_EVENTS_SECRET": SECRET}) is None
    on = config("https://crm.example.com/hooks")
    assert on.retry_seconds == events.DEFAULT_RETRY_SECONDS
    assert config("http://127.0.0.1:1/x", CALL_EVENTS_RETRY_SECONDS="0.5, 2").retry_seconds == (
        0.5,
        2.0,
    )


def test_every_problem_is_named_and_the_secret_is_not_shown() -> None:
    with pytest.raises(EventsConfigError) as raised:
        EventsConfig.from_env(
            {
                "CALL_EVENTS_URL": "http://crm.example.com/hooks",
                "CALL_EVENTS_SECRET": "whsec_not-base64!",
                "CALL_EVENTS_RETRY_SECONDS": "5,forever",
            }
        )
    message = str(raised.value)
    for name in ("CALL_EVENTS_URL", "CALL_EVENTS_SECRET", "CALL_EVENTS_RETRY_SECONDS"):
        assert name in message
    assert "not-base64" not in message


def test_webhook_id_is_stable_per_call_and_event() -> None:
    started = events.webhook_id("rtc_a", "call.started")
    assert started == events.webhook_id("rtc_a", "call.started")
    assert started != events.webhook_id("rtc_a", "call.ended")
    assert started != events.webhook_id("rtc_b", "call.started")


def test_payloads_hold_the_summary_not_the_transcript() -> None:
    ended = events.payload("call.ended", RECORD)
    assert (ended["type"], ended["timestamp"]) == ("call.ended", RECORD["ended_at"])
    assert ended["data"]["turns"] == 1
    assert ended["data"]["status"] == "ended"
    assert ended["data"]["record_url"] == "/api/calls/rtc_events1"
    started = events.payload("call.started", RECORD)
    assert (started["timestamp"], started["data"]["status"]) == (RECORD["received_at"], "live")
    assert "record_url" not in started["data"]


async def test_an_attempt_is_signed_so_the_standard_webhooks_package_verifies_it() -> None:
    async with Receiver() as receiver:
        message_id = events.webhook_id("rtc_events1", "call.ended")
        body = events.payload("call.ended", RECORD)
        outcome = await events.send(config(receiver.url), message_id, body, 5.0)
        assert outcome == {"status": "delivered", "http": 204}
        assert receiver.attempts == [{"id": message_id, "verified": True}]
        assert receiver.events[message_id] == body


async def test_a_wrong_secret_is_refused_by_the_receiver() -> None:
    async with Receiver(secret="whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0wMTIz") as receiver:
        outcome = await events.send(config(receiver.url), "msg_x", {"type": "call.ended"}, 5.0)
    assert outcome == {"status": "failed", "http": 401, "detail": "HTTP 401"}


async def test_a_receiver_that_fails_or_is_down_is_a_failed_attempt() -> None:
    async with Receiver(fail_next=1) as receiver:
        outcome = await events.send(config(receiver.url), "msg_y", {"type": "call.ended"}, 5.0)
    assert (outcome["status"], outcome["http"]) == ("failed", 500)
    outcome = await events.send(config(closed_port_url()), "msg_z", {"type": "call.ended"}, 5.0)
    assert outcome["status"] == "failed"
    assert "Connect" in outcome["detail"]


async def test_a_receiver_that_hangs_fails_the_attempt_at_its_timeout() -> None:
    async with Receiver(delay_seconds=5.0) as receiver:
        outcome = await events.send(config(receiver.url), "msg_t", {"type": "call.started"}, 0.3)
    assert (outcome["status"], outcome["detail"].split(":")[0]) == ("failed", "TimeoutError")


async def test_a_refused_url_is_not_copied_into_the_call_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain-http URL is refused, and the reason lands in every call record's ``events``
    (served by the API and the console): its credentials and query must not come with it."""
    monkeypatch.setenv("CALL_EVENTS_URL", "http://crm:hunter2@crm.example.com/hooks?token=s3cr3t")
    monkeypatch.setenv("CALL_EVENTS_SECRET", SECRET)
    outcome = await events.attempt("call.ended", RECORD)
    assert outcome is not None
    assert outcome["status"] == "failed"
    assert "CALL_EVENTS_URL must be an https URL" in outcome["detail"]
    assert "crm.example.com" in outcome["detail"]
    assert "hunter2" not in outcome["detail"]
    assert "s3cr3t" not in outcome["detail"]
