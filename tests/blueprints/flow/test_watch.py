"""The watch on a running monitor slice waits beside the operator command waits.

Its look at the call's ``monitor_lease`` entity is held unanswered here: an operator's hang-up
that arrives meanwhile is still carried out at once, not after the look.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.functions.decorators.function_app import Function

from activities import names
from emulator import Emulator
from switchboard.connection import close_connection
from tests.blueprints.calls import requests
from tests.blueprints.test_monitor import ShortSliceHost
from tests.blueprints.test_operator_commands import command, in_phase
from tests.conftest import CallEnv


@dataclass
class _HeldInbox:
    """Where a held entity reply goes instead of the instance's inbox."""

    host: HeldLookHost
    inbox: asyncio.Queue[Any]

    def put_nowait(self, item: Any) -> None:
        self.host.held.append((self.inbox, item))


@dataclass
class _Runtime:
    view: Any
    execution_id: str
    inbox: _HeldInbox


class HeldLookHost(ShortSliceHost):
    """Short slices (a look every second), and the lease entity's replies to looks held back."""

    slice_seconds = 6
    held: list[tuple[asyncio.Queue[Any], Any]]

    def _send_to_entity(
        self, runtime: Any, task_id: int, action: dict[str, Any], wants_reply: bool
    ) -> None:
        look = wants_reply and names.MONITOR_LEASE in action["instanceId"]
        if look:
            runtime = _Runtime(runtime.view, runtime.execution_id, _HeldInbox(self, runtime.inbox))
        super()._send_to_entity(runtime, task_id, action, wants_reply)


@pytest.fixture
async def app_host(call_env: CallEnv, functions: list[Function]) -> AsyncIterator[HeldLookHost]:
    async with HeldLookHost(functions) as host:
        host.held = []
        yield host
    await close_connection()


async def test_an_operator_hang_up_during_a_look_at_the_lease_is_carried_out_at_once(
    emulator: Emulator, app_host: HeldLookHost, app_url: str
) -> None:
    call_id = await emulator.place_call("long_call", webhook_url=f"{app_url}/api/calls/incoming")
    await in_phase(app_host, call_id, "active")
    await app_host.wait_until(lambda: bool(app_host.held), timeout=10, what="a look under way")
    assert (await command(app_host, call_id, "hangup"))[0] == 202
    view = await app_host.wait_for_completion(call_id, timeout=5)
    assert len(app_host.held) == 1  # the look never came back, and the hang-up did not wait
    assert view.output["end_reason"] == "operator_hangup"
    timeline = await emulator.wait_for_end(call_id)
    assert len(requests(timeline, "hangup")) == 1
