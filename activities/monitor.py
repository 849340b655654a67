"""Activity: stay on the call's WebSocket for one slice of its life (see ``CallMonitor``).

Also the call's monitor lease, a Durable Entity (``switchboard.realtime.lease``), and the adapter
through which a slice claims, renews and checks it.
"""

import asyncio
import logging
import os
import time
import uuid
from typing import Any

import azure.durable_functions as df
from azure.identity.aio import DefaultAzureCredential

from activities import names
from switchboard.connection import get_connection
from switchboard.realtime.channel import RealtimeChannel
from switchboard.realtime.http_tools import HttpToolCaller
from switchboard.realtime.lease import Lease, LeaseState, NoLease, Standing, lease_key
from switchboard.realtime.monitor import CallMonitor, MonitorRequest
from switchboard.realtime.monitor_loop import MONITORS, call_back
from switchboard.realtime.slice import PendingEnd
from switchboard.realtime.transcript import NoTurnSink, TurnSink
from switchboard.settings import get_settings
from switchboard.store.account import StoreConfig, StoreConfigError, get_account
from switchboard.store.live import LiveTranscript

logger = logging.getLogger(__name__)
bp = df.Blueprint()

CLAIM_WAIT_SECONDS = 10.0
"""How long a run of a slice waits for its claim to replace an older run's before acting anyway."""
CLAIM_POLL_SECONDS = 0.1


@bp.activity_trigger(input_name="request")
@bp.durable_client_input(client_name="client")
async def monitor_call(
    request: dict[str, Any], client: df.DurableOrchestrationClient
) -> dict[str, Any]:
    """One slice, run on the worker's monitor loop; a lost socket is ``SOCKET_LOST``."""
    monitor_request = MonitorRequest.from_dict(request)
    lease: Lease = NoLease()
    if monitor_request.lease:  # 0: scheduled by an orchestration that predates leases
        entity = EntityLease(client, monitor_request.call_id, monitor_request.lease)
        lease = CalledBackLease(entity, asyncio.get_running_loop())
    return await MONITORS.run(lambda: _monitor(monitor_request, lease))


async def _monitor(monitor_request: MonitorRequest, lease: Lease) -> dict[str, Any]:
    """One slice, on the monitor loop: its connection, tools and store are that loop's."""
    settings = get_settings()
    connection = get_connection(settings)
    url = connection.realtime_url(monitor_request.call_id)

    async def open_channel() -> RealtimeChannel:
        return RealtimeChannel(connection.http, url, await connection.auth_headers())

    async def token(scope: str) -> str:  # only for a managed_identity HTTP tool: rare
        async with DefaultAzureCredential(managed_identity_client_id=settings.client_id) as cred:
            return (await cred.get_token(scope)).token

    agent = settings.agent
    call = monitor_request.call_id
    tools = HttpToolCaller(agent.http_tools, connection.http, os.environ, token, call=call)
    monitor = CallMonitor(
        monitor_request,
        open_channel,
        lease,
        _live_transcript(call, lease),
        agent.mcp_servers,
        tools=tools,
        keypad=agent.keypad,
    )
    return (await monitor.run()).to_dict()


def _live_transcript(call_id: str, lease: Lease) -> TurnSink:
    """The call store's live transcript, written while this slice holds the lease."""
    try:
        config = StoreConfig.from_env()
    except StoreConfigError as error:
        logger.warning("call %s: no live transcript: %s", call_id, error)
        return NoTurnSink()
    return LiveTranscript(call_id, lease.held, lambda: get_account(config))


@bp.entity_trigger(context_name="context", entity_name=names.MONITOR_LEASE)
def monitor_lease(context: df.DurableEntityContext) -> None:
    """One call's lease (``switchboard.realtime.lease``).

    Its slices ``claim``, ``beat`` and record a ``pending`` leaving request ({lease, run}); its
    orchestration calls ``get`` to watch them and signals ``forget`` {lease} when the call ends.
    """
    state = LeaseState.from_state(context.get_state(dict))
    operation, request = context.operation_name, context.get_input() or {}
    if operation == "get":
        context.set_result(state.to_state())
        return
    number, run = int(request["lease"]), str(request.get("run", ""))
    if operation == "claim":
        state.claim(number, run)
    elif operation == "beat":
        state.beat(number, run)
    elif operation == "pending":
        state.record(number, run, dict(request["ending"]))
    elif operation == "forget":
        if state.forgets(number):
            context.destruct_on_exit()
            return
    else:
        raise ValueError(f"unknown monitor_lease operation {operation!r}")
    context.set_state(state.to_state())


class EntityLease:
    """A slice's hold on its call, kept in the call's ``monitor_lease`` entity.

    The store being unreachable must not silence a call: a failed look counts as still holding
    (and is logged); the orchestrator's watch still notices a slice that stopped.
    """

    def __init__(self, client: df.DurableOrchestrationClient, call_id: str, number: int) -> None:
        self._client = client
        self._call_id = call_id
        self._entity = df.EntityId(names.MONITOR_LEASE, lease_key(call_id))
        self._number, self._run = number, uuid.uuid4().hex
        self._claimed = False
        self._claim_seen = False  # a claim that never showed does not silence the call

    async def beat(self) -> bool:
        """Claim the call (first time) or renew the claim; ``False`` once a newer slice holds it.

        A renewal is a signal only (one message per heartbeat): whether a newer slice took over
        is looked up before every act instead.
        """
        if self._claimed:
            await self._signal("beat")
            return True
        await self._signal("claim")
        give_up_at = time.monotonic() + CLAIM_WAIT_SECONDS
        while (standing := await self._standing()) == "contested":  # an older run of this slice
            if time.monotonic() >= give_up_at:
                logger.warning("call %s: the lease claim did not show, going on", self._call_id)
                break
            await asyncio.sleep(CLAIM_POLL_SECONDS)
        self._claimed, self._claim_seen = True, standing == "holds"
        return standing != "superseded"

    async def held(self) -> bool:
        """Whether no newer slice (or newer run of this one) has claimed the call."""
        standing = await self._standing()
        return standing == "holds" or (standing == "contested" and not self._claim_seen)

    async def record(self, ending: PendingEnd) -> None:
        """Keep the leaving request in the entity, for a slice that comes after a lost one."""
        await self._signal("pending", ending=ending.model_dump(mode="json"))

    async def ending_after(self, lease_seen: int) -> PendingEnd | None:
        """A leaving request accepted by a slice newer than ``lease_seen`` that never returned."""
        state = await self._state()
        return None if state is None else state.ending_after(lease_seen)

    async def _standing(self) -> Standing:
        state = await self._state()
        return "holds" if state is None else state.standing(self._number, self._run)

    async def _state(self) -> LeaseState | None:
        """The entity's state; ``None`` when it cannot be read (the store: fail open, loudly)."""
        try:
            response = await self._client.read_entity_state(self._entity)
        except Exception:
            logger.warning("call %s: cannot read the monitor lease", self._call_id, exc_info=True)
            return None
        return LeaseState.from_state(response.entity_state if response.entity_exists else None)

    async def _signal(self, operation: str, **extra: Any) -> None:
        try:
            request = {"lease": self._number, "run": self._run, **extra}
            await self._client.signal_entity(self._entity, operation, request)
        except Exception:
            logger.warning(
                "call %s: cannot %s the monitor lease", self._call_id, operation, exc_info=True
            )


class CalledBackLease:
    """A lease whose calls run on the loop that made it (the activity's), from the monitor loop."""

    def __init__(self, lease: Lease, loop: asyncio.AbstractEventLoop) -> None:
        self._lease = lease
        self._loop = loop

    async def beat(self) -> bool:
        """As the lease's, on its loop."""
        return await call_back(self._loop, self._lease.beat)

    async def held(self) -> bool:
        """As the lease's, on its loop."""
        return await call_back(self._loop, self._lease.held)

    async def record(self, ending: PendingEnd) -> None:
        """As the lease's, on its loop."""
        await call_back(self._loop, lambda: self._lease.record(ending))

    async def ending_after(self, lease_seen: int) -> PendingEnd | None:
        """As the lease's, on its loop."""
        return await call_back(self._loop, lambda: self._lease.ending_after(lease_seen))
