"""A local Durable Functions host (tests, python -m devhost) driving the app's real code and SDK.

What it emulates (from the azure-functions-durable 1.7 SDK and the Durable extension sources):

* Indexing: ``app.get_functions()`` as the Python worker does; functions are classified by their
  trigger binding (orchestration, activity, entity, HTTP).
* The out-of-proc orchestration protocol: every episode calls the orchestrator's indexed function
  with the context JSON the extension builds (full history, ``IsPlayed`` on past events, a new
  OrchestratorStarted stamped with the current UTC time) and reads back the state JSON (``isDone``,
  ``actions``, ``output``, ``customStatus``, ``error`` or the ``$OutOfProcData$`` failure payload).
* Actions: activities (with retry: TaskFailed, then a timer, then the next attempt, exactly the
  history the SDK's ``RetryAbleTask`` consumes), timers on the real clock, external events (kept in
  history even when nobody waits yet; the SDK buffers them), WhenAny/WhenAll (V2/V3 compound
  actions), ContinueAsNew, custom status, entity calls and signals (``EventSent`` + a response
  ``EventRaised``), completion and failure.
* Activities: input decoded and output encoded by the worker's ``ActivityTriggerConverter``;
  ``async def`` activities run on the host's loop, sync ones in a thread like the worker does.
  A raising activity becomes TaskFailed with the extension's ``Reason`` text.
* Injected activity crashes (``fail_activity``): at the activity boundary, an invocation fails
  with :class:`ActivityCrash` before the activity runs, after it ran (its effects happened, its
  result is lost), or while it runs (cancelled when a trigger the test gives completes). Nothing in
  the app is patched; Durable's retries and the orchestrator's failure path see a real TaskFailed.
* Lost workers (``lose_worker``), as the real host handles them, which is not a TaskFailed: the
  invocation is cancelled where it stands, nothing reaches the orchestration, the retry budget is
  untouched, and the same work item (same task id) runs again later. A host that shuts down
  abandons it (the extension's ``OutOfProcMiddleware.CallActivityAsync`` throws
  ``SessionAbortedException`` "to abort the current execution and force a durable retry", in
  Azure/azure-functions-durable-extension), so it is picked up again at once; a worker that
  vanished leaves its queue message invisible until the work-item queue's visibility timeout
  passes (``WorkItemQueueVisibilityTimeout``, 5 minutes by default on Azure Storage:
  ``AzureStorageOptions.WorkItemQueueVisibilityTimeout``), scaled down here by
  ``visibility_timeout``.
* Activities get a ``durable_client_input`` binding like HTTP functions do.
* The Durable HTTP API (see ``durable_api``) on 127.0.0.1, so the SDK's real
  ``DurableOrchestrationClient`` works unchanged against ``client_binding()``.
* Replay determinism: actions already acted on must be emitted again, identically, on every
  replay; otherwise the instance fails (as DTFx does) and the problem is reported loudly.

What it does not emulate: storage, queues (beyond a lost work item's return), partitions, leases,
scale-out, message duplication or reordering, sub-orchestrations, durable HTTP (``call_http``),
rewind/restart (suspend and resume are methods of the host only, not routes of its HTTP API),
entity locking and entity-to-entity signals. Each new event gets its own episode (the real host may
batch several); episodes of one instance never overlap, instances run concurrently on one loop.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import traceback
import uuid
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import azure.functions as func
from aiohttp import web
from azure.durable_functions.models.actions.ActionType import ActionType
from azure.durable_functions.models.history import HistoryEventType
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)
from azure.durable_functions.models.utils import http_utils
from azure.functions import meta
from azure.functions._durable_functions import df_dumps, df_loads
from azure.functions.decorators.function_app import Function
from azure.functions.durable_functions import (
    ActivityTriggerConverter,
    EnitityTriggerConverter,
    OrchestrationTriggerConverter,
)

from .durable_history import (
    Event,
    activity_failure,
    event,
    execution_started,
    format_time,
    parse_time,
    utc_now,
)
from .loopback import serve_on_loopback

logger = logging.getLogger(__name__)

TERMINAL = frozenset({Status.Completed, Status.Failed, Status.Terminated})
"""States in which an instance takes no more events (and ``start_new`` may replace it)."""

_OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
_H = HistoryEventType
_INDEX: weakref.WeakKeyDictionary[func.FunctionRegister, list[Function]] = (
    weakref.WeakKeyDictionary()
)


def host_json_default_version() -> str:
    """The project's host.json ``extensions.durableTask.defaultVersion`` (empty if unset)."""
    host_json = json.loads((Path(__file__).parents[1] / "host.json").read_text(encoding="utf-8"))
    return str(host_json["extensions"]["durableTask"].get("defaultVersion", ""))


def indexed_functions(app: func.FunctionRegister) -> list[Function]:
    """Index ``app`` once per process: ``get_functions()`` refuses a second call."""
    if app not in _INDEX:
        _INDEX[app] = app.get_functions()
    return _INDEX[app]


class InstanceNotFoundError(LookupError):
    """No instance with that id (the HTTP API answers 404)."""


class InstanceGoneError(RuntimeError):
    """The instance already completed, failed or was terminated (the HTTP API answers 410)."""


class InstanceExistsError(RuntimeError):
    """``start_new`` on a pending/running id with NonRunningStates dedupe (HTTP 500, like DTFx)."""


class UnknownFunctionError(ValueError):
    """The named function is not an orchestrator of this app (the HTTP API answers 400)."""


class UnsupportedActionError(RuntimeError):
    """The orchestrator used an action this host does not emulate."""


class ActivityCrash(RuntimeError):
    """What an injected crash (``DurableTestHost.fail_activity``) fails an activity with."""


class _WorkerLost(Exception):
    """The worker running an activity is gone: no result, no failure, the work item runs again."""


WORK_ITEM_VISIBILITY_TIMEOUT = 300.0
"""Azure Storage's default ``WorkItemQueueVisibilityTimeout``: when a lost work item reappears."""


CrashWhen = Literal["before", "after"] | Callable[[], Awaitable[object]]
"""``before`` the activity runs, ``after`` it ran, or while it runs once the awaitable completes."""


@dataclass
class ActivityFault:
    """Crashes armed by ``fail_activity``; ``crashed`` counts the invocations that failed."""

    name: str
    times: int | None
    """How many invocations to crash; ``None``: every one (the activity is broken)."""
    when: CrashWhen
    instance_id: str | None = None
    match: Callable[[Any], bool] | None = None
    crashed: int = 0

    def armed_for(self, name: str, instance_id: str, value: Any) -> bool:
        """Whether this invocation (``name``, ``instance_id``, input ``value``) is to crash."""
        return (
            name == self.name
            and (self.times is None or self.crashed < self.times)
            and self.instance_id in (None, instance_id)
            and (self.match is None or self.match(value))
        )

    def crash(self) -> ActivityCrash:
        """Count one crash and return the exception to fail the invocation with."""
        self.crashed += 1
        return ActivityCrash(f"injected crash #{self.crashed} of {self.name} ({self.when_text})")

    @property
    def when_text(self) -> str:
        """``before``, ``after`` or ``during``."""
        return self.when if isinstance(self.when, str) else "during"


@dataclass
class WorkerLoss:
    """Workers armed to be lost by ``lose_worker``, and when each lost work item ran again."""

    name: str
    when: Callable[[], Awaitable[object]]
    shutdown: bool
    """The host shut down (the work item is abandoned, back at once) or the worker vanished."""
    times: int = 1
    instance_id: str | None = None
    match: Callable[[Any], bool] | None = None
    lost_at: list[float] = field(default_factory=list)
    """Loop times (``loop.time()``) at which a worker running the activity was lost."""
    requeued_at: list[float] = field(default_factory=list)
    """Loop times at which a lost work item was picked up again."""

    def armed_for(self, name: str, instance_id: str, value: Any) -> bool:
        """Whether this invocation runs on a worker that is to be lost."""
        return (
            name == self.name
            and len(self.lost_at) < self.times
            and self.instance_id in (None, instance_id)
            and (self.match is None or self.match(value))
        )


@dataclass
class InstanceView:
    """An orchestration instance as the test sees it; updated live by the host."""

    instance_id: str
    name: str
    wire_input: Any
    """The input exactly as the extension passes it to the orchestrator (JSON text from SDKs)."""
    runtime_status: Status = Status.Pending
    created_time: datetime = field(default_factory=utc_now)
    last_updated_time: datetime = field(default_factory=utc_now)
    output: Any = None
    custom_status: Any = None
    history: list[Event] = field(default_factory=list)

    @property
    def input(self) -> Any:
        """The input decoded the way ``context.get_input()`` decodes it."""
        return df_loads(self.wire_input) if isinstance(self.wire_input, str) else self.wire_input


@dataclass
class EntityView:
    """A durable entity's stored state."""

    name: str
    key: str
    exists: bool = False
    state_json: str | None = None

    @property
    def state(self) -> Any:
        """The state as ``read_entity_state`` returns it (decoded JSON)."""
        return None if self.state_json is None else json.loads(self.state_json)


@dataclass
class _Retry:
    name: str
    input_json: str
    interval: timedelta
    max_attempts: int
    attempts: int = 1


@dataclass(eq=False)
class _Runtime:
    """Engine state of one instance; replaced wholesale when an id is started again."""

    view: InstanceView
    handler: Callable[[Any], str]
    execution_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    inbox: asyncio.Queue[tuple[str | None, Event]] = field(default_factory=asyncio.Queue)
    recorded: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 0
    fresh: bool = True
    retries: dict[int, _Retry] = field(default_factory=dict)
    timers: set[asyncio.Task[None]] = field(default_factory=set)
    activities: set[asyncio.Task[None]] = field(default_factory=set)
    runner: asyncio.Task[None] | None = None
    resumed: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))
    """Cleared while the instance is suspended: its episodes wait, its messages are kept."""

    def allocate_id(self) -> int:
        """Hand out task ids in the order the SDK's sequence numbers do."""
        self.next_id += 1
        return self.next_id - 1


def _set(flag: asyncio.Event) -> asyncio.Event:
    flag.set()
    return flag


async def _call_activity(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Call an activity as the worker does: ``async def`` on the loop, others in a thread."""
    if inspect.iscoroutinefunction(function):
        return await function(**kwargs)
    return await asyncio.to_thread(function, **kwargs)


def _normalized(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop ``isCanceled``: cancelling a timer later legitimately changes a replayed action."""
    return [
        {
            k: _normalized(v) if k == "compoundActions" else v
            for k, v in action.items()
            if k != "isCanceled"
        }
        for action in actions
    ]


class DurableTestHost:
    """Runs a ``df.DFApp`` in-process: orchestrators, activities, entities and the client API.

    Use as ``async with DurableTestHost(app) as host:``. Problems the real host would surface as
    failed instances but which are bugs in a test context (non-determinism, unknown activities,
    unsupported actions, host errors) are collected in ``problems`` and raised on exit unless
    ``raise_on_problems=False``.
    """

    def __init__(
        self,
        app: func.FunctionRegister | Sequence[Function],
        *,
        task_hub: str = "TestHubName",
        overridable_existing_instance_states: Literal[
            "NonRunningStates", "AnyState"
        ] = "NonRunningStates",
        raise_on_problems: bool = True,
        default_version: str | None = None,
    ) -> None:
        """Index the app's functions; nothing runs until the host is entered.

        ``default_version`` is stamped on new orchestrations (``context.version``); by default
        the project's host.json ``durableTask.defaultVersion``, as the extension does.
        """
        functions = indexed_functions(app) if isinstance(app, func.FunctionRegister) else app
        self.task_hub = task_hub
        self.dedupe_running = overridable_existing_instance_states == "NonRunningStates"
        self.raise_on_problems = raise_on_problems
        self.default_version = (
            host_json_default_version() if default_version is None else default_version
        )
        self.instances: dict[str, InstanceView] = {}
        self.starts: dict[str, int] = {}
        """How many times each instance id was started (a restart replaces its view)."""
        self.entities: dict[str, EntityView] = {}
        self.problems: list[str] = []
        self._orchestrators: dict[str, Callable[[Any], str]] = {}
        self._activities: dict[str, tuple[Callable[..., Any], str]] = {}
        self._entity_handlers: dict[str, Callable[[Any], str]] = {}
        self._activity_clients: dict[str, list[str]] = {}
        """Activity name → its ``durableClient`` parameters (bound like an HTTP function's)."""
        self.visibility_timeout = WORK_ITEM_VISIBILITY_TIMEOUT
        """How long a lost worker's work item stays invisible (tests scale it down)."""
        self._losses: list[WorkerLoss] = []
        self.functions: dict[str, Function] = {}
        """Every indexed function by name (read-only by convention)."""
        for function in functions:
            name = function.get_function_name()
            assert name is not None, f"unnamed function {function}"
            self.functions[name] = function
            bindings = json.loads(function.get_function_json())["bindings"]
            trigger = next(b for b in bindings if b["type"].endswith("Trigger"))
            if trigger["type"] == "orchestrationTrigger":
                self._orchestrators[name] = function.get_user_function()
            elif trigger["type"] == "activityTrigger":
                self._activities[name] = (function.get_user_function(), trigger["name"])
                self._activity_clients[name] = [
                    b["name"] for b in bindings if b["type"] == "durableClient"
                ]
            elif trigger["type"] == "entityTrigger":
                self._entity_handlers[name.lower()] = function.get_user_function()
        self._calls: dict[str, list[Any]] = {}
        self._faults: list[ActivityFault] = []
        self._runtimes: dict[str, _Runtime] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._web: web.AppRunner | None = None
        self._origin = ""

    # ----------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        """Serve the Durable HTTP API on an ephemeral loopback port."""
        from .durable_api import create_api

        self._web, self._origin = await serve_on_loopback(create_api(self))
        # The SDK keeps one module-global aiohttp session guarded by a module-global lock. Creating
        # it now, uncontended, binds both to this loop instead of racing concurrent clients.
        await http_utils._get_session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Cancel pending work, close the server and the SDK's session; report problems."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await http_utils._close_session()
        if self._web is not None:
            await self._web.cleanup()
        if self.problems and self.raise_on_problems and exc is None:
            raise AssertionError("Durable test host problems:\n" + "\n".join(self.problems))

    # ------------------------------------------------------------------------------ bindings

    @property
    def base_url(self) -> str:
        """Root of the Durable HTTP API (webhook and RPC base are the same here)."""
        return f"{self._origin}/runtime/webhooks/durabletask/"

    def client_binding(self) -> str:
        """The JSON string the extension hands to a ``durable_client_input`` parameter."""
        base = self.base_url.rstrip("/")
        query = f"taskHub={self.task_hub}&connection=Storage&code=test"
        instance = f"{base}/instances/INSTANCEID"
        return json.dumps(
            {
                "taskHubName": self.task_hub,
                "creationUrls": {
                    "createNewInstancePostUri": f"{base}/orchestrators/{{functionName}}"
                    "[/{instanceId}]?code=test",
                    "createAndWaitOnNewInstancePostUri": f"{base}/orchestrators/{{functionName}}"
                    "[/{instanceId}]?timeout={timeoutInSeconds}"
                    "&pollingInterval={intervalInSeconds}&code=test",
                },
                "managementUrls": {
                    "id": "INSTANCEID",
                    "statusQueryGetUri": f"{instance}?{query}",
                    "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
                    "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
                    "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
                    "purgeHistoryDeleteUri": f"{instance}?{query}",
                    "restartPostUri": f"{instance}/restart?{query}",
                    "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
                    "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
                },
                "baseUrl": base,
                "requiredQueryStringParameters": "code=test",
                "rpcBaseUrl": self.base_url,
                "httpBaseUrl": "",
            }
        )

    async def call_http(self, function_name: str, req: func.HttpRequest) -> func.HttpResponse:
        """Invoke an HTTP-triggered function the way the worker binds its parameters."""
        function = self.functions[function_name]
        kwargs: dict[str, Any] = {}
        for binding in json.loads(function.get_function_json())["bindings"]:
            if binding["type"] == "httpTrigger":
                kwargs[binding["name"]] = req
            elif binding["type"] == "durableClient":
                kwargs[binding["name"]] = self.client_binding()
        user_function = function.get_user_function()
        if inspect.iscoroutinefunction(user_function):
            response = await user_function(**kwargs)
        else:
            response = await asyncio.to_thread(user_function, **kwargs)
        assert isinstance(response, func.HttpResponse), f"{function_name} returned {response!r}"
        return response

    # ---------------------------------------------------------------------- fault injection

    def fail_activity(
        self,
        name: str,
        *,
        times: int | None = 1,
        when: CrashWhen = "before",
        instance_id: str | None = None,
        match: Callable[[Any], bool] | None = None,
    ) -> ActivityFault:
        """Make invocations of activity ``name`` fail with :class:`ActivityCrash`.

        ``times`` invocations crash (``None``: all of them), only for ``instance_id`` and inputs
        ``match`` accepts when given. ``when="before"``: the activity does not run;
        ``"after"``: it runs to the end and its result is thrown away; an awaitable factory: the
        activity runs, and if the awaitable completes first the activity is cancelled and fails
        (if the activity finishes first, that invocation is not crashed). Returns the armed fault.
        """
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        if name not in self._activities:
            raise ValueError(f"{name!r} is not an activity of this app: {sorted(self._activities)}")
        fault = ActivityFault(name, times, when, instance_id, match)
        self._faults.append(fault)
        return fault

    def _armed_fault(self, name: str, instance_id: str, value: Any) -> ActivityFault | None:
        return next((f for f in self._faults if f.armed_for(name, instance_id, value)), None)

    async def _invoke_activity(
        self, function: Callable[..., Any], kwargs: dict[str, Any], fault: ActivityFault | None
    ) -> Any:
        """Run the activity like the worker, with the injected crash ``fault`` if any."""

        async def run() -> Any:
            return await _call_activity(function, kwargs)

        if fault is None:
            return await run()
        if fault.when == "before":
            raise fault.crash()
        if fault.when == "after":
            await run()
            raise fault.crash()
        activity = asyncio.ensure_future(run())
        trigger = asyncio.ensure_future(fault.when())
        try:
            await asyncio.wait({activity, trigger}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            trigger.cancel()
            if not activity.done():
                activity.cancel()
        if activity.cancelled() or not activity.done():
            await asyncio.gather(activity, return_exceptions=True)
            raise fault.crash()
        return activity.result()

    # ------------------------------------------------------------------------- lost workers

    def lose_worker(
        self,
        name: str,
        *,
        when: Callable[[], Awaitable[object]],
        shutdown: bool = False,
        times: int = 1,
        instance_id: str | None = None,
        match: Callable[[Any], bool] | None = None,
    ) -> WorkerLoss:
        """Lose the worker running activity ``name`` once the awaitable ``when()`` completes.

        The invocation is cancelled where it stands and reports nothing: no TaskFailed, no retry
        spent. Its work item runs again (same task id) at once if the host shut down
        (``shutdown=True``, an abandoned work item), else once ``visibility_timeout`` has passed.
        ``times`` invocations are lost, only for ``instance_id`` and inputs ``match`` accepts.
        """
        if name not in self._activities:
            raise ValueError(f"{name!r} is not an activity of this app: {sorted(self._activities)}")
        loss = WorkerLoss(name, when, shutdown, times, instance_id, match)
        self._losses.append(loss)
        return loss

    def _armed_loss(self, name: str, instance_id: str, value: Any) -> WorkerLoss | None:
        return next((w for w in self._losses if w.armed_for(name, instance_id, value)), None)

    async def _run_on_a_lost_worker(
        self, function: Callable[..., Any], kwargs: dict[str, Any], loss: WorkerLoss
    ) -> Any:
        """Run the activity until ``loss.when()`` completes; then its worker is gone."""
        activity = asyncio.ensure_future(_call_activity(function, kwargs))
        trigger = asyncio.ensure_future(loss.when())
        try:
            await asyncio.wait({activity, trigger}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            trigger.cancel()
        if activity.done():
            return activity.result()
        activity.cancel()
        await asyncio.gather(activity, return_exceptions=True)
        loss.lost_at.append(asyncio.get_running_loop().time())
        self._notify()
        logger.info("the worker running %s was lost (shutdown=%s)", loss.name, loss.shutdown)
        raise _WorkerLost

    async def _requeue_lost(self, loss: WorkerLoss) -> None:
        """Wait until the lost work item is picked up again: at once if abandoned."""
        await asyncio.sleep(0.0 if loss.shutdown else self.visibility_timeout)
        loss.requeued_at.append(asyncio.get_running_loop().time())
        self._notify()

    # ------------------------------------------------------------------------ observation

    def activity_calls(self, name: str) -> list[Any]:
        """Inputs of every invocation of activity ``name`` so far (retries included)."""
        return list(self._calls.get(name, []))

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every host state change."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"{what} not reached within {timeout}s") from None

    async def wait_for_completion(self, instance_id: str, timeout: float = 10.0) -> InstanceView:
        """Wait until the instance is Completed, Failed or Terminated and return it."""

        def finished() -> bool:
            view = self.instances.get(instance_id)
            return view is not None and view.runtime_status in TERMINAL

        try:
            await self.wait_until(finished, timeout)
        except TimeoutError:
            view = self.instances.get(instance_id)
            state = "unknown" if view is None else view.runtime_status.value
            tail = [] if view is None else view.history[-6:]
            raise TimeoutError(
                f"instance {instance_id!r} still {state} after {timeout}s; last events: {tail}"
            ) from None
        return self.instances[instance_id]

    def busy(self) -> list[str]:
        """What is still going on: instances not yet terminal, and activities still running."""
        found = []
        for instance_id, runtime in self._runtimes.items():
            status = runtime.view.runtime_status
            if status not in TERMINAL:
                found.append(f"{instance_id}: {status.value}")
            if runtime.activities:
                found.append(f"{instance_id}: {len(runtime.activities)} activities running")
        return found

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ client operations

    def start(self, orchestrator: str, input_: Any = None, instance_id: str | None = None) -> str:
        """Start an orchestration as the Python client would (input encoded with df_dumps)."""
        wire = None if input_ is None else df_dumps(input_)
        return self.start_wire(orchestrator, instance_id, wire)

    def start_wire(self, orchestrator: str, instance_id: str | None, wire_input: Any) -> str:
        """Start from the decoded request body of ``POST orchestrators/{name}[/{id}]``."""
        if orchestrator not in self._orchestrators:
            raise UnknownFunctionError(
                f"The function '{orchestrator}' doesn't exist, is disabled, or is not an "
                f"orchestrator function. Known orchestrators: {sorted(self._orchestrators)}"
            )
        instance_id = instance_id or uuid.uuid4().hex
        if instance_id.startswith("@") or any(c in instance_id for c in "/\\?#"):
            raise UnknownFunctionError(
                "Orchestration instance ids must not start with @ or contain /, \\, #, ?"
            )
        existing = self._runtimes.get(instance_id)
        if existing is not None:
            status = existing.view.runtime_status
            if self.dedupe_running and status not in TERMINAL:
                raise InstanceExistsError(
                    f"An Orchestration instance with the status {status.value} already exists."
                )
            self._discard(existing)
        view = InstanceView(instance_id, orchestrator, wire_input)
        self.starts[instance_id] = self.starts.get(instance_id, 0) + 1
        runtime = _Runtime(view, self._orchestrators[orchestrator])
        self._begin_execution(runtime, wire_input)
        self.instances[instance_id] = view
        self._runtimes[instance_id] = runtime
        runtime.runner = self._spawn(self._run(runtime))
        self._notify()
        logger.info("started %s as instance %s", orchestrator, instance_id)
        return instance_id

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """Raise an event as ``DurableOrchestrationClient.raise_event`` would (double-encoded)."""
        self.raise_event_json(instance_id, name, json.dumps(json.dumps(data)))

    def raise_event_json(self, instance_id: str, name: str, input_json: str) -> None:
        """Queue an EventRaised whose ``Input`` is ``input_json`` (what the SDK decodes)."""
        runtime = self._live(instance_id)
        runtime.inbox.put_nowait((None, event(_H.EVENT_RAISED, Name=name, Input=input_json)))

    def terminate(self, instance_id: str, reason: str | None) -> None:
        """Queue a termination; it is applied between episodes, as DTFx does."""
        runtime = self._live(instance_id)
        runtime.inbox.put_nowait((None, event(_H.EXECUTION_TERMINATED, Input=reason)))

    def suspend(self, instance_id: str) -> None:
        """Suspend an instance as the client API does: events are kept, no episode runs."""
        runtime = self._live(instance_id)
        runtime.resumed.clear()
        runtime.view.runtime_status = Status.Suspended
        self._notify()

    def resume(self, instance_id: str) -> None:
        """Resume a suspended instance: the events kept meanwhile are processed in order."""
        runtime = self._live(instance_id)
        runtime.view.runtime_status = Status.Running
        runtime.resumed.set()
        self._notify()

    def purge(self, instance_ids: Sequence[str]) -> int:
        """Forget instances (and cancel their work); returns how many existed."""
        deleted = 0
        for instance_id in instance_ids:
            runtime = self._runtimes.pop(instance_id, None)
            if runtime is not None:
                self._discard(runtime)
                del self.instances[instance_id]
                deleted += 1
        self._notify()
        return deleted

    def signal_entity(self, name: str, key: str, operation: str, wire_input: Any) -> None:
        """Run one entity operation now; its result is dropped (a signal has no reply)."""
        self._run_entity(f"@{name.lower()}@{key}", operation, wire_input)
        self._notify()

    def _live(self, instance_id: str) -> _Runtime:
        runtime = self._runtimes.get(instance_id)
        if runtime is None:
            raise InstanceNotFoundError(instance_id)
        if runtime.view.runtime_status in TERMINAL:
            raise InstanceGoneError(instance_id)
        return runtime

    # --------------------------------------------------------------------------- episodes

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _discard(self, runtime: _Runtime) -> None:
        for task in (runtime.runner, *runtime.timers, *runtime.activities):
            if task is not None:
                task.cancel()

    def _begin_execution(self, runtime: _Runtime, wire_input: Any) -> None:
        view = runtime.view
        view.wire_input = wire_input
        view.history = [
            event(_H.ORCHESTRATOR_STARTED),
            execution_started(
                view.name, wire_input, view.instance_id, runtime.execution_id, self.default_version
            ),
        ]
        runtime.fresh = True

    async def _run(self, runtime: _Runtime) -> None:
        """Serialize one instance's episodes: one new event per episode, in arrival order."""
        view = runtime.view
        try:
            while view.runtime_status not in TERMINAL:
                message: Event | None = None
                if not runtime.fresh:
                    execution_id, message = await runtime.inbox.get()
                    await runtime.resumed.wait()
                    if execution_id not in (None, runtime.execution_id):
                        continue  # a completion for an execution that continued as new
                self._episode(runtime, message)
                view.last_updated_time = utc_now()
                self._notify()
        except Exception as exc:
            logger.exception("host error while running instance %s", view.instance_id)
            self.problems.append(f"{view.instance_id}: host error {exc!r}")
            self._finish(runtime, Status.Failed, f"test host error: {exc!r}")
            self._notify()

    def _episode(self, runtime: _Runtime, message: Event | None) -> None:
        view = runtime.view
        past = 0 if runtime.fresh else len(view.history)
        runtime.fresh = False
        if message is not None:
            view.history += [event(_H.ORCHESTRATOR_STARTED), message]
            if message["EventType"] == _H.EXECUTION_TERMINATED:
                self._finish(runtime, Status.Terminated, message["Input"])
                return
        view.runtime_status = Status.Running
        state, error = self._invoke(runtime, past)
        if state.get("customStatus") is not None:
            view.custom_status = state["customStatus"]
        actions = [action for group in state.get("actions", []) for action in group]
        if error is not None:
            logger.info("orchestrator %s failed: %s", view.instance_id, error)
            self._finish(
                runtime, Status.Failed, f"Orchestrator function '{view.name}' failed: {error}"
            )
            return
        old, new = _normalized(runtime.recorded), _normalized(actions[: len(runtime.recorded)])
        if old != new:
            detail = next((f"{o} became {n}" for o, n in zip(old, new, strict=False) if o != n), "")
            problem = (
                f"Non-Deterministic workflow detected in {view.instance_id} ({view.name}): "
                f"replay emitted {len(new)} of {len(old)} recorded actions; {detail}"
            )
            self.problems.append(problem)
            logger.error("%s", problem)
            self._finish(runtime, Status.Failed, problem)
            return
        if message is not None:
            self._advance_retry(runtime, message)
        continue_input: list[Any] = []
        try:
            for action in actions[len(runtime.recorded) :]:
                self._schedule(runtime, action, continue_input)
        except UnsupportedActionError as exc:
            self.problems.append(f"{view.instance_id}: {exc}")
            self._finish(runtime, Status.Failed, str(exc))
            return
        runtime.recorded = actions
        if continue_input:
            self._continue_as_new(runtime, continue_input[-1])
        elif state.get("isDone"):
            self._finish(runtime, Status.Completed, state.get("output"))
        else:
            view.history.append(event(_H.ORCHESTRATOR_COMPLETED))

    def _invoke(self, runtime: _Runtime, past: int) -> tuple[dict[str, Any], str | None]:
        """Call the orchestrator with the context JSON the extension builds for out-of-proc."""
        view = runtime.view
        context = {
            "history": [{**e, "IsPlayed": i < past} for i, e in enumerate(view.history)],
            "input": view.wire_input,
            "instanceId": view.instance_id,
            "isReplaying": past > 0,
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00",
            "maximumShortTimerDuration": "6.00:00:00",
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        }
        datum = meta.Datum(type="json", value=json.dumps(context))
        trigger = OrchestrationTriggerConverter.decode(datum, trigger_metadata=None)
        try:
            return json.loads(runtime.handler(trigger)), None
        except Exception as exc:
            text = str(exc)
            head, found, payload = text.partition(_OUT_OF_PROC_LABEL)
            if not found:
                return {}, text
            state: dict[str, Any] = json.loads(payload)
            return state, state.get("error") or head

    def _finish(self, runtime: _Runtime, status: Status, output: Any) -> None:
        view = runtime.view
        view.history.append(
            event(
                _H.EXECUTION_COMPLETED, OrchestrationStatus=status.value, Result=json.dumps(output)
            )
        )
        view.history.append(event(_H.ORCHESTRATOR_COMPLETED))
        view.runtime_status, view.output = status, output
        view.last_updated_time = utc_now()
        for timer in runtime.timers:
            timer.cancel()

    def _continue_as_new(self, runtime: _Runtime, wire_input: Any) -> None:
        """Start a fresh execution; raised events still queued carry over, completions do not."""
        for timer in runtime.timers:
            timer.cancel()
        runtime.execution_id = uuid.uuid4().hex
        runtime.recorded, runtime.next_id, runtime.retries = [], 0, {}
        self._begin_execution(runtime, wire_input)
        logger.info("instance %s continued as new", runtime.view.instance_id)

    # ---------------------------------------------------------------------------- actions

    def _schedule(
        self, runtime: _Runtime, action: dict[str, Any], continue_input: list[Any]
    ) -> None:
        kind = action["actionType"]
        if kind in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            for child in action["compoundActions"]:
                self._schedule(runtime, child, continue_input)
            return
        if kind == ActionType.WAIT_FOR_EXTERNAL_EVENT:
            return  # events land in history whenever raised; the SDK matches them by name
        task_id = runtime.allocate_id()
        if kind == ActionType.CALL_ACTIVITY:
            self._start_activity(runtime, task_id, action["functionName"], action["input"])
        elif kind == ActionType.CALL_ACTIVITY_WITH_RETRY:
            options = action["retryOptions"]
            runtime.retries[task_id] = _Retry(
                action["functionName"],
                action["input"],
                timedelta(milliseconds=options["firstRetryIntervalInMilliseconds"]),
                options["maxNumberOfAttempts"],
            )
            self._start_activity(runtime, task_id, action["functionName"], action["input"])
        elif kind == ActionType.CREATE_TIMER:
            self._start_timer(runtime, task_id, action["fireAt"])
        elif kind == ActionType.CONTINUE_AS_NEW:
            continue_input.append(action.get("input"))
        elif kind in (ActionType.CALL_ENTITY, ActionType.SIGNAL_ENTITY):
            self._send_to_entity(runtime, task_id, action, kind == ActionType.CALL_ENTITY)
        else:
            raise UnsupportedActionError(
                f"action type {ActionType(kind).name} is not emulated by the test host"
            )

    def _advance_retry(self, runtime: _Runtime, message: Event) -> None:
        """After a failed attempt: a retry timer; after that timer: the next attempt, if any."""
        kind = message["EventType"]
        if kind in (_H.TASK_COMPLETED, _H.TASK_FAILED):
            retry = runtime.retries.pop(message["TaskScheduledId"], None)
            if retry is not None and kind == _H.TASK_FAILED:
                timer_id = runtime.allocate_id()
                runtime.retries[timer_id] = retry
                self._start_timer(runtime, timer_id, format_time(utc_now() + retry.interval))
        elif kind == _H.TIMER_FIRED:
            retry = runtime.retries.pop(message["TimerId"], None)
            if retry is not None and retry.attempts < retry.max_attempts:
                attempt_id = runtime.allocate_id()
                retry.attempts += 1
                runtime.retries[attempt_id] = retry
                self._start_activity(runtime, attempt_id, retry.name, retry.input_json)

    def _deliver(self, instance_id: str, execution_id: str, message: Event) -> None:
        runtime = self._runtimes.get(instance_id)
        if runtime is None or runtime.execution_id != execution_id:
            logger.debug("dropping %s for gone execution of %s", message, instance_id)
            return
        runtime.inbox.put_nowait((execution_id, message))

    def _start_timer(self, runtime: _Runtime, timer_id: int, fire_at: str) -> None:
        runtime.view.history.append(event(_H.TIMER_CREATED, timer_id, FireAt=fire_at))
        task = self._spawn(
            self._fire_timer(runtime.view.instance_id, runtime.execution_id, timer_id, fire_at)
        )
        runtime.timers.add(task)
        task.add_done_callback(runtime.timers.discard)

    async def _fire_timer(
        self, instance_id: str, execution_id: str, timer_id: int, fire_at: str
    ) -> None:
        delay = (parse_time(fire_at) - utc_now()).total_seconds()
        await asyncio.sleep(max(delay, 0.0))
        self._deliver(
            instance_id, execution_id, event(_H.TIMER_FIRED, TimerId=timer_id, FireAt=fire_at)
        )

    def _start_activity(self, runtime: _Runtime, task_id: int, name: str, input_json: str) -> None:
        runtime.view.history.append(
            event(_H.TASK_SCHEDULED, task_id, Name=name, Version="", Input=input_json)
        )
        task = self._spawn(
            self._run_activity(
                runtime.view.instance_id, runtime.execution_id, task_id, name, input_json
            )
        )
        runtime.activities.add(task)
        task.add_done_callback(runtime.activities.discard)

    async def _run_activity(
        self, instance_id: str, execution_id: str, task_id: int, name: str, input_json: str
    ) -> None:
        """Invoke an activity like the worker: converter-decoded input, converter-encoded output."""
        if name not in self._activities:
            self.problems.append(f"{instance_id}: activity {name!r} is not registered")
            known = ", ".join(sorted(self._activities))
            failure = LookupError(f"The function '{name}' doesn't exist; known activities: {known}")
            reason, details = activity_failure(name, failure, "")
            self._deliver(
                instance_id,
                execution_id,
                event(_H.TASK_FAILED, TaskScheduledId=task_id, Reason=reason, Details=details),
            )
            return
        function, parameter = self._activities[name]
        value = ActivityTriggerConverter.decode(
            meta.Datum(type="json", value=input_json), trigger_metadata=None
        )
        self._calls.setdefault(name, []).append(value)
        self._notify()
        fault = self._armed_fault(name, instance_id, value)
        loss = self._armed_loss(name, instance_id, value)
        kwargs = {parameter: value}
        for client in self._activity_clients[name]:
            kwargs[client] = self.client_binding()
        try:
            if loss is not None:
                result = await self._run_on_a_lost_worker(function, kwargs, loss)
            else:
                result = await self._invoke_activity(function, kwargs, fault)
            encoded = ActivityTriggerConverter.encode(result, expected_type=None).value
            outcome = event(_H.TASK_COMPLETED, TaskScheduledId=task_id, Result=encoded)
        except _WorkerLost:
            assert loss is not None
            await self._requeue_lost(loss)
            await self._run_activity(instance_id, execution_id, task_id, name, input_json)
            return
        except Exception as exc:
            logger.info("activity %s of %s failed: %r", name, instance_id, exc)
            reason, details = activity_failure(name, exc, traceback.format_exc())
            outcome = event(_H.TASK_FAILED, TaskScheduledId=task_id, Reason=reason, Details=details)
        self._deliver(instance_id, execution_id, outcome)

    # --------------------------------------------------------------------------- entities

    def _send_to_entity(
        self, runtime: _Runtime, task_id: int, action: dict[str, Any], wants_reply: bool
    ) -> None:
        """Record EventSent (the SDK re-keys a call by the request id in it) and run the op."""
        request_id = str(uuid.uuid4())
        target, operation, wire_input = action["instanceId"], action["operation"], action["input"]
        request = {
            "id": request_id,
            "op": operation,
            "signal": not wants_reply,
            "input": wire_input,
        }
        runtime.view.history.append(
            event(_H.EVENT_SENT, task_id, InstanceId=target, Name="op", Input=json.dumps(request))
        )
        result = self._run_entity(target, operation, wire_input)
        if wants_reply:
            response: dict[str, Any] = {"result": result["result"]}
            if result["isError"]:
                response["exceptionType"] = "Exception"
            reply = event(_H.EVENT_RAISED, Name=request_id, Input=json.dumps(response))
            runtime.inbox.put_nowait((runtime.execution_id, reply))

    def _run_entity(self, scheduler_id: str, operation: str, wire_input: Any) -> dict[str, Any]:
        """Run a one-operation batch through the entity function's JSON protocol."""
        name, _, key = scheduler_id[1:].partition("@")
        handler = self._entity_handlers.get(name)
        if handler is None:
            self.problems.append(f"entity {name!r} is not registered")
            return {"isError": True, "result": json.dumps(f"entity {name!r} is not registered")}
        entity = self.entities.setdefault(scheduler_id, EntityView(name, key))
        batch = {
            "self": {"name": name, "key": key},
            "exists": entity.exists,
            "state": entity.state_json,
            "batch": [
                {"name": operation, "input": None if wire_input is None else json.dumps(wire_input)}
            ],
        }
        datum = meta.Datum(type="json", value=json.dumps(batch))
        outcome = json.loads(handler(EnitityTriggerConverter.decode(datum, trigger_metadata=None)))
        entity.exists = outcome["entityExists"]
        entity.state_json = outcome["entityState"] if entity.exists else None
        result: dict[str, Any] = outcome["results"][0]
        return result
