"""SIP header parsing. Headers come from the caller's carrier: untrusted, parsed defensively."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ANGLE_URI = re.compile(r"<([^<>]*)>")
_DIGITS = re.compile(r"[\s().\-]")
_SIP_TARGET = re.compile(r"^sips?:[^\s@<>\"]+@[^\s<>\"]+$")
ANONYMOUS_USERS = frozenset({"anonymous", "restricted", "unknown", "unavailable", "private"})


@dataclass(frozen=True)
class SipHeader:
    """One header of the INVITE, in arrival order (repeats preserved)."""

    name: str
    value: str


@dataclass(frozen=True)
class Party:
    """A caller or callee as far as the headers say: an E.164 number when one can be read."""

    uri: str | None
    number: str | None
    anonymous: bool

    @property
    def masked(self) -> str:
        """How this party appears in logs."""
        return (
            mask_number(self.number)
            if self.number
            else "anonymous"
            if self.anonymous
            else "unknown"
        )


def mask_number(number: str | None) -> str:
    """A number with all but its country prefix and last two digits hidden, for logs."""
    if not number:
        return "unknown"
    return number[:2] + "*" * max(len(number) - 4, 0) + number[-2:]


def header(headers: Sequence[SipHeader], name: str) -> str | None:
    """The first header called ``name`` (case-insensitive, compact forms included)."""
    wanted = {name.lower(), *_COMPACT.get(name.lower(), ())}
    return next((h.value for h in headers if h.name.strip().lower() in wanted), None)


_COMPACT = {"from": ("f",), "to": ("t",), "call-id": ("i",)}


def parse_party(value: str | None) -> Party:
    """Read a From/To/P-Asserted-Identity value: ``"Name" <sip:+1...@host>;tag=x`` and kin."""
    if not value:
        return Party(uri=None, number=None, anonymous=False)
    match = _ANGLE_URI.search(_strip_display_name(value))
    uri = (match.group(1) if match else value.split(";", 1)[0]).strip()
    user = _user_part(uri)
    anonymous = user.lower() in ANONYMOUS_USERS or "anonymous.invalid" in uri.lower()
    return Party(uri=uri or None, number=None if anonymous else to_e164(user), anonymous=anonymous)


def to_e164(user: str) -> str | None:
    """An E.164 number from a SIP user part or ``tel:`` number, or None if it is not one."""
    candidate = _DIGITS.sub("", user.split(";", 1)[0])
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    return candidate if _E164.match(candidate) else None


def is_transfer_target(uri: str) -> bool:
    """Whether ``uri`` is a REFER target: ``tel:<E.164>`` or ``sip:user@host``."""
    if uri.startswith("tel:"):
        return to_e164(uri[4:]) is not None
    return bool(_SIP_TARGET.match(uri))


def _strip_display_name(value: str) -> str:
    """Drop a quoted display name, which may itself contain ``<`` or ``>``."""
    stripped = value.strip()
    if stripped.startswith('"'):
        end = _closing_quote(stripped)
        return stripped[end + 1 :] if end > 0 else stripped
    return stripped


def _closing_quote(text: str) -> int:
    escaped = False
    for index, char in enumerate(text[1:], start=1):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index
    return -1


def _user_part(uri: str) -> str:
    scheme, _, rest = uri.partition(":")
    if scheme.lower() == "tel":
        return rest
    if scheme.lower() not in {"sip", "sips"}:
        return ""
    return rest.split("@", 1)[0] if "@" in rest else ""
