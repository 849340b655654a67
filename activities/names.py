"""Function names the orchestrator schedules: the one place they are spelled."""

CALL_ORCHESTRATOR = "call_orchestrator"
SCREEN_CALL = "screen_call"
ACCEPT_CALL = "accept_call"
REJECT_CALL = "reject_call"
MONITOR_CALL = "monitor_call"
REFER_CALL = "refer_call"
HANGUP_CALL = "hangup_call"
CALL_SLOTS = "call_slots"
MONITOR_LEASE = "monitor_lease"
OPERATOR_EVENT = "operator"
ACTIVITIES = (SCREEN_CALL, ACCEPT_CALL, REJECT_CALL, MONITOR_CALL, REFER_CALL, HANGUP_CALL)
"""Every activity the orchestrator may schedule."""
