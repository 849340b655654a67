"""Function names the orchestrator schedules: the one place they are spelled."""

CALL_ORCHESTRATOR = "call_orchestrator"
SCREEN_CALL = "screen_call"  # orchestration version 1 only
ACCEPT_CALL = "accept_call"
REJECT_CALL = "reject_call"
MONITOR_CALL = "monitor_call"
REFER_CALL = "refer_call"
HANGUP_CALL = "hangup_call"
RECORD_CALL_STARTED = "record_call_started"
RECORD_CALL_ENDED = "record_call_ended"
SEND_CALL_EVENT = "send_call_event"
ANALYZE_CALL = "analyze_call"
SAY_LINE = "say_line"
CALL_SLOTS = "call_slots"
MONITOR_LEASE = "monitor_lease"
OPERATOR_EVENT = "operator"
ACTIVITIES = (
    SCREEN_CALL,
    ACCEPT_CALL,
    REJECT_CALL,
    MONITOR_CALL,
    REFER_CALL,
    HANGUP_CALL,
    RECORD_CALL_STARTED,
    RECORD_CALL_ENDED,
    SEND_CALL_EVENT,
    ANALYZE_CALL,
    SAY_LINE,
)
"""Every activity the orchestrator may schedule."""
