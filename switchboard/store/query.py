"""``GET /api/calls`` parameters: validated, turned into a table query, resumed by a cursor.

Every parameter is untrusted: each has a strict grammar and a bound, and a bad one is refused
with a message naming it (answered as 400). The cursor is base64url JSON holding the row key of
the last call of the previous page and a digest of the filters it was issued for; it is not signed
because it grants nothing: any valid row key is just a position in the list the caller may read
anyway, and it reaches the service only as a quoted query parameter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from switchboard.numbers import to_e164
from switchboard.store import keys

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
STATUSES = ("live", "ended")
_END_REASON = re.compile(r"\A[a-z][a-z_]{0,39}(:[a-z][a-z_]{0,39})?\Z")
_MAX_PARAM_CHARS = 512
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""The received times the list takes (row keys count from 1970; the far end leaves room)."""
_CURSOR_HELP = "cursor is not valid: pass the 'next' value of the previous page unchanged"


Window = tuple[datetime | None, datetime | None]
"""Received times (newest, oldest) bounding one index query: at or before the first, after the
second; None is unbounded."""


class QueryError(ValueError):
    """A query parameter the API refuses; the message says what it must be (answered as 400)."""


@dataclass(frozen=True)
class CallQuery:
    """The list's filters, page size and position."""

    since: datetime | None = None
    until: datetime | None = None
    end_reason: str | None = None
    status: str | None = None
    caller: str | None = None
    """The caller's E.164 number, normalised."""
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    """Row key of the last call already listed (from the cursor); None for the first page."""
    caller_secret: bytes | None = field(default=None, repr=False, compare=False)
    """The store's caller key: a caller query's cursor holds the number only through it."""

    @classmethod
    def parse(cls, params: Mapping[str, str], caller_secret: bytes | None = None) -> CallQuery:
        """Validate every parameter the list takes; others (``code``) are ignored.

        An empty value counts as absent. Raises :class:`QueryError` naming the parameter.
        """
        value = {name: _param(params, name) for name in _NAMES}
        query = cls(
            caller_secret=caller_secret,
            since=_moment("since", value["since"]),
            until=_moment("until", value["until"]),
            end_reason=_end_reason(value["end_reason"]),
            status=_status(value["status"]),
            caller=_caller(value["caller"]),
            limit=_limit(value["limit"]),
        )
        if query.since and query.until and query.since > query.until:
            raise QueryError("since must not be later than until")
        if not value["cursor"]:
            return query
        after, scope = _decode_cursor(value["cursor"])
        if scope != query._scope():
            raise QueryError("cursor belongs to a query with other filters: repeat them unchanged")
        return CallQuery(**{**query.__dict__, "after": after})

    def cursor(self, last_row_key: str) -> str:
        """The opaque cursor that resumes this query after ``last_row_key``."""
        body = json.dumps({"after": last_row_key, "scope": self._scope()}, separators=(",", ":"))
        return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")

    def newest(self) -> datetime | None:
        """The latest received time this page can hold, if bounded (by the cursor or ``until``)."""
        if self.after is not None:
            return keys.moment_of(self.after)
        return self.until

    def table_filter(
        self, caller_partition: str | None, window: Window | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The OData filter and its parameters (the SDK quotes them) for this page's rows.

        Row keys count down with time, so ``until`` is a lower row-key bound and ``since`` an
        upper one. In the day-partitioned index, ``window`` (received at or before its first
        time, after its second) narrows the query to its days and row keys.
        """
        clauses: list[str] = []
        params: dict[str, Any] = {}

        def where(clause: str, **values: Any) -> None:
            clauses.append(clause)
            params.update(values)

        if caller_partition is not None:
            where("PartitionKey eq @caller", caller=caller_partition)
        newer, older = window or (None, None)
        if newer is not None:
            where("PartitionKey ge @newer_day", newer_day=keys.day_key(newer))
            where("RowKey ge @newer", newer=keys.time_key(newer))
        if older is not None:
            where("PartitionKey le @older_day", older_day=keys.day_key(older))
            where("RowKey lt @older", older=keys.time_key(older))
        if self.since is not None and caller_partition is None:
            where("PartitionKey le @since_day", since_day=keys.day_key(self.since))
        if self.after is not None:
            where("RowKey gt @after", after=self.after)
        elif self.until is not None:
            where("RowKey ge @until", until=keys.time_key(self.until))
        if self.since is not None:
            where("RowKey lt @since", since=keys.time_key(self.since) + "~")
        if self.status is not None:
            where("status eq @status", status=self.status)
        if self.end_reason is not None:
            where("end_reason eq @end_reason", end_reason=self.end_reason)
        return " and ".join(clauses), params

    def _scope(self) -> str:
        """A digest of the filters, the caller's number in it only by its keyed hash.

        The cursor is not secret, and a plain digest of a number is undone by hashing every
        possible one.
        """
        caller = self.caller
        if caller is not None:  # without a key caller search is off, and no cursor is issued
            caller = keys.caller_key(caller, self.caller_secret) if self.caller_secret else "?"
        scope = [
            None if self.since is None else self.since.isoformat(),
            None if self.until is None else self.until.isoformat(),
            self.end_reason,
            self.status,
            caller,
        ]
        return hashlib.sha256(json.dumps(scope).encode()).hexdigest()[:16]


_NAMES = ("since", "until", "end_reason", "status", "caller", "limit", "cursor")


def _param(params: Mapping[str, str], name: str) -> str:
    raw = params.get(name, "").strip()
    if len(raw) > _MAX_PARAM_CHARS:
        raise QueryError(f"{name} is too long (at most {_MAX_PARAM_CHARS} characters)")
    return raw


def _moment(name: str, raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not _in_range(moment):
        raise QueryError(
            f"{name} must be an ISO 8601 date and time with a time zone, e.g. 2026-01-31T09:00:00Z,"
            f" between {_EARLIEST.year} and {_LATEST.year}"
        )
    return moment.astimezone(UTC)


def _in_range(moment: datetime) -> bool:
    """Whether ``moment`` lies where row keys and the list's time windows can represent it."""
    try:
        return _EARLIEST <= moment.astimezone(UTC) <= _LATEST
    except OverflowError:  # a zone offset pushes it past year 1 or 9999
        return False


def _end_reason(raw: str) -> str | None:
    if not raw:
        return None
    if not _END_REASON.match(raw):
        raise QueryError("end_reason must be one end reason, e.g. caller_hangup or error:accept")
    return raw


def _status(raw: str) -> str | None:
    if not raw:
        return None
    if raw.lower() not in STATUSES:
        raise QueryError("status must be live or ended")
    return raw.lower()


def _caller(raw: str) -> str | None:
    if not raw:
        return None
    number = to_e164(raw.removeprefix("tel:"))
    if number is None:
        raise QueryError("caller must be a phone number in E.164 form, e.g. +46701234567")
    return number


def _limit(raw: str) -> int:
    if not raw:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise QueryError(f"limit must be an integer between 1 and {MAX_LIMIT}")
    return int(raw)


def _decode_cursor(cursor: str) -> tuple[str, str]:
    if not cursor.isascii():
        raise QueryError(_CURSOR_HELP)
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise QueryError(_CURSOR_HELP) from None
    if not isinstance(body, dict) or set(body) != {"after", "scope"}:
        raise QueryError(_CURSOR_HELP)
    after, scope = body["after"], body["scope"]
    if not (isinstance(after, str) and keys.ROW_KEY.match(after) and isinstance(scope, str)):
        raise QueryError(_CURSOR_HELP)
    try:
        position = keys.moment_of(after)
    except OverflowError:  # a forged row key beyond year 9999
        raise QueryError(_CURSOR_HELP) from None
    if not _in_range(position):
        raise QueryError(_CURSOR_HELP)
    return after, scope
