"""Keys the caller presses: a mapped key is an action, other keys are grouped into an entry.

A caller keys in an order number one key at a time; the model should hear it once, whole. Keys
are gathered until ``#`` or until :data:`GAP_SECONDS` pass without a key, then the group goes to
the model as what the caller typed. A key the agent definition maps (``[keypad]``) is an action
at once (transfer, end the call), taken through the same path as the built-in tools; keys being
gathered when it is pressed are dropped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from switchboard.agent_tools import KeypadAction

GAP_SECONDS = 1.5
"""How long after the last key a group is complete."""
MAX_GROUP = 32
"""A group this long goes to the model at once."""


def keyed_text(group: str) -> str:
    """The conversation item the model gets for a group of keys."""
    return f"The caller pressed: {group}"


class KeypadGroups:
    """Gathers keys into groups; tells mapped keys apart."""

    def __init__(self, actions: Mapping[str, KeypadAction], gap_seconds: float = GAP_SECONDS):
        self._actions = actions
        self._gap = gap_seconds
        self._keys = ""
        self.complete_at: float | None = None
        """When the group being gathered is complete, if one is."""

    def press(self, key: str) -> KeypadAction | str | None:
        """A mapped key's action, a completed group, or ``None`` while gathering."""
        action = self._actions.get(key)
        if action is not None:
            self._keys, self.complete_at = "", None
            return action
        self._keys += key
        if key == "#" or len(self._keys) >= MAX_GROUP:
            return self.flush()
        self.complete_at = time.monotonic() + self._gap
        return None

    def flush(self) -> str | None:
        """The group gathered so far (``None`` if empty), and start a new one."""
        group, self._keys, self.complete_at = self._keys, "", None
        return group or None
