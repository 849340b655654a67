"""Post-call analysis end to end: the app, the emulator's text deployment, and the call store."""

from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from devhost.durable_host import DurableTestHost
from emulator import Emulator
from emulator.analysis import complete
from emulator.errors import ApiError
from switchboard.agent import Agent
from switchboard.setting_values import APP_ROOT
from tests.blueprints.calls import place_and_finish
from tests.blueprints.test_records import get
from tests.conftest import CallEnv

DEPLOYMENT = "call-analysis"  # the emulator's default text deployment


@pytest.fixture(autouse=True)
def analysis_on(call_env: CallEnv) -> None:
    call_env.set(
        AGENT_DEFINITION="agents/front_desk.toml",
        TRANSFER_TARGETS="sales=tel:+14155550111,support=tel:+14155550112",
        AZURE_OPENAI_ANALYSIS_DEPLOYMENT=DEPLOYMENT,
    )


async def test_a_call_ends_with_its_summary_and_checked_data(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, _ = await place_and_finish(emulator, app_host, app_url, "callback_request")
    analysis = record["analysis"]
    assert record["analysis_error"] is None
    assert analysis["summary"].startswith("Ada Lovelace called about order A-1042")
    assert analysis["data"] == {
        "caller_name": "Ada Lovelace",
        "callback_number": "+14155550123",  # said as "+1 415 555 0123": stored as E.164
        "reason": "delivery",
        "order_number": "A-1042",
    }
    assert analysis["success"] is True
    assert analysis["follow_up"] == {
        "needed": True,
        "reason": "Call Ada back about the late delivery of order A-1042.",
    }
    assert analysis["invalid"] == {}
    assert analysis["missing"] == []
    assert analysis["model"] == DEPLOYMENT


async def test_the_stored_record_and_the_list_carry_the_analysis(
    emulator: Emulator, app_host: DurableTestHost, app_url: str
) -> None:
    record, _ = await place_and_finish(emulator, app_host, app_url, "callback_request")
    status, page = await get(app_host, "list_calls", "http://127.0.0.1/api/calls")
    assert status == 200
    (row,) = [c for c in page["calls"] if c["call_id"] == record["call_id"]]
    assert row["summary"] == record["analysis"]["summary"]
    assert row["success"] is True
    assert row["follow_up"] is True
    url = f"http://127.0.0.1/api/calls/{record['call_id']}"
    status, view = await get(app_host, "get_call", url)
    assert status == 200
    assert view["record"]["analysis"] == record["analysis"]


async def test_a_deployment_that_refuses_is_recorded_and_the_call_keeps_its_record(
    emulator: Emulator, app_host: DurableTestHost, app_url: str, call_env: CallEnv
) -> None:
    call_env.set(AZURE_OPENAI_ANALYSIS_DEPLOYMENT="no-such-deployment")
    record, _ = await place_and_finish(emulator, app_host, app_url, "callback_request")
    assert record["end_reason"] == "caller_hangup"
    assert record["analysis"] is None
    assert record["analysis_error"] == "the deployment refused the request: HTTP 404"
    assert len(record["turns"]) >= 4


def test_the_emulator_answers_with_the_schema_the_app_sends() -> None:
    spec = Agent.load(APP_ROOT / "agents" / "front_desk.toml").analysis
    body = {
        "model": DEPLOYMENT,
        "messages": [{"role": "user", "content": "Caller: hello\nAgent: hi"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "call_analysis", "strict": True, "schema": spec.json_schema()},
        },
    }
    answer = ChatCompletion.model_validate(complete(body, DEPLOYMENT, []))
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content is not None
    assert '"caller_name": null' in answer.choices[0].message.content


@pytest.mark.parametrize(
    ("schema", "symptom"),
    [
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            "additionalProperties",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": False,
            },
            "'required'",
        ),
    ],
)
def test_the_emulator_refuses_a_strict_schema_the_service_refuses(
    schema: dict[str, Any], symptom: str
) -> None:
    body = {
        "model": DEPLOYMENT,
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "s", "strict": True, "schema": schema},
        },
    }
    with pytest.raises(ApiError) as error:
        complete(body, DEPLOYMENT, [])
    assert error.value.status == 400
    assert error.value.code == "invalid_json_schema"
    assert symptom in error.value.message
