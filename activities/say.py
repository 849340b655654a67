"""Activity: have the agent say one line while a monitor slice holds the call's socket."""

from typing import Any

import azure.durable_functions as df

from switchboard.announce import say_line as say
from switchboard.connection import get_connection
from switchboard.realtime.channel import RealtimeChannel
from switchboard.settings import get_settings

bp = df.Blueprint()


@bp.activity_trigger(input_name="request")
async def say_line(request: dict[str, Any]) -> dict[str, Any]:
    """Say ``line`` on a socket of its own; ``said`` is false when the call has ended."""
    call_id, line = str(request["call_id"]), str(request["line"])
    connection = get_connection(get_settings())
    url = connection.realtime_url(call_id)

    async def open_channel() -> RealtimeChannel:
        return RealtimeChannel(connection.http, url, await connection.auth_headers())

    return {"said": await say(open_channel, call_id, line)}
