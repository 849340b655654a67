"""The Durable extension's HTTP API (HttpApiHandler) served by ``DurableTestHost``.

Status codes and bodies follow HttpApiHandler.cs and what ``DurableOrchestrationClient`` parses.
Payload encoding follows the Python client: it posts ``json=df_dumps(value)``, so a start or event
body is a JSON *string* holding JSON; the extension keeps that string, which is why
``raise_event`` data reaches the orchestrator as a string (azure-functions-durable-python#295).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)

from .durable_history import parse_time, status_history, utc_now

if TYPE_CHECKING:
    from .durable_host import DurableTestHost, InstanceView

HOST_KEY: web.AppKey[DurableTestHost] = web.AppKey("host")


def create_api(host: DurableTestHost) -> web.Application:
    """Build the aiohttp app; routes are relative to ``host.base_url``."""
    app = web.Application()
    app[HOST_KEY] = host
    base = "/runtime/webhooks/durabletask"
    app.router.add_post(f"{base}/orchestrators/{{name}}", _start)
    app.router.add_post(f"{base}/orchestrators/{{name}}/{{instance_id}}", _start)
    app.router.add_get(f"{base}/instances/", _list)
    app.router.add_delete(f"{base}/instances/", _purge_by)
    app.router.add_get(f"{base}/instances/{{instance_id}}", _status)
    app.router.add_delete(f"{base}/instances/{{instance_id}}", _purge)
    app.router.add_post(f"{base}/instances/{{instance_id}}/terminate", _terminate)
    app.router.add_post(f"{base}/instances/{{instance_id}}/raiseEvent/{{event}}", _raise_event)
    app.router.add_get(f"{base}/entities/{{name}}/{{key}}", _read_entity)
    app.router.add_post(f"{base}/entities/{{name}}/{{key}}", _signal_entity)
    return app


def _error(status: int, message: str, exc: Exception) -> web.Response:
    """An ASP.NET ``CreateErrorResponse`` body; the client reads ``ExceptionMessage`` on 400."""
    body = {"Message": message, "ExceptionMessage": str(exc), "ExceptionType": type(exc).__name__}
    return web.json_response(body, status=status)


async def _body(request: web.Request) -> Any:
    text = await request.text()
    return json.loads(text) if text else None


async def _start(request: web.Request) -> web.Response:
    from .durable_host import InstanceExistsError, UnknownFunctionError

    host = request.app[HOST_KEY]
    try:
        instance_id = host.start_wire(
            request.match_info["name"], request.match_info.get("instance_id"), await _body(request)
        )
    except UnknownFunctionError as exc:
        return _error(400, "One or more of the arguments submitted is incorrect", exc)
    except InstanceExistsError as exc:
        # HttpApiHandler has no case for DTFx's OrchestrationAlreadyExistsException: generic 500.
        return _error(500, "Something went wrong while processing your request", exc)
    links = json.loads(host.client_binding())["managementUrls"]
    payload = {key: url.replace("INSTANCEID", instance_id) for key, url in links.items()}
    return web.json_response(
        payload, status=202, headers={"Location": payload["statusQueryGetUri"]}
    )


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    return default if value is None else value.lower() == "true"


def _payload(view: InstanceView, request: web.Request) -> dict[str, Any]:
    """StatusResponsePayload, as the extension answers a status query.

    The history key is ``historyEvents``: the SDK's ``history`` parameter therefore stays None and
    the events land on the status object's ``historyEvents``.
    """
    show_input = _flag(request, "showInput", True)
    payload: dict[str, Any] = {
        "name": view.name,
        "instanceId": view.instance_id,
        "runtimeStatus": view.runtime_status.value,
        "input": view.wire_input if show_input else None,
        "customStatus": view.custom_status,
        "output": view.output,
        "createdTime": view.created_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastUpdatedTime": view.last_updated_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if _flag(request, "showHistory", False) and view.runtime_status is not Status.Pending:
        payload["historyEvents"] = status_history(
            view.history,
            show_input=show_input,
            show_output=_flag(request, "showHistoryOutput", False),
        )
    return payload


async def _status(request: web.Request) -> web.Response:
    view = request.app[HOST_KEY].instances.get(request.match_info["instance_id"])
    if view is None:
        return web.Response(status=404)  # empty body: the client yields a falsy status object
    running = view.runtime_status in (Status.Running, Status.Pending, Status.ContinuedAsNew)
    return web.json_response(_payload(view, request), status=202 if running else 200)


PAGE_SIZE = 100
"""``OrchestrationStatusQueryCondition.PageSize``: what one list request answers without ``top``."""
CONTINUATION_HEADER = "x-ms-continuation-token"
_PURGEABLE = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
_ENTITY_CREATED = datetime(1970, 1, 1, tzinfo=UTC)


def _store_rows(host: DurableTestHost) -> list[InstanceView]:
    """The instances table as the Azure Storage provider holds it, in its order.

    One row per instance keyed by instance id (the table's PartitionKey), so queries answer in
    instance-id order, never by time. Entities are rows too (``@name@key``); they continue as new
    after every batch, so they are always Running. The host does not track when an entity was
    created; it says 1970, so a time filter never hides an entity from a query or a purge.
    """
    from .durable_host import InstanceView

    rows = list(host.instances.values())
    for scheduler_id, entity in host.entities.items():
        if entity.exists:
            state = {"exists": True, "state": entity.state_json}
            rows.append(
                InstanceView(
                    scheduler_id,
                    entity.name,
                    json.dumps(state),
                    runtime_status=Status.Running,
                    created_time=_ENTITY_CREATED,
                    last_updated_time=_ENTITY_CREATED,
                )
            )
    return sorted(rows, key=lambda row: row.instance_id)


def _filter(request: web.Request, statuses: set[str]) -> Callable[[InstanceView], bool]:
    """createdTimeFrom/To, runtimeStatus and instanceIdPrefix, as the provider's OData filter."""
    query = request.query
    low = parse_time(query["createdTimeFrom"]) if "createdTimeFrom" in query else None
    high = parse_time(query["createdTimeTo"]) if "createdTimeTo" in query else None
    prefix = query.get("instanceIdPrefix", "")
    return lambda row: (
        (low is None or row.created_time >= low)
        and (high is None or row.created_time <= high)
        and (not statuses or row.runtime_status.value in statuses)
        and row.instance_id.startswith(prefix)
    )


def _statuses(request: web.Request) -> set[str]:
    return {s for s in request.query.get("runtimeStatus", "").split(",") if s}


async def _list(request: web.Request) -> web.Response:
    """One page of an instance query (HandleGetStatusRequestAsync, ListInstancesAsync).

    As the real API does: at most ``top`` rows (default 100) per request, in instance-id order;
    the next page's position comes back in the ``x-ms-continuation-token`` header (empty on the
    last page) and goes back in the same request header. A page may hold fewer rows than ``top``
    while more exist ("Always check the continuation token"): Table storage stops a filtered scan
    early. This host makes that the rule rather than the exception: a request examines at most
    ``top`` rows and answers those that match, so code that stops at a short page loses rows here.
    The Python SDK's ``get_status_by``/``get_status_all`` send no ``top`` and never read the
    header, so they see only the first page.
    """
    host = request.app[HOST_KEY]
    try:
        top = int(request.query.get("top", PAGE_SIZE))
    except ValueError:
        top = PAGE_SIZE
    top = top if top > 0 else PAGE_SIZE
    rows = _store_rows(host)
    token = request.headers.get(CONTINUATION_HEADER, "")
    if token:
        try:
            after = json.loads(base64.b64decode(token, validate=True))["nextPartitionKey"]
            if not isinstance(after, str):
                raise TypeError(after)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(500, "Something went wrong while processing your request", exc)
        rows = [row for row in rows if row.instance_id > after]
    examined, more = rows[:top], len(rows) > top
    matches = _filter(request, _statuses(request))
    answer = [_payload(row, request) for row in examined if matches(row)]
    next_token = ""
    if more:
        position = json.dumps({"nextPartitionKey": examined[-1].instance_id})
        next_token = base64.b64encode(position.encode()).decode()
    return web.json_response(answer, headers={CONTINUATION_HEADER: next_token})


def _purged(count: int) -> web.Response:
    if count == 0:
        return web.Response(status=404)
    return web.json_response({"instancesDeleted": count})


async def _purge(request: web.Request) -> web.Response:
    return _purged(request.app[HOST_KEY].purge([request.match_info["instance_id"]]))


async def _purge_by(request: web.Request) -> web.Response:
    """HandleDeleteHistoryWithFiltersRequestAsync and the tracking store's purge by filters.

    ``createdTimeTo`` defaults to now. The store keeps only terminal statuses of the filter and,
    if none is left (or none was given), applies no status filter at all; it never excludes
    entities. So a purge without a terminal status filter deletes running instances and entities.
    """
    if "createdTimeFrom" not in request.query:
        return web.json_response(
            "Please provide value for 'createdTimeFrom' parameter.", status=400
        )
    host = request.app[HOST_KEY]
    matches = _filter(request, _statuses(request) & _PURGEABLE)
    now = utc_now()
    doomed = [row for row in _store_rows(host) if matches(row) and row.created_time <= now]
    entities = {row.instance_id for row in doomed if row.instance_id in host.entities}
    for scheduler_id in entities:
        del host.entities[scheduler_id]
    deleted = host.purge([row.instance_id for row in doomed if row.instance_id not in entities])
    return _purged(len(entities) + deleted)


async def _terminate(request: web.Request) -> web.Response:
    from .durable_host import InstanceGoneError, InstanceNotFoundError

    try:
        request.app[HOST_KEY].terminate(
            request.match_info["instance_id"], request.query.get("reason")
        )
    except InstanceNotFoundError:
        return web.Response(status=404)
    except InstanceGoneError:
        return web.Response(status=410)
    return web.Response(status=202)


async def _raise_event(request: web.Request) -> web.Response:
    from .durable_host import InstanceGoneError, InstanceNotFoundError

    if request.content_type != "application/json":
        return web.json_response(
            {"Message": "Only application/json request content is supported"}, status=400
        )
    data = await _body(request)
    try:
        # The extension stores the posted JSON token as the event payload, re-serialized.
        request.app[HOST_KEY].raise_event_json(
            request.match_info["instance_id"], request.match_info["event"], json.dumps(data)
        )
    except InstanceNotFoundError:
        return web.Response(status=404)
    except InstanceGoneError:
        return web.Response(status=410)
    return web.Response(status=202)


async def _read_entity(request: web.Request) -> web.Response:
    name, key = request.match_info["name"].lower(), request.match_info["key"]
    entity = request.app[HOST_KEY].entities.get(f"@{name}@{key}")
    if entity is None or not entity.exists:
        return web.Response(status=404)
    return web.json_response(entity.state)


async def _signal_entity(request: web.Request) -> web.Response:
    request.app[HOST_KEY].signal_entity(
        request.match_info["name"],
        request.match_info["key"],
        request.query.get("op", ""),
        await _body(request),
    )
    return web.Response(status=202)
