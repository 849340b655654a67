"""The call list's query, cursor, view and page gathering, against a scripted store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from switchboard.call_list import (
    DEFAULT_LIMIT,
    MAX_STORE_PAGES,
    CallQuery,
    QueryError,
    StorePage,
    call_view,
    read_page,
)
from switchboard.webhook import instance_id_for

ORCHESTRATOR = "call_orchestrator"


def row(instance_id: str, status: str = "Completed", **fields: Any) -> dict[str, Any]:
    return {
        "name": ORCHESTRATOR,
        "instanceId": instance_id,
        "runtimeStatus": status,
        "input": json.dumps({"call": {"call_id": instance_id}, "plan": {}}),
        "customStatus": {"phase": "ended"},
        "output": {"call_id": instance_id, "end_reason": "caller_hangup"},
        "createdTime": "2026-11-27T05:00:00Z",
        "lastUpdatedTime": "2026-11-27T05:01:00Z",
        **fields,
    }


def test_parse_defaults_and_ignores_other_parameters() -> None:
    query = CallQuery.parse({"code": "function-key", "since": "", "status": " ", "limit": ""})
    assert query == CallQuery(None, (), DEFAULT_LIMIT, None)
    assert query.store_params(7) == {"top": "7", "showInput": "true"}


def test_parse_normalizes_since_to_utc_and_statuses_to_one_order() -> None:
    query = CallQuery.parse(
        {"since": "2026-11-27T07:30:00+02:00", "status": "Failed, running,failed,", "limit": "7"}
    )
    assert query.since == datetime(2026, 11, 27, 5, 30, tzinfo=UTC)
    assert (query.statuses, query.limit) == (("running", "failed"), 7)
    assert query.store_params(3) == {
        "top": "3",
        "showInput": "true",
        "createdTimeFrom": "2026-11-27T05:30:00.000000Z",
        "runtimeStatus": "Pending,Running,ContinuedAsNew,Suspended,Failed",
    }
    assert CallQuery.parse({"status": "terminated"}).store_params(1)["runtimeStatus"] == (
        "Terminated,Canceled"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-13-01T00:00:00Z"}, "since must be an ISO 8601"),
        ({"since": "1700000000"}, "since must be an ISO 8601"),
        ({"status": "completed;failed"}, "status must be one or more of"),
        ({"limit": "٣"}, "limit must be an integer between 1 and 100"),  # a non-ASCII digit
        ({"limit": "1e2"}, "limit must be an integer between 1 and 100"),
        ({"cursor": "e30"}, "cursor is not valid"),  # {}
    ],
)
def test_parse_refuses_with_a_message_naming_the_parameter(
    params: dict[str, str], message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        CallQuery.parse(params)


def test_cursor_round_trips_for_the_same_since_and_status_only() -> None:
    first = CallQuery.parse({"since": "2026-11-27T05:00:00Z", "status": "completed"})
    cursor = first.cursor("opaque store token")
    assert cursor.isascii()
    assert "=" not in cursor
    same_scope = {"since": "2026-11-27T06:00:00+01:00", "status": "COMPLETED", "limit": "9"}
    again = CallQuery.parse({**same_scope, "cursor": cursor})
    assert (again.token, again.limit) == ("opaque store token", 9)
    for other in (
        {"since": "2026-11-27T05:00:01Z", "status": "completed"},
        {"since": "2026-11-27T05:00:00Z"},
        {"status": "completed"},
    ):
        with pytest.raises(QueryError, match="cursor belongs to a query with other"):
            CallQuery.parse({**other, "cursor": cursor})


def test_view_of_finished_and_running_calls() -> None:
    done = call_view(row("rtc_a"), ORCHESTRATOR)
    assert done == {
        "call_id": "rtc_a",
        "status": "completed",
        "created_at": "2026-11-27T05:00:00+00:00",
        "last_updated_at": "2026-11-27T05:01:00+00:00",
        "phase": "ended",
        "record": {"call_id": "rtc_a", "end_reason": "caller_hangup"},
    }
    live = call_view(row("rtc_b", "Pending", customStatus=None, output=None), ORCHESTRATOR)
    assert live is not None
    assert (live["status"], live["phase"], live["record"]) == ("running", None, None)
    failed = call_view(row("rtc_c", "Failed", output="Orchestrator function failed"), ORCHESTRATOR)
    assert failed is not None
    assert (failed["status"], failed["record"]) == ("failed", None)
    ended = call_view(row("rtc_d", "Canceled", output="reason"), ORCHESTRATOR)
    assert ended is not None
    assert (ended["status"], ended["record"]) == ("terminated", None)


def test_view_takes_the_call_id_from_the_input_not_the_instance_id() -> None:
    odd = "sip/call?id#1"
    instance_id = instance_id_for(odd)
    assert instance_id != odd
    wire = json.dumps({"call": {"call_id": odd}, "plan": {}})
    for given in (wire, json.loads(wire)):
        view = call_view(row(instance_id, input=given), ORCHESTRATOR)
        assert view is not None
        assert view["call_id"] == odd
    without_input = call_view(row(instance_id, input=None, output={"call_id": odd}), ORCHESTRATOR)
    assert without_input is not None
    assert without_input["call_id"] == odd
    bare = call_view(row(instance_id, input="not json", output=None), ORCHESTRATOR)
    assert bare is not None
    assert bare["call_id"] == instance_id


def test_entities_and_other_orchestrations_are_not_calls() -> None:
    assert call_view(row("@call_slots@global", "Running"), ORCHESTRATOR) is None
    assert call_view(row("@call_orchestrator@x", "Running"), ORCHESTRATOR) is None
    assert call_view(row("rtc_x", name="some_other_orchestrator"), ORCHESTRATOR) is None
    assert call_view({"name": ORCHESTRATOR}, ORCHESTRATOR) is None


class ScriptedStore:
    """Answers store queries from a script; records each request's ``top`` and token."""

    def __init__(self, *pages: StorePage) -> None:
        self.pages = list(pages)
        self.requests: list[tuple[int, str | None]] = []

    async def __call__(self, params: dict[str, str], token: str | None) -> StorePage:
        self.requests.append((int(params["top"]), token))
        return self.pages.pop(0)


async def test_a_page_asks_for_the_room_left_and_ends_on_a_store_page_boundary() -> None:
    store = ScriptedStore(
        StorePage([row("@call_slots@global", "Running"), row("rtc_1")], "t1"),
        StorePage([], "t2"),
        StorePage([row("rtc_2"), row("rtc_3")], "t3"),
    )
    query = CallQuery(limit=3, token="t0")
    page = await read_page(query, store, ORCHESTRATOR)
    assert [call["call_id"] for call in page["calls"]] == ["rtc_1", "rtc_2", "rtc_3"]
    assert store.requests == [(3, "t0"), (2, "t1"), (2, "t2")]
    assert CallQuery.parse({"cursor": page["next"]}).token == "t3"


async def test_the_last_store_page_ends_the_list_whatever_its_size() -> None:
    for last_token in (None, ""):
        store = ScriptedStore(StorePage([row("rtc_1")], "t1"), StorePage([], last_token))
        page = await read_page(CallQuery(limit=5), store, ORCHESTRATOR)
        assert ([c["call_id"] for c in page["calls"]], page["next"]) == (["rtc_1"], None)


async def test_a_page_stops_after_max_store_pages_and_says_there_is_more() -> None:
    store = ScriptedStore(*(StorePage([], f"t{n}") for n in range(MAX_STORE_PAGES + 1)))
    page = await read_page(CallQuery(limit=5), store, ORCHESTRATOR)
    assert page["calls"] == []
    assert len(store.requests) == MAX_STORE_PAGES
    assert CallQuery.parse({"cursor": page["next"]}).token == f"t{MAX_STORE_PAGES - 1}"


async def test_a_store_answering_more_than_top_is_an_error_not_a_silent_cut() -> None:
    store = ScriptedStore(StorePage([row("rtc_1"), row("rtc_2")], "t1"))
    with pytest.raises(RuntimeError, match="2 rows for top=1"):
        await read_page(CallQuery(limit=1), store, ORCHESTRATOR)
