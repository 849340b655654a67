"""Operator commands as the orchestration receives them: a fixed set of waits, ids handled once.

The Durable Python SDK hands an external event that arrives while no wait for its name is open to
*every* later wait of that name, for good. So the orchestration never opens a wait after its
first step: it opens :data:`COMMANDS_PER_CALL` waits at once, with its first step, and each event
lands on one of them whenever it arrives. Past that many, no wait is left and further events have
no effect (the API refuses them before that). Ids make any second delivery a no-op.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities import names
from switchboard.operator import COMMANDS_PER_CALL, OperatorCommand


class CommandInbox:
    """The call's open command waits, and which of them were taken."""

    def __init__(self, context: df.DurableOrchestrationContext) -> None:
        self._open = [
            context.wait_for_external_event(names.OPERATOR_EVENT) for _ in range(COMMANDS_PER_CALL)
        ]

    def waits(self) -> list[Any]:
        """The waits still open; every step of the orchestration yields them beside its work."""
        return list(self._open)

    def take(self) -> OperatorCommand | None:
        """The earliest command received and not yet taken (``None`` if not a command).

        The SDK hands each event to the open wait registered last, so among the waits that
        have a command, the one registered last holds the earliest.
        """
        wait = next(w for w in reversed(self._open) if w.is_completed)
        self._open.remove(wait)
        return OperatorCommand.from_event(wait.result)

    def has_command(self) -> bool:
        """Whether a command has arrived and not been taken."""
        return any(w.is_completed for w in self._open)

    @property
    def taken(self) -> int:
        """Commands received so far (the API's rate limit reads this from the custom status)."""
        return COMMANDS_PER_CALL - len(self._open)
