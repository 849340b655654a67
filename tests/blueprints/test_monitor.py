"""End to end, the monitor at its edges: what must survive a slice, and a socket refused at once.

Slices here are a few seconds long so a call crosses several of them quickly. The setting's
minimum is 60 s, so the test host shortens the plan each orchestration starts with (the only
thing changed: the real ingress, replay, activities and emulator run as in production).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from azure.functions._durable_functions import df_dumps, df_loads
from azure.functions.decorators.function_app import Function

from devhost.durable_host import DurableTestHost
from devhost.loopback import serve_on_loopback
from emulator import Emulator, parse_scenario
from switchboard.agent import CHECK_IN_LINE, GOODBYE_LINE, SILENCE_GOODBYE_LINE
from switchboard.connection import close_connection
from switchboard.realtime.lease import lease_key
from switchboard.realtime.slice import MAX_TURN_CHARS, TRUNCATED_MARK
from switchboard.records import CallStart
from tests.blueprints.calls import place_and_finish, requests, successful
from tests.blueprints.test_receptionist import spoken_instructions
from tests.conftest import TRANSFER_TARGET, CallEnv

SHORT_SLICE_SECONDS = 3


class ShortSliceHost(DurableTestHost):
    """The test host, starting every call with ``slice_seconds`` monitor slices."""

    slice_seconds = SHORT_SLICE_SECONDS

    def start_wire(self, orchestrator: str, instance_id: str | None, wire_input: Any) -> str:
        """Start as usual, with the plan's slice length shortened."""
        start = CallStart.from_dict(df_loads(wire_input))
        plan = replace(start.plan, slice_seconds=self.slice_seconds)
        wire = df_dumps(replace(start, plan=plan).to_dict())
        return super().start_wire(orchestrator, instance_id, wire)


@pytest.fixture
async def app_host(call_env: CallEnv, functions: list[Function]) -> AsyncIterator[ShortSliceHost]:
    """``function_app.app`` in the test host, with short monitor slices."""
    async with ShortSliceHost(functions) as host:
        yield host
    await close_connection()


GREETED = {"action": "wait_for", "until": "response_done"}


def stalled_after_the_tool(tool: str, refused: int, caller_waits: float) -> dict[str, Any]:
    """The model calls ``tool``; its line is lost with the socket, then ``refused`` reattaches
    are refused (503); the caller waits ``caller_waits`` seconds on the line, then gives up."""
    return {
        "description": f"{tool}, then the socket drops as its line is asked for",
        "faults": [
            {"on": "response.create", "skip": 1, "action": "drop_sockets"},
            {"on": "connect", "skip": 1, "times": refused, "action": "status", "status": 503},
        ],
        "refer": {"delay_seconds": 0.2},
        "steps": [
            GREETED,
            {
                "action": "say",
                "text": "Please put me through, or let me go.",
                "reply": "Certainly.",
                "tool": tool,
                "arguments": {},
            },
            {"action": "wait", "seconds": caller_waits},
            {"action": "hangup"},
        ],
    }


async def test_a_transfer_accepted_as_the_slice_runs_out_is_carried_out_by_the_next_slice(
    emulator: Emulator, app_host: ShortSliceHost, app_url: str
) -> None:
    data = stalled_after_the_tool("transfer_call", refused=3, caller_waits=10)
    scenario = parse_scenario("transfer at the slice's end", data)
    record, timeline = await place_and_finish(emulator, app_host, app_url, scenario, timeout=30)
    assert record["monitor_slices"] >= 2
    assert [r["body"]["target_uri"] for r in successful(timeline, "refer")] == [TRANSFER_TARGET]
    assert record["end_reason"] == "transferred"
    assert timeline["state"] == "transferred"


async def test_an_end_call_whose_socket_is_lost_is_carried_out_by_the_next_slice(
    emulator: Emulator, app_host: ShortSliceHost, app_url: str
) -> None:
    app_host.slice_seconds = 60  # long enough to give up on the socket (5 reattaches, ~16 s)
    data = stalled_after_the_tool("end_call", refused=6, caller_waits=25)
    scenario = parse_scenario("end_call as the socket is lost", data)
    record, timeline = await place_and_finish(emulator, app_host, app_url, scenario, timeout=40)
    assert record["monitor_slices"] == 2
    said = spoken_instructions(timeline)
    assert said.count(GOODBYE_LINE) >= 2  # asked, lost with the socket, asked again
    assert len(successful(timeline, "hangup")) == 1
    assert record["end_reason"] == "agent_end_call"
    lease = app_host.entities[f"@monitor_lease@{lease_key(record['call_id'])}"]
    assert not lease.exists  # the orchestration forgot the call's lease as it ended


async def test_the_silence_limit_runs_across_slices(
    emulator: Emulator, app_host: ShortSliceHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(SILENCE_SECONDS="2")
    record, timeline = await place_and_finish(emulator, app_host, app_url, "silent_caller")
    assert record["monitor_slices"] >= 2  # the check-in and the goodbye fell in different slices
    assert spoken_instructions(timeline)[1:] == [CHECK_IN_LINE, SILENCE_GOODBYE_LINE]
    assert record["end_reason"] == "silence"
    assert len(requests(timeline, "hangup")) == 1


@pytest.fixture
async def sockets_refused(emulator: Emulator, call_env: CallEnv) -> AsyncIterator[None]:
    """The app talks to a service that answers calls but refuses their sockets (404).

    A loopback front passes every REST request to the emulator and refuses every WebSocket
    handshake, as the service would for a socket URL it cannot match to a live call.
    """

    async def front(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/realtime"):
            return web.json_response({"error": {"code": "call_not_found"}}, status=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                emulator.base_url + request.path_qs,
                headers=headers,
                data=await request.read(),
            ) as answer,
        ):
            body = await answer.read()
        return web.Response(status=answer.status, body=body, content_type=answer.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", front)
    runner, origin = await serve_on_loopback(app)
    call_env.set(AZURE_OPENAI_ENDPOINT=origin)
    yield
    await runner.cleanup()


@pytest.mark.usefixtures("sockets_refused")
async def test_a_call_answered_whose_socket_is_refused_is_hung_up(
    emulator: Emulator, app_host: ShortSliceHost, app_url: str
) -> None:
    record, timeline = await place_and_finish(emulator, app_host, app_url, "greeting")
    assert successful(timeline, "accept")
    assert len(successful(timeline, "hangup")) == 1  # not left up, in silence
    assert timeline["reason"] == "hangup"
    assert record["end_reason"] == "error:socket_refused"
    assert record["errors"] == ["monitor: the call's socket was refused while the call was up"]


async def test_an_endless_utterance_is_kept_cut_to_the_turn_bound(
    emulator: Emulator, app_host: ShortSliceHost, app_url: str
) -> None:
    data = {
        "description": "the caller's transcript is 100,000 characters long",
        "steps": [
            GREETED,
            {"action": "say", "text": "blah " * 20_000, "reply": "I see."},
            {"action": "hangup"},
        ],
    }
    record, _ = await place_and_finish(emulator, app_host, app_url, parse_scenario("long", data))
    caller = [t["text"] for t in record["turns"] if t["speaker"] == "caller"]
    assert [len(text) for text in caller] == [MAX_TURN_CHARS]
    assert caller[0].endswith(TRUNCATED_MARK)
    assert record["turns_left_out"] == 0
