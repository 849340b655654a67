"""The one door for untrusted text on its way into a log line or a URL.

A value from outside (a call id, a webhook id, an event type, a header) is logged only through
:func:`shown`: quoted, with control characters escaped (so CR/LF, NUL and ANSI escapes cannot
forge or hide lines) and bounded in length. A value placed in a URL goes through
:func:`build_url`, which percent-encodes every path segment and query value.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

LOG_LIMIT = 80
"""How many characters of one untrusted value a log line shows."""


def shown(value: object, limit: int = LOG_LIMIT) -> str:
    """``value`` as it may appear in a log line: ``'rtc_ab…'(+40 chars)``, never raw."""
    text = value if isinstance(value, str | bytes) else str(value)
    more = len(text) - limit
    return repr(text[:limit]) + (f"…(+{more} chars)" if more > 0 else "")


def build_url(base: str, *segments: str, **query: str) -> str:
    """``base`` (trusted: from the settings) plus encoded path ``segments`` and ``query``."""
    path = "".join("/" + quote(segment, safe="") for segment in segments)
    return base.rstrip("/") + path + ("?" + urlencode(query) if query else "")
