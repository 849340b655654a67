"""Invoking the app's non-HTTP triggered functions the way the Python worker binds them."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

from azure.functions import meta
from azure.functions.timer import TimerRequest, TimerRequestConverter

from .durable_host import DurableTestHost


async def call_timer(host: DurableTestHost, function_name: str, *, past_due: bool = False) -> None:
    """Fire a timer-triggered function once, binding its parameters from its bindings.

    The timer parameter gets a ``TimerRequest`` decoded by the worker's converter from the JSON
    the host sends; a ``durableClient`` parameter gets the host's client binding. Any other
    binding is refused, so a function that grows one fails here rather than running half-bound.
    """
    function = host.functions[function_name]
    kwargs: dict[str, Any] = {}
    for binding in json.loads(function.get_function_json())["bindings"]:
        if binding["type"] == "timerTrigger":
            payload = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}}
            datum = meta.Datum(type="json", value=json.dumps({**payload, "IsPastDue": past_due}))
            kwargs[binding["name"]] = TimerRequestConverter.decode(datum, trigger_metadata=None)
        elif binding["type"] == "durableClient":
            kwargs[binding["name"]] = host.client_binding()
        else:
            raise AssertionError(f"{function_name}: cannot bind {binding['type']!r}")
    assert any(isinstance(v, TimerRequest) for v in kwargs.values()), f"{function_name}: no timer"
    user_function = function.get_user_function()
    if inspect.iscoroutinefunction(user_function):
        result = await user_function(**kwargs)
    else:
        result = await asyncio.to_thread(user_function, **kwargs)
    assert result is None, f"{function_name} returned {result!r}; timer functions return nothing"
