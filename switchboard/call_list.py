"""Call records as a list: the query, its opaque cursor, and one page read from the Durable store.

How the store pages, and so how this does
-----------------------------------------
Read from the Durable extension and DurableTask.AzureStorage sources:

* ``GET <rpc base>/instances/`` (HttpApiHandler.HandleGetStatusRequestAsync) answers ONE page of
  ``ListInstancesAsync``: at most ``top`` rows (``OrchestrationStatusQueryCondition.PageSize``,
  default 100), and the position of the next page in the ``x-ms-continuation-token`` response
  header, which a request sends back in the same header. The condition's own documentation:
  "Requests may return fewer records than the specified page size, even if there are more
  records. Always check the continuation token."
* The Azure Storage provider reads that page from its Instances table, whose PartitionKey is the
  instance id: rows come in instance-id order. Created time is a plain column: there is no way
  to ask for newest or oldest first, and a created-time filter scans the table.
* The Python SDK's ``get_status_by``/``get_status_all`` send no ``top`` and drop the response
  headers: they return the first page only, silently (at most 100 rows, possibly fewer). A keyset
  cursor over created time built on them would skip instances, so they are not used here.
* Entities are rows of the same table (``@name@key``, always Running) and the list API has no
  filter to exclude them.

So the list follows the extension's continuation token. Calls come in **instance-id order**
(call id order for ``rtc_`` ids), neither newest nor oldest first: ordering by time would mean
reading every matching instance, outputs included, for every page. ``since`` narrows by created
time instead. A page asks the store for exactly the rows it still has room for (``top`` =
``limit`` minus what it holds), so it always ends on a store page boundary and the store's token
is an exact resume point: no duplicates, no gaps. Entities and other orchestrations are dropped
as the rows arrive. A page reads at most :data:`MAX_STORE_PAGES` store pages, so a page may hold
fewer than ``limit`` calls (even none) while ``next`` is set: the list is complete only when
``next`` is null. As with any keyset, calls created while a client pages may or may not appear.

The cursor is base64url JSON holding the store's token and the query's ``since`` and ``status``;
a cursor used with different ``since``/``status`` is refused. It is not signed: a forged token
reaches the store, which fails the request, as it would a stale one (answered as 502).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_STORE_PAGES = 20
"""Store requests one page may make before it answers with what it has and a ``next`` cursor."""

RUNTIME_STATUSES: dict[str, tuple[str, ...]] = {
    "running": ("Pending", "Running", "ContinuedAsNew", "Suspended"),
    "completed": ("Completed",),
    "failed": ("Failed",),
    "terminated": ("Terminated", "Canceled"),
}
"""Each ``status`` the API takes, and the Durable runtime statuses it stands for."""

_PUBLIC_STATUS = {runtime: public for public, all_ in RUNTIME_STATUSES.items() for runtime in all_}
_FINISHED = frozenset({"completed", "failed", "terminated"})
_MAX_TOKEN_CHARS = 4096
_CURSOR_HELP = "cursor is not valid: pass the 'next' value of the previous page unchanged"


class QueryError(ValueError):
    """A query parameter the API refuses; the message says what it must be (answered as 400)."""


@dataclass(frozen=True)
class StorePage:
    """One answer of the store's instance query: raw status payloads and the next position."""

    rows: list[dict[str, Any]]
    token: str | None


StoreQuery = Callable[[dict[str, str], str | None], Awaitable[StorePage]]
"""Run one store query: (query string parameters, continuation token) to one :class:`StorePage`."""


@dataclass(frozen=True)
class CallQuery:
    """``GET /api/calls`` parameters, validated."""

    since: datetime | None = None
    statuses: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    token: str | None = None
    """The store's continuation token, from the cursor; None for the first page."""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> CallQuery:
        """Validate ``since``, ``status``, ``limit`` and ``cursor``; others (``code``) are ignored.

        An empty value counts as absent. Raises :class:`QueryError` naming the parameter.
        """
        since = _since(params.get("since", "").strip())
        statuses = _statuses(params.get("status", "").strip())
        query = cls(since, statuses, _limit(params.get("limit", "").strip()))
        cursor = params.get("cursor", "").strip()
        if not cursor:
            return query
        token, issued_for = _decode_cursor(cursor)
        if issued_for != query._scope():
            raise QueryError(
                "cursor belongs to a query with other since/status values: repeat them unchanged"
            )
        return cls(since, statuses, query.limit, token)

    def store_params(self, top: int) -> dict[str, str]:
        """Query string of the store request for at most ``top`` rows."""
        params = {"top": str(top), "showInput": "true"}
        if self.since is not None:
            params["createdTimeFrom"] = self.since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if self.statuses:
            runtime = (r for status in self.statuses for r in RUNTIME_STATUSES[status])
            params["runtimeStatus"] = ",".join(runtime)
        return params

    def cursor(self, token: str) -> str:
        """The opaque cursor that resumes this query at the store's ``token``."""
        body = json.dumps({"token": token, **self._scope()}, separators=(",", ":"))
        return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")

    def _scope(self) -> dict[str, Any]:
        since = None if self.since is None else self.since.isoformat()
        return {"since": since, "status": list(self.statuses)}


async def read_page(query: CallQuery, store: StoreQuery, orchestrator: str) -> dict[str, Any]:
    """One page of the list: ``{"calls": [...], "next": cursor or None}`` (see the module doc)."""
    calls: list[dict[str, Any]] = []
    token = query.token
    for _ in range(MAX_STORE_PAGES):
        room = query.limit - len(calls)
        page = await store(query.store_params(room), token)
        if len(page.rows) > room:
            raise RuntimeError(f"the store answered {len(page.rows)} rows for top={room}")
        calls += [view for row in page.rows if (view := call_view(row, orchestrator))]
        token = page.token or None
        if token is None or len(calls) == query.limit:
            break
    return {"calls": calls, "next": None if token is None else query.cursor(token)}


def call_view(row: Mapping[str, Any], orchestrator: str) -> dict[str, Any] | None:
    """The list entry for one store row, or None if the row is not a call (entity, other)."""
    instance_id = row.get("instanceId")
    if not isinstance(instance_id, str) or instance_id.startswith("@"):
        return None
    if row.get("name") != orchestrator:
        return None
    status = _PUBLIC_STATUS.get(str(row.get("runtimeStatus")), "running")
    custom = row.get("customStatus")
    output = row.get("output")
    record = output if status in _FINISHED and isinstance(output, dict) else None
    return {
        "call_id": _call_id(row.get("input"), record, instance_id),
        "status": status,
        "created_at": _iso(row.get("createdTime")),
        "last_updated_at": _iso(row.get("lastUpdatedTime")),
        "phase": custom.get("phase") if isinstance(custom, dict) else None,
        "record": record,
    }


def _call_id(wire_input: Any, record: dict[str, Any] | None, instance_id: str) -> str:
    """The call id from the input (``CallStart``): instance ids may be hashes of odd call ids."""
    data = wire_input
    if isinstance(data, str):  # the Python client posts the input as a JSON string
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    call = data.get("call") if isinstance(data, dict) else None
    if isinstance(call, dict) and isinstance(call.get("call_id"), str):
        return str(call["call_id"])
    if record is not None and isinstance(record.get("call_id"), str):
        return str(record["call_id"])
    return instance_id


def _iso(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC).isoformat()
    except ValueError:
        return value


def _since(raw: str) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise QueryError(
            "since must be an ISO 8601 date and time with a time zone, e.g. 2026-01-31T09:00:00Z"
        )
    return moment.astimezone(UTC)


def _statuses(raw: str) -> tuple[str, ...]:
    if not raw:
        return ()
    asked = {part.strip().lower() for part in raw.split(",") if part.strip()}
    if not asked <= RUNTIME_STATUSES.keys():
        raise QueryError(
            "status must be one or more of running, completed, failed, terminated, "
            "separated by commas"
        )
    return tuple(status for status in RUNTIME_STATUSES if status in asked)


def _limit(raw: str) -> int:
    if not raw:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise QueryError(f"limit must be an integer between 1 and {MAX_LIMIT}")
    return int(raw)


def _decode_cursor(cursor: str) -> tuple[str, dict[str, Any]]:
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise QueryError(_CURSOR_HELP) from None
    if not isinstance(body, dict) or set(body) != {"token", "since", "status"}:
        raise QueryError(_CURSOR_HELP)
    token = body.pop("token")
    valid_token = (
        isinstance(token, str)
        and 0 < len(token) <= _MAX_TOKEN_CHARS
        and token.isascii()
        and token.isprintable()
    )
    if not valid_token:
        raise QueryError(_CURSOR_HELP)
    return token, body
