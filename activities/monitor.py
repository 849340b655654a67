"""Activity: stay on the call's WebSocket for one slice of its life (see ``CallMonitor``)."""

from typing import Any

import azure.durable_functions as df

from switchboard.connection import get_connection
from switchboard.realtime.channel import RealtimeChannel
from switchboard.realtime.monitor import CallMonitor, MonitorRequest
from switchboard.settings import get_settings

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def monitor_call(request: dict[str, Any]) -> dict[str, Any]:
    """Monitor one slice; a socket that cannot be held comes back as ``SOCKET_LOST``."""
    monitor_request = MonitorRequest.from_dict(request)
    connection = get_connection(get_settings())
    url = connection.realtime_url(monitor_request.call_id)

    async def open_channel() -> RealtimeChannel:
        return RealtimeChannel(connection.http, url, await connection.auth_headers())

    return (await CallMonitor(monitor_request, open_channel).run()).to_dict()
