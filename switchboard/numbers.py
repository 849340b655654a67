"""Phone numbers: one normaliser (``phonenumbers``), so every comparison is of E.164 with E.164.

A blocklist compared as text is bypassed by writing the same number another way (``14155550123``,
``4155550123``, ``%2B14155550123``); comparing numbers parsed by Google's libphonenumber port
is not. National forms are read in ``DEFAULT_REGION`` when one is set, and never guessed at
otherwise.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import phonenumbers

_VISUAL_SEPARATORS = re.compile(r"[\s().\-]")
_DIALLABLE = re.compile(r"\+?[0-9]{1,20}\Z")
COUNTRY_CODES = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE) - {0}
"""Every country calling code libphonenumber knows (``1``, ``44``, ``46``, ...; not ``4``)."""
REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


def to_e164(text: str, region: str | None = None) -> str | None:
    """The E.164 form of a number written any usual way, or None if it is not a possible number.

    ``text`` may be percent-encoded (SIP user parts are), use visual separators, start with
    ``00`` or, with ``region``, be in that region's national form.
    """
    candidate = _VISUAL_SEPARATORS.sub("", unquote(text))
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    if not _DIALLABLE.match(candidate) or (region is None and not candidate.startswith("+")):
        return None
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_code(e164: str) -> int:
    """The country calling code of a number :func:`to_e164` returned (``+4420...`` → 44)."""
    return int(phonenumbers.parse(e164, None).country_code or 0)
