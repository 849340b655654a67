"""How calls are keyed in the store's tables, so the service itself lists them newest first.

Table Storage returns rows in (PartitionKey, RowKey) order, ascending. Both keys therefore count
*down* with time:

* the index partition is the UTC day, inverted (``99999999 - yyyymmdd``): one partition per day
  spreads writes and lets a purge find old days by range;
* the row key is the received time in microseconds, inverted and zero-padded to 18 digits, then
  ``_`` and the call's instance id (unique, and safe in a key: see
  :func:`switchboard.webhook.instance_id_for`).

Newer calls sort first both across days and within a day, so a query with no filter answers the
newest page, and "the rows after this one" is a plain ``RowKey gt`` bound: the row key alone is a
complete cursor position. The caller index partitions by a keyed hash of the caller's E.164 number
(HMAC-SHA256 with a secret setting, so the numbers cannot be recovered by hashing every possible
one) and reuses the same row keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

_MAX_MICROS = 10**18 - 1
_MAX_DAY = 99_999_999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROW_KEY = re.compile(r"\A(\d{18})_([A-Za-z0-9_.:~\-]{1,128})\Z")
"""A row key as this module writes it (the instance id grammar, with its hashed form's ``~``)."""


def day_key(moment: datetime) -> str:
    """The index partition for ``moment``'s UTC day; later days sort first."""
    day = moment.astimezone(UTC)
    return f"{_MAX_DAY - (day.year * 10_000 + day.month * 100 + day.day):08d}"


def time_key(moment: datetime) -> str:
    """``moment`` as an inverted, fixed-width number of microseconds; later times sort first."""
    micros = (moment.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{_MAX_MICROS - micros:018d}"


def row_key(received_at: datetime, instance_id: str) -> str:
    """The row key of a call in both indexes."""
    key = f"{time_key(received_at)}_{instance_id}"
    if not ROW_KEY.match(key):
        raise ValueError(f"instance id {instance_id!r} cannot be part of a row key")
    return key


def moment_of(key: str) -> datetime:
    """The received time a row key (or its time prefix) stands for: inverse of :func:`time_key`."""
    return _EPOCH + timedelta(microseconds=_MAX_MICROS - int(key[:18]))


def caller_key(number: str, secret: bytes) -> str:
    """The caller index partition of an E.164 number: HMAC-SHA256 with ``secret``, 32 hex."""
    return hmac.new(secret, number.encode("ascii"), hashlib.sha256).hexdigest()[:32]
