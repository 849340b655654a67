"""Function execution logs in the shape ``func start`` prints them.

Every invocation the host makes (HTTP, orchestrator episode, activity, entity batch, timer) is
logged as ``Executing 'Functions.<name>' (Reason=..., Id=...)`` and ``Executed 'Functions.<name>'
(Succeeded|Failed, Id=..., Duration=...ms)``. Orchestrations also log their progress as the Durable
extension does at Information level: started, custom status changes, completed or failed.

The functions are wrapped, not the host: :func:`logged` returns copies of the indexed functions
whose user function logs around the original, so the host runs them unchanged.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from azure.functions.decorators.function_app import Function

logger = logging.getLogger("devhost.functions")

_REASONS = {
    "httpTrigger": "This function was programmatically called via the host APIs.",
    "timerTrigger": "Timer fired at {now}",
}


def trigger_type(function: Function) -> str:
    """The trigger binding's type (``httpTrigger``, ``orchestrationTrigger``, ...)."""
    bindings = json.loads(function.get_function_json())["bindings"]
    return str(next(b["type"] for b in bindings if b["type"].endswith("Trigger")))


def logged(functions: Sequence[Function]) -> list[Function]:
    """Copies of ``functions`` whose invocations are logged like the Functions host logs them."""
    progress = _Progress()
    out = []
    for function in functions:
        name = function.get_function_name() or "?"
        kind = trigger_type(function)
        user_function = function.get_user_function()
        if kind == "orchestrationTrigger":
            user_function = progress.wrap(name, user_function)
        clone = copy.copy(function)
        clone._func = _with_execution_log(name, kind, user_function)
        out.append(clone)
    return out


@contextmanager
def _execution(name: str, kind: str) -> Iterator[None]:
    invocation = uuid.uuid4()
    reason = _REASONS.get(kind, "(null)").format(now=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    logger.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", name, reason, invocation)
    started = time.perf_counter()
    outcome = "Failed"
    try:
        yield
        outcome = "Succeeded"
    finally:
        duration = round((time.perf_counter() - started) * 1000)
        logger.info(
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
            name,
            outcome,
            invocation,
            duration,
        )


def _with_execution_log(name: str, kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with _execution(name, kind):
                return await function(*args, **kwargs)

        return run_async

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _execution(name, kind):
            return function(*args, **kwargs)

    return run


class _Progress:
    """Orchestration progress from the context going in and the state coming out of an episode."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}

    def wrap(self, name: str, handler: Callable[[Any], str]) -> Callable[[Any], str]:
        """``handler`` (the orchestrator's protocol function) with progress lines around it."""

        @functools.wraps(handler)
        def episode(context: Any) -> str:
            request = json.loads(context.body)
            instance = str(request.get("instanceId"))
            if not request.get("isReplaying"):
                logger.info("%s: Function '%s (Orchestrator)' started.", instance, name)
            try:
                state_json = handler(context)
            except Exception as exc:
                reason = str(exc).partition("\n")[0]
                logger.error("%s: Function '%s (Orchestrator)' failed: %s", instance, name, reason)
                self._status.pop(instance, None)
                raise
            self._report(name, instance, json.loads(state_json))
            return state_json

        return episode

    def _report(self, name: str, instance: str, state: dict[str, Any]) -> None:
        status = state.get("customStatus")
        if status is not None:
            text = json.dumps(status, separators=(",", ":"))
            if self._status.get(instance) != text:
                self._status[instance] = text
                logger.info("%s: '%s (Orchestrator)' custom status %s", instance, name, text)
        if state.get("isDone"):
            self._status.pop(instance, None)
            size = len(json.dumps(state.get("output")))
            logger.info(
                "%s: Function '%s (Orchestrator)' completed. Output: (%d bytes).",
                instance,
                name,
                size,
            )
