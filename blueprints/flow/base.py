"""What every step of the call orchestration shares: the context, the record, waiting, time."""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from blueprints.flow.commands import CommandInbox
from switchboard.call_control import ControlResult, Outcome
from switchboard.operator import OperatorCommand, refusal
from switchboard.records import CallRecord, CallStart, EndReason, Phase

logger = logging.getLogger("blueprints.orchestration")

Steps = Generator[Any, Any, Any]

VERSION = 3
"""The orchestration version new calls start under: host.json's ``defaultVersion`` says the same.

Raise it (both places) with any change to what the orchestrator schedules, and keep the old
steps behind ``self.version`` until no call started under the old version can be live.
Version 1 (no version recorded: calls started before versioning) screened in an activity;
version 2 resent ``call.started`` at the end only when its first attempt had failed.
"""


def version_of(recorded: str | None) -> int:
    """A call's version from ``context.version``; none recorded means version 1."""
    return int(recorded) if recorded and recorded.isdigit() else 1


class FlowBase:
    """The state one call's orchestration keeps, and the helpers every step uses."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self.ctx = context
        self.version = version_of(context.version)
        start = CallStart.from_dict(context.get_input() or {})
        self.call_id = start.call.call_id
        self.call = start.call
        self.plan = start.plan
        self.decision = start.decision
        self.retry = df.RetryOptions(self.plan.retry_first_interval_ms, self.plan.retry_attempts)
        self.record = CallRecord(call_id=self.call_id, received_at=self._now())
        self.ring_deadline = self._now_dt() + timedelta(seconds=self.plan.ring_timeout_seconds)
        self.inbox = CommandInbox(context)
        self.phase = Phase.SCREENING
        self.step = "admission"
        self.verify_timer: Any = None  # an operator transfer's check, beside a running slice
        self.monitor: Any = None  # the monitor slice under way, if any
        self.leaving: EndReason | None = None  # what the call's socket closing would mean now
        self.speak_next: str | None = None  # what the next slice says first

    def _wait(self, *tasks: Any, act: bool = True) -> Generator[Any, Any, Any]:
        """The first of ``tasks`` to complete, taking operator commands meanwhile.

        A command the phase cannot carry out is recorded as refused and the wait goes on; one
        it can (only when ``act``) is returned instead of a task, for the caller to carry out.
        """
        while True:
            if not self.inbox.has_command():
                winner = yield self.ctx.task_any([*tasks, *self.inbox.waits()])
                if any(winner is task for task in tasks):
                    return winner
            command = self.inbox.take()
            self._phase(self.phase)  # the command count the API rate-limits on
            if command is None:
                self._log("ignored an operator event that is not a command")
                continue
            if self.record.handled(command.id):
                self._log("operator command %s delivered again: no effect", command.id)
                continue
            why = refusal(command.action, self.phase)
            if why is None and not act:  # a step that cannot be interrupted (phases prevent it)
                why = "busy"
            if why is None:
                return command
            self._log("operator %s (%s) refused: %s", command.action, command.id, why)
            self.record.command_handled(command.id, command.action, f"refused:{why}")

    def _refuse_late_commands(self) -> None:
        """Record as refused the commands that landed after the call ended, untaken till now.

        The post-call steps wait on nothing but their own work, so a command that raced the API's
        phase check lands then; it still gets its one effect, a line in the record.
        """
        late = self.inbox.has_command()
        while self.inbox.has_command():
            command = self.inbox.take()
            if command is None or self.record.handled(command.id):
                continue
            why = refusal(command.action, self.phase) or "ended"
            self._log("operator %s (%s) refused: %s", command.action, command.id, why)
            self.record.command_handled(command.id, command.action, f"refused:{why}")
        if late:
            self._phase(self.phase)  # the command count the API rate-limits on

    def _carried_out(self, command: OperatorCommand) -> None:
        self._log("operator asked to %s (%s)", command.action, command.id)
        self.record.command_handled(command.id, command.action, "done")

    def _control(self, name: str, request: dict[str, Any]) -> Generator[Any, Any, ControlResult]:
        """Run a call-control activity to its end; commands meanwhile are refused."""
        self.step = name
        task = self.ctx.call_activity_with_retry(name, self.retry, request)
        winner = yield from self._wait(task, act=False)
        if isinstance(winner.result, Exception):
            raise winner.result
        return ControlResult.from_dict(winner.result)

    def _reason(self, result: ControlResult, ok: str, step: str) -> str:
        """The end reason after reject/accept: as planned, the caller gone, or refused."""
        if result.outcome is Outcome.OK:
            return ok
        if result.outcome is Outcome.CALL_GONE:
            return EndReason.CALLER_GONE
        self.record.errors.append(
            f"{step} refused: HTTP {result.status} {result.code or ''}".strip()
        )
        return f"error:{step}_refused"

    def _error(self, where: str, error: Exception) -> None:
        """Record a failure by its first line: Durable's reasons carry whole tracebacks."""
        first_line = (str(error).splitlines() or [""])[0]
        self.record.errors.append(f"{where}: {first_line[:300]}")

    def _end(self, reason: str) -> None:
        self._cancel_verify_timer()
        self.record.end_reason = str(reason)
        self.record.ended_at = self._now()
        self._phase(Phase.ENDED)
        self._log("ended: %s", reason)

    def _cancel_verify_timer(self) -> None:
        if self.verify_timer is not None:
            if not self.verify_timer.is_completed:
                self.verify_timer.cancel()
            self.verify_timer = None

    def _phase(self, phase: Phase) -> None:
        self.phase = phase
        self.ctx.set_custom_status({"phase": phase.value, "commands": self.inbox.taken})

    def _now_dt(self) -> datetime:
        now: datetime = self.ctx.current_utc_datetime
        return now

    def _seconds_left(self, until: datetime | None) -> float:
        """Seconds until ``until`` (orchestration time); infinite when there is no limit."""
        if until is None:
            return float("inf")
        return (until - self._now_dt()).total_seconds()

    def _now(self) -> str:
        return str(self.ctx.current_utc_datetime.isoformat())

    def _log(self, message: str, *args: object) -> None:
        """Log once, not on every replay."""
        if not self.ctx.is_replaying:
            logger.info("call %s: %s", self.call_id, message % args)
