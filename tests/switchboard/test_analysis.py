"""Post-call analysis: the schema from the definition, the real SDK request, hostile answers."""

import json
from typing import Any

import httpx2 as httpx
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.analysis import (
    MAX_TRANSCRIPT_CHARS,
    AnalysisFailed,
    AnalysisSpec,
    TransientAnalysisError,
    analyze,
    transcript_text,
    validate,
)

SPEC = AnalysisSpec.from_definition(
    {
        "success": "The caller's question was answered or they were put through.",
        "fields": [
            {"name": "caller_name", "type": "text", "description": "The caller's name"},
            {
                "name": "callback",
                "type": "phone",
                "description": "Callback number",
                "required": True,
            },
            {"name": "order_number", "type": "number", "description": "Order number"},
            {"name": "email", "type": "email", "description": "Email"},
            {"name": "when", "type": "date", "description": "Delivery date"},
            {"name": "at", "type": "datetime", "description": "Appointment"},
            {"name": "urgent", "type": "boolean", "description": "Urgent?"},
            {"name": "reason", "type": "enum", "description": "Why", "values": ["order", "other"]},
        ],
    }
)


def answer(**data: Any) -> dict[str, Any]:
    return {
        "summary": "Asked about an order.",
        "data": {f.name: data.get(f.name) for f in SPEC.fields},
        "success": {"achieved": True, "reason": "answered"},
        "follow_up": {"needed": False, "reason": ""},
    }


def test_schema_is_strict_and_names_every_field() -> None:
    schema = SPEC.json_schema()
    data = schema["properties"]["data"]
    assert data["required"] == [f.name for f in SPEC.fields]
    assert data["additionalProperties"] is False
    assert data["properties"]["reason"]["enum"] == ["order", "other", None]
    assert data["properties"]["order_number"]["type"] == ["number", "null"]
    assert "E.164" in data["properties"]["callback"]["description"]
    assert set(schema["required"]) == {"summary", "data", "success", "follow_up"}


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"fields": [{"name": "Bad Name", "type": "text", "description": "x"}]}, "fields.0.name"),
        ({"fields": [{"name": "x", "type": "enum", "description": "x"}]}, "'values' is required"),
        ({"fields": [{"name": "x", "type": "money", "description": "x"}]}, "fields.0.type"),
        ({"fields": [{"name": "x", "type": "text", "description": "d"}] * 2}, "unique"),
        ({"succes": "typo"}, "succes"),
    ],
)
def test_definition_errors_name_the_problem(table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match="invalid \\[analysis\\]") as error:
        AnalysisSpec.from_definition(table)
    assert problem in str(error.value)


def test_values_are_checked_against_their_types() -> None:
    result = validate(
        SPEC,
        answer(
            caller_name="Ada",
            callback="+1 415 555 0123",
            order_number="12345",  # a string where a number was declared
            email="not-an-email",
            when="2026-13-40",
            at="2026-12-01T10:00:00",  # no offset
            urgent="yes",
            reason="refund",
        ),
        "gpt-4.1-mini",
    )
    assert result.data == {"caller_name": "Ada", "callback": "+14155550123"}
    assert set(result.invalid) == {"order_number", "email", "when", "at", "urgent", "reason"}
    assert result.missing == []


def test_a_required_field_not_said_is_reported_missing() -> None:
    result = validate(SPEC, answer(callback="+1 415 555"), "m")
    assert result.data == {}
    assert result.invalid == {"callback": "not a valid phone number"}
    assert result.missing == ["callback"]


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"summary": 3, "data": {}, "success": {}, "follow_up": {}},
        {**answer(), "data": []},
        {**answer(), "success": {"achieved": "yes", "reason": ""}},
        {**answer(), "follow_up": {"needed": "no", "reason": ""}},
    ],
)
def test_an_answer_of_the_wrong_shape_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(AnalysisFailed):
        validate(SPEC, bad, "m")


@given(st.dictionaries(st.text(max_size=8), st.none() | st.text() | st.integers(), max_size=6))
def test_arbitrary_data_never_stores_an_unchecked_value(data: dict[str, Any]) -> None:
    result = validate(SPEC, {**answer(), "data": data}, "m")
    declared = {f.name for f in SPEC.fields}
    assert set(result.data) <= declared
    assert set(result.data).isdisjoint(result.invalid)


def test_long_transcripts_keep_their_end_and_say_so() -> None:
    turns = [{"speaker": "caller", "text": "x" * 1000}] * 100 + [
        {"speaker": "agent", "text": "bye"}
    ]
    text = transcript_text(turns)
    assert text.startswith("[earlier part of the call cut]\n")
    assert text.endswith("Agent: bye")
    assert len(text) <= MAX_TRANSCRIPT_CHARS + 40


def client_answering(body: dict[str, Any], seen: list[dict[str, Any]]) -> openai.AsyncOpenAI:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=body)

    transport = httpx.MockTransport(handle)
    return openai.AsyncOpenAI(
        base_url="http://127.0.0.1:1/openai/v1/",
        api_key="k",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=transport),
    )


def completion(
    content: str | None, finish: str = "stop", refusal: str | None = None
) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, "refusal": refusal}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4.1-mini",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }


async def test_analyze_sends_the_schema_and_validates_the_answer() -> None:
    seen: list[dict[str, Any]] = []
    body = completion(json.dumps(answer(callback="+14155550123", order_number=42)))
    turns = [{"speaker": "caller", "text": "Order 42, call me back"}]
    result = await analyze(client_answering(body, seen), "analysis", SPEC, turns)
    assert result.data == {"callback": "+14155550123", "order_number": 42}
    assert result.model == "gpt-4.1-mini"
    request = seen[0]
    assert request["model"] == "analysis"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert request["response_format"]["json_schema"]["schema"] == SPEC.json_schema()
    assert request["messages"][1]["content"] == "Caller: Order 42, call me back"


@pytest.mark.parametrize(
    ("body", "symptom"),
    [
        (completion(None, refusal="I can't"), "refused"),
        (completion('{"summary": "cut', finish="length"), "not complete"),
        (completion("not json"), "not JSON"),
        (completion("[1]"), "not a JSON object"),
    ],
)
async def test_unusable_answers_fail_by_name(body: dict[str, Any], symptom: str) -> None:
    with pytest.raises(AnalysisFailed, match=symptom):
        await analyze(client_answering(body, []), "analysis", SPEC, [])


def client_failing(status: int) -> openai.AsyncOpenAI:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": {"message": "no", "code": "x"}})

    return openai.AsyncOpenAI(
        base_url="http://127.0.0.1:1/openai/v1/",
        api_key="k",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_busy_or_failing_deployments_raise_for_a_retry(status: int) -> None:
    with pytest.raises(TransientAnalysisError, match=f"HTTP {status}"):
        await analyze(client_failing(status), "analysis", SPEC, [])


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_refused_requests_are_permanent(status: int) -> None:
    with pytest.raises(AnalysisFailed, match=f"HTTP {status}"):
        await analyze(client_failing(status), "analysis", SPEC, [])


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity"])
async def test_a_number_that_is_not_finite_is_invalid_not_stored(number: str) -> None:
    """``1e400`` is valid JSON that Python reads as infinity (and it reads ``NaN`` too): stored,
    it would make the record, the API's answer and the call event invalid JSON."""
    content = json.dumps(answer(callback="+14155550123")).replace(
        '"order_number": null', f'"order_number": {number}'
    )
    result = await analyze(client_answering(completion(content), []), "analysis", SPEC, [])
    assert result.invalid == {"order_number": "not a finite number"}
    assert "order_number" not in result.data
    json.dumps(result.model_dump(), allow_nan=False)  # strict JSON


async def test_a_long_integer_is_kept_as_it_was_said() -> None:
    content = json.dumps(answer(callback="+14155550123", order_number=10**400))
    result = await analyze(client_answering(completion(content), []), "analysis", SPEC, [])
    assert result.data["order_number"] == 10**400
