"""The orchestration's call-store and call-event steps: pure generators that only schedule.

``save_record(context, RECORD_CALL_STARTED, record)`` runs just before the call is answered: one
activity lists the call as live and sends ``call.started`` at the same time (one attempt: the
caller is ringing). ``save_record(context, RECORD_CALL_ENDED, record)`` runs last on every path:
it stores the final record and, when events are on, settles them (``call.started`` again if its
first attempt failed or its outcome was lost with a failed store write, then ``call.ended``,
each retried with the waits ``CALL_EVENTS_RETRY_SECONDS`` gives, on durable timers) and stores
the record once more with their outcomes in ``events``.

Neither the store nor a receiver can cost the call: a store write is retried by Durable and, if it
still fails, noted in the record's ``errors``; an event that is never delivered is recorded as
``failed`` with its last reason. Event delivery never raises (see :mod:`switchboard.events`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities import names
from switchboard.records import CallRecord

Steps = Generator[Any, Any, None]
STORE_RETRIES = {
    names.RECORD_CALL_STARTED: df.RetryOptions(500, 2),
    names.RECORD_CALL_ENDED: df.RetryOptions(2000, 5),
}
"""The write before answering gets one quick retry (the caller is ringing meanwhile); the final
one more and slower ones (nobody waits for it)."""
STARTED, ENDED = "call.started", "call.ended"


def save_record(
    context: Any,
    name: str,
    record: CallRecord,
    before_write: Callable[[], None] | None = None,
    settle_lost_started: bool = True,
) -> Steps:
    """Run the store step ``name`` (and its events) for ``record``.

    ``before_write`` runs just before each final write, to bring the record up to date.
    ``settle_lost_started=False`` resends ``call.started`` only after a failed attempt (the
    steps of orchestration version 2), not also when its outcome was lost.
    """
    if name == names.RECORD_CALL_STARTED:
        yield from _started(context, record)
    else:
        yield from _ended(context, record, before_write or (lambda: None), settle_lost_started)


def _started(context: Any, record: CallRecord) -> Steps:
    name = names.RECORD_CALL_STARTED
    try:
        result = yield context.call_activity_with_retry(name, STORE_RETRIES[name], record.to_dict())
    except Exception as error:  # the store is down: the call goes on without it
        _note_error(record, name, error)
        return
    if isinstance(result, dict) and isinstance(result.get("event"), dict):
        _settle(record, STARTED, result["event"], attempts=1)


def _ended(
    context: Any, record: CallRecord, before_write: Callable[[], None], settle_lost: bool
) -> Steps:
    before_write()
    result = yield from _write(context, record)
    if result is not None and not result.get("events"):
        return  # events are off
    # failed, or lost with a record_call_started the store failed: the receiver drops a repeat
    started = _outcome(record, STARTED)
    lost = settle_lost and record.accepted_at is not None and started is None
    unsettled = started == "failed" or lost
    pending = [STARTED] if unsettled else []
    settled = False
    for event_type in [*pending, ENDED]:
        settled = (yield from _deliver(context, record, event_type)) or settled
    if settled:
        before_write()
        yield from _write(context, record)  # again, now with the events' outcomes


def _deliver(context: Any, record: CallRecord, event_type: str) -> Generator[Any, Any, bool]:
    """Send until delivered or out of waits; True when there was something to record."""
    attempts = 0
    while True:
        attempts += 1
        try:
            outcome = yield context.call_activity(
                names.SEND_CALL_EVENT, _event_input(event_type, record)
            )
        except Exception as error:  # misconfigured: nothing a retry can fix
            _note_error(record, names.SEND_CALL_EVENT, error)
            outcome = {"status": "failed", "detail": "not sent: see errors"}
        waits = outcome.get("retry_seconds") or []
        if outcome["status"] != "failed" or attempts > len(waits):
            break
        wait = timedelta(seconds=float(waits[attempts - 1]))
        yield context.create_timer(context.current_utc_datetime + wait)
    return _settle(record, event_type, outcome, attempts)


def _write(context: Any, record: CallRecord) -> Generator[Any, Any, dict[str, Any] | None]:
    """Store the final record; its activity's result, or None when it failed for good."""
    name = names.RECORD_CALL_ENDED
    try:
        result = yield context.call_activity_with_retry(name, STORE_RETRIES[name], record.to_dict())
    except Exception as error:  # the store is down: the call and its record go on without it
        _note_error(record, name, error)
        return None
    return result if isinstance(result, dict) else {}


def _event_input(event_type: str, record: CallRecord) -> dict[str, Any]:
    return {"type": event_type, "record": {**record.to_dict(), "turns": len(record.turns)}}


def _settle(record: CallRecord, event_type: str, outcome: dict[str, Any], attempts: int) -> bool:
    """Keep the latest outcome of ``event_type`` in ``record.events``; False when events are off."""
    if outcome.get("status") == "off":
        return False
    entry = {
        "type": event_type,
        "webhook_id": outcome.get("webhook_id"),
        "status": outcome.get("status"),
        "attempts": attempts + sum(e["attempts"] for e in record.events if e["type"] == event_type),
        "http": outcome.get("http"),
        "detail": outcome.get("detail"),
    }
    record.events[:] = [e for e in record.events if e["type"] != event_type] + [entry]
    return True


def _outcome(record: CallRecord, event_type: str) -> str | None:
    return next((e["status"] for e in record.events if e["type"] == event_type), None)


def _note_error(record: CallRecord, where: str, error: Exception) -> None:
    first_line = (str(error).splitlines() or [""])[0]
    record.errors.append(f"{where}: {first_line[:300]}")
