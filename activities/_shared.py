"""What every call-control activity needs: the running loop's client, from the settings."""

from switchboard.call_control import CallControl
from switchboard.connection import get_connection
from switchboard.settings import get_settings


def call_control() -> CallControl:
    """Call control over the running loop's connection (one client per worker loop)."""
    return CallControl(get_connection(get_settings()).client)
