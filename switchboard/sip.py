"""SIP text from outside: who is calling, and where a call may be transferred.

The INVITE's headers were written by the caller's side (a carrier, or anyone who dials the SIP
gateway directly) and are untrusted. The caller's identity comes from the one header the trunk
vouches for (``CALLER_ID_HEADER``); anything ambiguous (two From headers, several identities in
one, a malformed URI, headers naming different numbers) counts as no number at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from switchboard.numbers import to_e164

ANONYMOUS_USERS = frozenset({"anonymous", "restricted", "unknown", "unavailable", "private"})
FROM = "from"
P_ASSERTED_IDENTITY = "p-asserted-identity"
_COMPACT = {"f": FROM, "t": "to", "i": "call-id"}
# One name-addr (display name: a quoted string or RFC 3261 tokens, <URI>, params) or addr-spec
# (URI, params); nothing else. A token has no ":" or "@", so no URI hides in an unquoted name.
# Possessive quantifiers (*+, ++): a header is attacker-controlled, so no backtracking at all.
_PARAMS = r"(?P<params>(?:[ \t]*+;[^<>\",;\x00-\x1f\x7f]*+)*+)[ \t]*+\Z"
_NAME_ADDR = re.compile(
    r'[ \t]*+(?:"(?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*+"|[A-Za-z0-9\-.!%*_+`\'~ \t]*+)[ \t]*+'
    r"<(?P<uri>[^<>\"\x00-\x20\x7f,]++)>" + _PARAMS
)
_ADDR_SPEC = re.compile(r"[ \t]*+(?P<uri>[^<>\"\x00-\x20\x7f,;]++)" + _PARAMS)
_SIP_URI = re.compile(
    r"(?P<scheme>sips?):(?P<user>[^@;?\s]++)(?:;[^@?\s]*+)?"
    r"@(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::\d{1,5})?(?:;[^?\s]*)?\Z",
    re.IGNORECASE,
)
_TEL_URI = re.compile(r"tel:(?P<number>[^;\s]+)(?:;[^\s]*)?\Z", re.IGNORECASE)


class Standing(StrEnum):
    """How far the headers establish who is calling."""

    NUMBER = "number"
    ANONYMOUS = "anonymous"  # withheld on purpose (anonymous@anonymous.invalid, restricted, ...)
    UNKNOWN = "unknown"  # no identity, or one that names no phone number (sip:alice@host)
    AMBIGUOUS = "ambiguous"  # several, contradictory or malformed identities


@dataclass(frozen=True)
class SipHeader:
    """One header of the INVITE, in arrival order (repeats preserved)."""

    name: str
    value: str


@dataclass(frozen=True)
class Party:
    """A caller or callee as far as the headers say: an E.164 number only when unambiguous."""

    standing: Standing
    number: str | None = None

    @property
    def anonymous(self) -> bool:
        """Withheld on purpose, as opposed to unknown or ambiguous."""
        return self.standing is Standing.ANONYMOUS

    @property
    def masked(self) -> str:
        """How this party appears in logs."""
        return mask_number(self.number) if self.number else self.standing.value


NO_ONE = Party(Standing.UNKNOWN)
AMBIGUOUS = Party(Standing.AMBIGUOUS)


def mask_number(number: str | None) -> str:
    """A number with all but its country prefix and last two digits hidden, for logs."""
    if not number:
        return "unknown"
    return number[:2] + "*" * max(len(number) - 4, 0) + number[-2:]


def headers_named(headers: Sequence[SipHeader], name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive, compact forms such as ``f`` included)."""
    wanted = name.lower()
    return [
        h.value
        for h in headers
        if _COMPACT.get(h.name.strip().lower(), h.name.strip().lower()) == wanted
    ]


def parse_party(value: str | None, region: str | None = None) -> Party:
    """Read one header value (From, To, P-Asserted-Identity) that must name one party."""
    if value is None or not value.strip():
        return NO_ONE
    parties = _parties(value, region)
    return parties[0][1] if len(parties) == 1 else AMBIGUOUS


def caller_identity(
    headers: Sequence[SipHeader], trusted: str = FROM, region: str | None = None
) -> Party:
    """The caller, from the header the trunk vouches for (``from`` or ``p-asserted-identity``).

    The other header may only agree: a From and a P-Asserted-Identity naming different numbers
    make the identity ambiguous. P-Asserted-Identity may carry one ``sip:``/``sips:`` and one
    ``tel:`` value for the same caller (RFC 3325); values naming different numbers do not agree.
    """
    froms = [p for value in headers_named(headers, FROM) for _, p in _parties(value, region)]
    asserted = [
        found
        for value in headers_named(headers, P_ASSERTED_IDENTITY)
        for found in _parties(value, region)
    ]
    if trusted == FROM:
        caller = froms[0] if len(froms) == 1 else (NO_ONE if not froms else AMBIGUOUS)
    else:
        caller = _asserted(asserted)
    named = {p.number for p in [*froms, *(p for _, p in asserted)] if p.number}
    if caller.standing is Standing.AMBIGUOUS or len(named) > 1:
        return AMBIGUOUS
    return caller


def _asserted(parties: list[tuple[str, Party]]) -> Party:
    """P-Asserted-Identity: at most one ``sip:``/``sips:`` and one ``tel:`` value, one number."""
    if not parties:
        return NO_ONE
    schemes = [scheme for scheme, _ in parties]
    if len(set(schemes)) != len(schemes) or any(
        p.standing is Standing.AMBIGUOUS for _, p in parties
    ):
        return AMBIGUOUS
    numbered = [p for _, p in parties if p.number]
    return numbered[0] if numbered else parties[0][1]


def _parties(value: str, region: str | None) -> list[tuple[str, Party]]:
    """Each comma-separated identity in a header value, with its URI kind (``sip``, ``tel``)."""
    return [_party(part, region) for part in _split(value)]


def _party(text: str, region: str | None) -> tuple[str, Party]:
    """One identity; a malformed one is AMBIGUOUS (it may hide anything)."""
    match = _NAME_ADDR.match(text) or _ADDR_SPEC.match(text)
    if match is None:
        return "", AMBIGUOUS
    uri = match["uri"]
    scheme = uri.split(":", 1)[0].lower()
    sip = _SIP_URI.match(uri)
    tel = _TEL_URI.match(uri)
    if sip is None and tel is None:
        return scheme, AMBIGUOUS if scheme in {"sip", "sips", "tel"} else NO_ONE
    user = sip["user"] if sip else tel["number"] if tel else ""
    if user.lower() in ANONYMOUS_USERS or (sip and sip["host"].lower() == "anonymous.invalid"):
        return scheme, Party(Standing.ANONYMOUS)
    number = to_e164(user, region)
    return ("tel" if tel else "sip"), Party(Standing.NUMBER, number) if number else NO_ONE


def _split(value: str) -> list[str]:
    """Split on commas outside quotes and angle brackets (a header may list several values)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = angled = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"' and not angled:
            quoted = not quoted
        elif not quoted and char in "<>":
            angled = char == "<"
        elif char == "," and not quoted and not angled:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


# ---------------------------------------------------------------------------- transfer targets

MAX_TARGET_LENGTH = 256
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])"
# RFC 3966 global number (visual separators allowed), optionally an extension; nothing else.
_TEL_TARGET = re.compile(r"tel:(?P<number>\+[0-9().\-]{1,40})(?:;ext=[0-9]{1,10})?\Z", re.ASCII)
# RFC 3261 sip:/sips: user@host[:port][;param[=value]]...: no URI headers ("?"), no escapes.
_SIP_TARGET = re.compile(
    rf"sips?:(?P<user>[A-Za-z0-9\-_.!~*'()&=+$,]{{1,64}})@(?P<host>{_HOST})"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<params>(?:;[A-Za-z0-9\-]{1,32}(?:=[A-Za-z0-9\-_.!~*'()]{1,64})?)*)\Z",
    re.ASCII,
)
_FORBIDDEN_PARAMS = frozenset({"maddr"})
_TARGET_PREFIX = re.compile(r"\+[1-9][0-9]{0,14}\*\Z")


@dataclass(frozen=True)
class TargetRules:
    """Where operators may send a call (``TRANSFER_ALLOWED_TARGETS``); empty admits every target.

    Entries: a number (``+14155550100``, a ``tel:`` target with that number), a prefix
    (``+1415555*``) or a domain (``pbx.example.com``, a ``sip:``/``sips:`` target on that host).
    """

    numbers: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    domains: frozenset[str] = field(default_factory=frozenset)

    @property
    def restricted(self) -> bool:
        """Whether any rule is set."""
        return bool(self.numbers or self.prefixes or self.domains)

    def admits(self, uri: str) -> bool:
        """Whether a valid target ``uri`` matches a rule (always, when there are none)."""
        if not self.restricted:
            return True
        tel = _TEL_TARGET.match(uri)
        if tel is not None:
            number = to_e164(tel["number"]) or ""
            return number in self.numbers or number.startswith(self.prefixes)
        sip = _SIP_TARGET.match(uri)
        return sip is not None and sip["host"].lower().rstrip(".") in self.domains

    @classmethod
    def parse(cls, entries: Sequence[str]) -> TargetRules:
        """From the setting's comma-separated entries; ``ValueError`` names the bad ones."""
        numbers: set[str] = set()
        domains: set[str] = set()
        prefixes: list[str] = []
        bad: list[str] = []
        for entry in entries:
            if _TARGET_PREFIX.match(entry):
                prefixes.append(entry[:-1])
            elif entry.startswith("+") and (number := to_e164(entry)):
                numbers.add(number)
            elif re.fullmatch(_HOST, entry, re.ASCII) and "." in entry:
                domains.add(entry.lower())
            else:
                bad.append(entry)
        if bad:
            raise ValueError(
                "must be numbers (+14155550100), prefixes (+1415555*) or domains "
                f"(pbx.example.com); bad: {bad[:3]!r}"
            )
        return cls(frozenset(numbers), tuple(prefixes), frozenset(domains))


def is_transfer_target(uri: object, rules: TargetRules | None = None) -> bool:
    """Whether ``uri`` may be sent in a REFER: the one check every target passes.

    ``tel:<global number>[;ext=N]`` or ``sip:``/``sips:`` ``user@host[:port][;params]``, at most
    256 printable ASCII characters: no whitespace or control characters, no URI headers
    (``?Replaces=``, ``?X-...=``), no ``maddr``; and, with ``rules``, one of them admits it.
    """
    if not isinstance(uri, str) or len(uri) > MAX_TARGET_LENGTH:
        return False
    tel = _TEL_TARGET.match(uri)
    sip = _SIP_TARGET.match(uri)
    if tel is not None:
        valid = to_e164(tel["number"]) is not None
    elif sip is not None:
        params = {p.split("=", 1)[0].lower() for p in sip["params"].split(";") if p}
        valid = int(sip["port"] or 5060) <= 65535 and not params & _FORBIDDEN_PARAMS
    else:
        valid = False
    return valid and (rules is None or rules.admits(uri))
