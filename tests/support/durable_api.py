"""The Durable extension's HTTP API (HttpApiHandler) served by ``DurableTestHost``.

Status codes and bodies follow HttpApiHandler.cs and what ``DurableOrchestrationClient`` parses.
Payload encoding follows the Python client: it posts ``json=df_dumps(value)``, so a start or event
body is a JSON *string* holding JSON; the extension keeps that string, which is why
``raise_event`` data reaches the orchestrator as a string (azure-functions-durable-python#295).
"""

from __future__ import annotations

import json
from datetime import datetime
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
    """StatusResponsePayload: note the history key is ``historyEvents`` (the SDK's ``history``
    parameter therefore stays None; the events land on the status object's ``historyEvents``)."""
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


def _matching(request: web.Request) -> list[InstanceView]:
    """Apply createdTimeFrom/To, runtimeStatus and instanceIdPrefix filters."""
    query = request.query
    low = parse_time(query["createdTimeFrom"]) if "createdTimeFrom" in query else datetime.min
    high = parse_time(query["createdTimeTo"]) if "createdTimeTo" in query else None
    statuses = {s for s in query.get("runtimeStatus", "").split(",") if s}
    prefix = query.get("instanceIdPrefix", "")
    return [
        view
        for view in request.app[HOST_KEY].instances.values()
        if (low == datetime.min or view.created_time >= low)
        and (high is None or view.created_time <= high)
        and (not statuses or view.runtime_status.value in statuses)
        and view.instance_id.startswith(prefix)
    ]


async def _list(request: web.Request) -> web.Response:
    return web.json_response([_payload(view, request) for view in _matching(request)])


def _purged(count: int) -> web.Response:
    if count == 0:
        return web.Response(status=404)
    return web.json_response({"instancesDeleted": count})


async def _purge(request: web.Request) -> web.Response:
    return _purged(request.app[HOST_KEY].purge([request.match_info["instance_id"]]))


async def _purge_by(request: web.Request) -> web.Response:
    if "createdTimeFrom" not in request.query:
        return web.json_response(
            "Please provide value for 'createdTimeFrom' parameter.", status=400
        )
    ids = [view.instance_id for view in _matching(request) if view.created_time <= utc_now()]
    return _purged(request.app[HOST_KEY].purge(ids))


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
