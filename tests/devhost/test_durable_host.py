"""Tests of the Durable test host against a toy app using the real SDK end to end."""

# The azure-functions-durable decorators are untyped; the toy app below is decorated with them.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import azure.durable_functions as df
import azure.functions as func
import pytest

from devhost.durable_host import (
    ActivityCrash,
    DurableTestHost,
    InstanceView,
    host_json_default_version,
)

Status = df.OrchestrationRuntimeStatus
Orchestration = Generator[Any, Any, Any]


def given(context: df.DurableOrchestrationContext) -> Any:
    """The orchestration input (the SDK types it Optional[Any])."""
    return context.get_input()


bp = df.Blueprint()
attempts: dict[str, int] = {}
gate: dict[str, asyncio.Event] = {}


@bp.route(route="calls/{call_id}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_call(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    call_id = req.route_params["call_id"]
    try:
        await client.start_new("sequence", call_id, req.get_json())
    except Exception as exc:
        return func.HttpResponse(f"already started: {exc}", status_code=409)
    return client.create_check_status_response(req, call_id)


@bp.activity_trigger(input_name="payload")
async def shout(payload: str) -> str:
    await asyncio.sleep(0)
    return payload.upper()


@bp.activity_trigger(input_name="numbers")
def total(numbers: list[int]) -> int:
    return sum(numbers)


@bp.activity_trigger(input_name="key")
async def flaky(key: str) -> str:
    """Fails until called ``int(key[-1])`` times."""
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < int(key[-1]):
        raise ConnectionError(f"attempt {attempts[key]} of {key} failed")
    return f"{key} ok after {attempts[key]}"


@bp.activity_trigger(input_name="name")
async def slow(name: str) -> str:
    await gate.setdefault(name, asyncio.Event()).wait()
    return f"{name} done"


@bp.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext) -> Orchestration:
    words = given(context)
    results = []
    for word in words:
        results.append((yield context.call_activity("shout", word)))
    return results


@bp.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Orchestration:
    parts = yield context.task_all([context.call_activity("shout", w) for w in given(context)])
    count = yield context.call_activity("total", [len(p) for p in parts])
    return {"parts": parts, "count": count}


@bp.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext) -> Orchestration:
    work = context.call_activity("slow", given(context))
    hangup = context.wait_for_external_event("hangup")
    winner = yield context.task_any([work, hangup])
    return "work" if winner == work else f"hangup:{winner.result}"


@bp.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext) -> Orchestration:
    context.set_custom_status("waiting")
    data = yield context.wait_for_external_event("go")
    context.set_custom_status({"got": data})
    return data


@bp.orchestration_trigger(context_name="context")
def late_waiter(context: df.DurableOrchestrationContext) -> Orchestration:
    yield context.call_activity("slow", given(context))
    return (yield context.wait_for_external_event("go"))


@bp.orchestration_trigger(context_name="context")
def guarded(context: df.DurableOrchestrationContext) -> Orchestration:
    try:
        yield context.call_activity("flaky", given(context))
    except Exception as exc:
        return f"caught: {exc}"
    return "no failure"


@bp.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext) -> Orchestration:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, given(context)))


@bp.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext) -> Orchestration:
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(milliseconds=given(context)))
    deadline: Any = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    event = context.wait_for_external_event("never")
    yield context.task_any([deadline, context.create_timer(started + timedelta(milliseconds=60))])
    deadline.cancel()
    del event
    return (context.current_utc_datetime - started).total_seconds()


@bp.orchestration_trigger(context_name="context")
def counter_loop(context: df.DurableOrchestrationContext) -> Orchestration:
    n = given(context)
    if n < 3:
        yield context.call_activity("shout", f"round {n}")
        context.continue_as_new(n + 1)
        return None
    return f"finished at {n}"


@bp.orchestration_trigger(context_name="context")
def broken(context: df.DurableOrchestrationContext) -> Orchestration:
    yield context.call_activity("shout", "before")
    raise ValueError("orchestrator bug")


fickle_runs: dict[str, int] = {}


@bp.orchestration_trigger(context_name="context")
def fickle(context: df.DurableOrchestrationContext) -> Orchestration:
    # Deliberately non-deterministic: the activity name differs on replay.
    fickle_runs[context.instance_id] = fickle_runs.get(context.instance_id, 0) + 1
    yield context.call_activity("shout" if fickle_runs[context.instance_id] == 1 else "total", "x")
    yield context.call_activity("shout", "y")
    return "unreachable"


@bp.entity_trigger(context_name="context")
def live_calls(context: df.DurableEntityContext) -> None:
    count = context.get_state(lambda: 0)
    if context.operation_name == "add":
        count += context.get_input()
    elif context.operation_name == "fail":
        raise RuntimeError("entity refused")
    context.set_state(count)
    context.set_result(count)


@bp.orchestration_trigger(context_name="context")
def entity_user(context: df.DurableOrchestrationContext) -> Orchestration:
    entity = df.EntityId("live_calls", "global")
    context.signal_entity(entity, "add", 5)
    seen = yield context.call_entity(entity, "add", 2)
    try:
        yield context.call_entity(entity, "fail")
    except Exception as exc:
        return {"seen": seen, "error": str(exc)}
    return {"seen": seen}


@bp.activity_trigger(input_name="key")
async def effect(key: str) -> str:
    """Counts its runs, so a test can tell a crash before the work from one after it."""
    attempts[key] = attempts.get(key, 0) + 1
    return f"{key} ran {attempts[key]}"


@bp.orchestration_trigger(context_name="context")
def retrying_effect(context: df.DurableOrchestrationContext) -> Orchestration:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("effect", options, given(context)))


@bp.orchestration_trigger(context_name="context")
def versioned(context: df.DurableOrchestrationContext) -> Orchestration:
    yield context.create_timer(context.current_utc_datetime)
    return context.version


@bp.orchestration_trigger(context_name="context")
def one_try_slow(context: df.DurableOrchestrationContext) -> Orchestration:
    """A slow activity allowed one attempt: a TaskFailed would fail the instance."""
    options = df.RetryOptions(first_retry_interval_in_milliseconds=20, max_number_of_attempts=1)
    return (yield context.call_activity_with_retry("slow", options, given(context)))


@bp.activity_trigger(input_name="key")
@bp.durable_client_input(client_name="client")
async def reads_itself(key: str, client: df.DurableOrchestrationClient) -> str:
    """An activity with a Durable client, as the worker binds it."""
    status = (await client.get_status(key)).runtime_status
    return f"{key} is {status.value if status else None}"


@bp.orchestration_trigger(context_name="context")
def introspective(context: df.DurableOrchestrationContext) -> Orchestration:
    return (yield context.call_activity("reads_itself", context.instance_id))


app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(bp)


@pytest.fixture
async def host() -> AsyncIterator[DurableTestHost]:
    async with DurableTestHost(app) as running:
        yield running


def client(host: DurableTestHost) -> df.DurableOrchestrationClient:
    return df.DurableOrchestrationClient(host.client_binding())


def scheduled(view: InstanceView, name: str) -> int:
    return sum(1 for e in view.history if e["EventType"] == 4 and e["Name"] == name)


async def test_http_starter_runs_a_sequence_of_activities(host: DurableTestHost) -> None:
    req = func.HttpRequest(
        "POST", "http://localhost/api/calls/c1", body=b'["a", "b"]', route_params={"call_id": "c1"}
    )
    response = await host.call_http("start_call", req)
    assert response.status_code == 202
    assert json.loads(response.get_body())["id"] == "c1"
    view = await host.wait_for_completion("c1")
    assert view.runtime_status is Status.Completed
    assert view.output == ["A", "B"]
    assert view.input == ["a", "b"]
    assert host.activity_calls("shout") == ["a", "b"]
    status = await client(host).get_status("c1", show_history=True)
    assert status.runtime_status is Status.Completed
    assert status.output == ["A", "B"]
    assert [e["EventType"] for e in vars(status)["historyEvents"]] == [
        "ExecutionStarted",
        "TaskCompleted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]


async def test_instances_run_concurrently(host: DurableTestHost) -> None:
    blocked = host.start("race", "blocked-forever")
    ids = [host.start("sequence", [f"w{i}", f"v{i}"]) for i in range(5)]
    views = [await host.wait_for_completion(i) for i in ids]
    assert [v.output for v in views] == [[f"W{i}", f"V{i}"] for i in range(5)]
    assert host.instances[blocked].runtime_status is Status.Running  # cancelled on exit


async def test_fan_out_fan_in_with_sync_activity(host: DurableTestHost) -> None:
    instance_id = await client(host).start_new("fan_out", client_input=["x", "yy", "zzz"])
    view = await host.wait_for_completion(instance_id)
    assert view.output == {"parts": ["X", "YY", "ZZZ"], "count": 6}
    assert host.activity_calls("total") == [[1, 2, 3]]


@pytest.mark.parametrize("first", ["event", "activity"])
async def test_task_any_between_activity_and_event(host: DurableTestHost, first: str) -> None:
    name = f"race-{first}"
    instance_id = await client(host).start_new("race", client_input=name)
    await host.wait_until(lambda: host.activity_calls("slow") == [name])
    if first == "event":
        await client(host).raise_event(instance_id, "hangup", {"by": "caller"})
    else:
        gate.setdefault(name, asyncio.Event()).set()
    view = await host.wait_for_completion(instance_id)
    # The Python client's event payload reaches the orchestrator as a JSON string (issue #295).
    assert view.output == ("hangup:" + json.dumps({"by": "caller"}) if first == "event" else "work")


async def test_event_raised_before_the_wait_is_buffered(host: DurableTestHost) -> None:
    instance_id = host.start("late_waiter", "late")
    await host.wait_until(lambda: host.activity_calls("slow") == ["late"])
    await client(host).raise_event(instance_id, "go", 42)  # nobody waits for "go" yet
    history = host.instances[instance_id].history
    await host.wait_until(lambda: any(e["EventType"] == 15 for e in history))
    gate.setdefault("late", asyncio.Event()).set()
    view = await host.wait_for_completion(instance_id)
    assert view.output == "42"
    kinds = [e["EventType"] for e in view.history]
    assert kinds.index(15) < kinds.index(5)  # EventRaised recorded before the activity completed


async def test_custom_status_visible_while_running(host: DurableTestHost) -> None:
    durable = client(host)
    instance_id = await durable.start_new("waiter")
    await host.wait_until(lambda: host.instances[instance_id].custom_status == "waiting")
    status = await durable.get_status(instance_id)
    assert status.runtime_status is Status.Running
    assert status.custom_status == "waiting"
    await durable.raise_event(instance_id, "go", "now")
    await host.wait_for_completion(instance_id)
    with pytest.raises(Exception, match="is gone"):
        await durable.raise_event(instance_id, "go", "again")


async def test_activity_failure_is_caught_by_the_orchestrator(host: DurableTestHost) -> None:
    instance_id = host.start("guarded", "guard-9")
    view = await host.wait_for_completion(instance_id)
    assert view.runtime_status is Status.Completed
    assert view.output.startswith(
        "caught: Activity function 'flaky' failed: ConnectionError: attempt 1 of guard-9 failed"
    )


async def test_retry_succeeds_on_third_attempt(host: DurableTestHost) -> None:
    instance_id = host.start("retrying", "retry-ok-3")
    view = await host.wait_for_completion(instance_id)
    assert view.runtime_status is Status.Completed
    assert view.output == "retry-ok-3 ok after 3"
    assert host.activity_calls("flaky") == ["retry-ok-3"] * 3
    kinds = [e["EventType"] for e in view.history if e["EventType"] in (4, 5, 6, 10, 11)]
    assert kinds == [4, 6, 10, 11, 4, 6, 10, 11, 4, 5]  # failure, timer, next attempt...


async def test_retry_exhausts_attempts_and_fails_the_orchestration(host: DurableTestHost) -> None:
    instance_id = host.start("retrying", "retry-never-9")
    view = await host.wait_for_completion(instance_id)
    assert view.runtime_status is Status.Failed
    assert "attempt 3 of retry-never-9 failed" in view.output
    assert len(host.activity_calls("flaky")) == 3


@pytest.mark.parametrize(("when", "runs"), [("before", 1), ("after", 2)])
async def test_a_crash_once_is_retried_and_after_means_the_work_was_done(
    host: DurableTestHost, when: str, runs: int
) -> None:
    key = f"crash-once-{when}"
    fault = host.fail_activity("effect", when=when, instance_id=key)  # type: ignore[arg-type]
    other = host.start("retrying_effect", f"untouched-{when}")
    view = await host.wait_for_completion(host.start("retrying_effect", key, instance_id=key))
    assert view.runtime_status is Status.Completed
    assert view.output == f"{key} ran {runs}"
    assert fault.crashed == 1
    assert host.starts[key] == 1
    failed = [e for e in view.history if e["EventType"] == 6]
    assert len(failed) == 1
    assert "ActivityCrash: injected crash #1 of effect" in failed[0]["Reason"]
    assert (await host.wait_for_completion(other)).output == f"untouched-{when} ran 1"
    assert host.busy() == []


async def test_a_crash_always_exhausts_the_retries(host: DurableTestHost) -> None:
    fault = host.fail_activity("effect", times=None, match=lambda key: key == "always")
    view = await host.wait_for_completion(host.start("retrying_effect", "always"))
    assert view.runtime_status is Status.Failed
    assert "ActivityCrash: injected crash #3 of effect (before)" in view.output
    assert fault.crashed == 3
    assert "always" not in attempts  # never ran


async def test_a_crash_during_cancels_the_running_activity(host: DurableTestHost) -> None:
    trip = asyncio.Event()
    fault = host.fail_activity("slow", when=trip.wait)
    instance_id = host.start("race", "crash-during")
    await host.wait_until(lambda: len(host.activity_calls("slow")) == 1)
    trip.set()
    view = await host.wait_for_completion(instance_id)
    assert view.output == "work"  # task_any: the failed activity wins the race
    failed = [e for e in view.history if e["EventType"] == 6]
    assert "injected crash #1 of slow (during)" in failed[0]["Reason"]
    assert fault.crashed == 1


async def test_a_crash_during_that_never_trips_lets_the_activity_finish(
    host: DurableTestHost,
) -> None:
    fault = host.fail_activity("slow", when=asyncio.Event().wait)
    instance_id = host.start("race", "finishes")
    await host.wait_until(lambda: len(host.activity_calls("slow")) == 1)
    gate.setdefault("finishes", asyncio.Event()).set()
    assert (await host.wait_for_completion(instance_id)).output == "work"
    assert fault.crashed == 0


def test_fail_activity_refuses_unknown_activities_and_bad_counts() -> None:
    local = DurableTestHost(app)
    with pytest.raises(ValueError, match="'nope' is not an activity"):
        local.fail_activity("nope")
    with pytest.raises(ValueError, match="times must be >= 1"):
        local.fail_activity("effect", times=0)
    assert issubclass(ActivityCrash, RuntimeError)


async def test_timers_use_the_real_clock_and_cancelled_timers_are_harmless(
    host: DurableTestHost,
) -> None:
    instance_id = host.start("sleeper", 50)
    view = await host.wait_for_completion(instance_id, timeout=5)
    assert view.runtime_status is Status.Completed
    assert 0.06 <= view.output < 3


async def test_continue_as_new_restarts_with_fresh_history(host: DurableTestHost) -> None:
    instance_id = host.start("counter_loop", 0, instance_id="loop")
    view = await host.wait_for_completion(instance_id)
    assert view.output == "finished at 3"
    assert view.input == 3
    assert host.activity_calls("shout") == ["round 0", "round 1", "round 2"]
    assert scheduled(view, "shout") == 0  # the last execution's history only


async def test_orchestrator_exception_fails_the_instance(host: DurableTestHost) -> None:
    view = await host.wait_for_completion(host.start("broken"))
    assert view.runtime_status is Status.Failed
    assert view.output.startswith("Orchestrator function 'broken' failed: orchestrator bug")
    status = await client(host).get_status(view.instance_id)
    assert status.runtime_status is Status.Failed


async def test_start_new_of_running_id_raises_and_of_finished_id_replaces(
    host: DurableTestHost,
) -> None:
    durable = client(host)
    await durable.start_new("waiter", "dup")
    with pytest.raises(Exception, match="already exists"):
        await durable.start_new("waiter", "dup")
    await durable.terminate("dup", "test over")
    view = await host.wait_for_completion("dup")
    assert (view.runtime_status, view.output) == (Status.Terminated, "test over")
    assert await durable.start_new("sequence", "dup", ["again"]) == "dup"
    replaced = await host.wait_for_completion("dup")
    assert (replaced.name, replaced.output) == ("sequence", ["AGAIN"])


async def test_status_queries_and_purge(host: DurableTestHost) -> None:
    durable = client(host)
    missing = await durable.get_status("nobody")
    assert not missing
    assert missing.runtime_status is None
    with pytest.raises(Exception, match="No instance"):
        await durable.raise_event("nobody", "go")
    done = await durable.start_new("sequence", "q-done", ["a"])
    await host.wait_for_completion(done)
    await durable.start_new("waiter", "q-running")
    await host.wait_until(lambda: host.instances["q-running"].runtime_status is Status.Running)
    running = await durable.get_status_by(runtime_status=[Status.Running])
    assert [s.instance_id for s in running] == ["q-running"]
    assert {s.instance_id for s in await durable.get_status_all()} == {"q-done", "q-running"}
    purged = await durable.purge_instance_history_by(
        created_time_from=host.instances[done].created_time - timedelta(minutes=1),
        runtime_status=[Status.Completed],
    )
    assert purged.instances_deleted == 1
    assert (await durable.purge_instance_history("q-done")).instances_deleted == 0
    assert set(host.instances) == {"q-running"}


async def test_instance_queries_page_like_the_extension(host: DurableTestHost) -> None:
    """100 rows per request by default, instance-id order, the rest behind the header."""
    ids = [f"q-{n:03d}" for n in range(105)]
    for instance_id in reversed(ids):
        host.start("waiter", instance_id=instance_id)
    await host.wait_until(lambda: len(host.instances) == 105)
    # The SDK reads one page and drops the continuation header: 5 instances silently missing.
    assert len(await client(host).get_status_all()) == 100
    seen: list[str] = []
    token = ""
    url = f"{host.base_url}instances/"
    async with aiohttp.ClientSession() as session:
        while True:
            headers = {"x-ms-continuation-token": token} if token else {}
            async with session.get(url, params={"top": "40"}, headers=headers) as response:
                assert response.status == 200
                seen += [row["instanceId"] for row in await response.json()]
                token = response.headers["x-ms-continuation-token"]
            if not token:
                break
        assert seen == ids
        # A filtered page can be short while more rows exist; only the header says so.
        params = {"top": "10", "instanceIdPrefix": "q-10"}
        async with session.get(url, params=params) as response:
            assert await response.json() == []
            assert response.headers["x-ms-continuation-token"]
        bad = {"x-ms-continuation-token": "not-a-token"}
        async with session.get(url, headers=bad) as response:
            assert response.status == 500


async def test_purge_by_filters_uses_terminal_statuses_only_like_the_tracking_store(
    host: DurableTestHost,
) -> None:
    """Like the tracking store: non-terminal statuses are dropped from the filter, and without
    a terminal status left, running instances and entities are purged too."""
    durable = client(host)
    await durable.signal_entity(df.EntityId("live_calls", "global"), "add", 1)
    await durable.start_new("waiter", "p-running")
    await host.wait_until(lambda: host.instances["p-running"].runtime_status is Status.Running)
    listed = {row.instance_id: row for row in await durable.get_status_all()}
    assert listed["@live_calls@global"].runtime_status is Status.Running
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    kept = await durable.purge_instance_history_by(epoch, runtime_status=[Status.Completed])
    assert kept.instances_deleted == 0
    assert set(host.instances) == {"p-running"}
    assert "@live_calls@global" in host.entities
    gone = await durable.purge_instance_history_by(epoch, runtime_status=[Status.Running])
    assert gone.instances_deleted == 2
    assert (host.instances, host.entities) == ({}, {})


async def test_entity_signals_calls_and_errors(host: DurableTestHost) -> None:
    durable = client(host)
    await durable.signal_entity(df.EntityId("live_calls", "global"), "add", 10)
    view = await host.wait_for_completion(host.start("entity_user"))
    assert view.output == {"seen": 17, "error": "entity refused"}
    state = await durable.read_entity_state(df.EntityId("live_calls", "global"))
    assert (state.entity_exists, state.entity_state) == (True, 17)
    absent = await durable.read_entity_state(df.EntityId("live_calls", "other"))
    assert not absent.entity_exists


async def test_non_deterministic_orchestrator_is_detected() -> None:
    async with DurableTestHost(app, raise_on_problems=False) as host:
        view = await host.wait_for_completion(host.start("fickle"))
        assert view.runtime_status is Status.Failed
        assert "Non-Deterministic" in view.output
        assert len(host.problems) == 1
    with pytest.raises(AssertionError, match="Non-Deterministic"):
        async with DurableTestHost(app) as strict:
            await strict.wait_for_completion(strict.start("fickle"))


async def test_new_instances_carry_the_default_version_as_the_extension_stamps_it() -> None:
    outputs = []
    for version in (None, "7"):
        async with DurableTestHost(app, default_version=version) as versioned_host:
            instance_id = versioned_host.start("versioned")
            outputs.append((await versioned_host.wait_for_completion(instance_id)).output)
    assert outputs[0] == host_json_default_version() != ""  # the project's host.json sets one
    assert outputs[1] == "7"


async def test_a_suspended_instance_keeps_its_events_until_it_is_resumed(
    host: DurableTestHost,
) -> None:
    durable = client(host)
    instance_id = await durable.start_new("waiter")
    await host.wait_until(lambda: host.instances[instance_id].custom_status == "waiting")
    host.suspend(instance_id)
    await durable.raise_event(instance_id, "go", "later")
    await asyncio.sleep(0.1)
    status = await durable.get_status(instance_id)
    assert (status.runtime_status, status.custom_status) == (Status.Suspended, "waiting")
    host.resume(instance_id)
    assert (await host.wait_for_completion(instance_id)).output == '"later"'  # as the client sends


@pytest.mark.parametrize("shutdown", [False, True])
async def test_a_lost_worker_reports_nothing_and_its_work_item_runs_again(
    host: DurableTestHost, shutdown: bool
) -> None:
    host.visibility_timeout = 1.5
    trip = asyncio.Event()
    loss = host.lose_worker("slow", when=trip.wait, shutdown=shutdown)
    name = f"lost-{shutdown}"
    instance_id = host.start("one_try_slow", name)
    await host.wait_until(lambda: len(host.activity_calls("slow")) == 1)
    trip.set()
    await host.wait_until(lambda: len(host.activity_calls("slow")) == 2, timeout=5)
    gate.setdefault(name, asyncio.Event()).set()
    view = await host.wait_for_completion(instance_id)
    assert view.output == f"{name} done"  # one attempt allowed, and it was not spent
    assert [e for e in view.history if e["EventType"] == 6] == []  # no TaskFailed
    assert scheduled(view, "slow") == 1  # the same work item, run twice
    assert len(loss.lost_at) == len(loss.requeued_at) == 1
    waited = loss.requeued_at[0] - loss.lost_at[0]
    # abandoned: picked up again at once; vanished: only after the visibility timeout
    assert waited < 1.5 if shutdown else waited >= 1.5


async def test_activities_get_a_durable_client(host: DurableTestHost) -> None:
    view = await host.wait_for_completion(host.start("introspective", instance_id="me"))
    assert view.output == "me is Running"
