"""The text deployment the app's post-call analysis uses: chat completions with Structured Outputs.

A scripted model: it answers with the ``[analysis]`` table of the scenario whose call the
transcript is from (found by the caller's scripted lines), shaped by the request's own JSON
schema, so every answer conforms to what the app asked for. It refuses what the service refuses:
an unknown deployment (404 ``DeploymentNotFound``) and a strict schema that breaks the Structured
Outputs rules (every object lists all its keys in ``required`` and sets
``additionalProperties: false``). It also insists on a JSON schema, which the service would not:
the app's analysis always sends one, so a request without is a bug worth a loud 400.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ApiError
from .events import JsonDict, new_id


def complete(body: JsonDict, deployment: str, scripts: Iterable[Mapping[str, Any]]) -> JsonDict:
    """Answer one ``POST /chat/completions``; ``scripts`` are candidate ``[analysis]`` tables."""
    model = body.get("model")
    if model != deployment:
        raise ApiError(
            404,
            "The API deployment for this resource does not exist. If you created the deployment "
            "within the last 5 minutes, please wait a moment and try again.",
            code="DeploymentNotFound",
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "Invalid 'messages': must be a non-empty array.", code="invalid_value")
    schema = _schema(body.get("response_format"))
    transcript = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    script = _script_for(transcript, scripts)
    content = json.dumps(_answer(schema, script, transcript), ensure_ascii=False)
    return {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": deployment,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": len(transcript) // 4,
            "completion_tokens": 50,
            "total_tokens": 0,
        },
    }


def _schema(response_format: Any) -> JsonDict:
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        raise ApiError(
            400,
            "The emulator's analysis deployment needs response_format json_schema.",
            code="invalid_value",
            param="response_format",
        )
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        spec = {}
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise ApiError(
            400,
            "Missing required parameter: 'response_format.json_schema.schema'.",
            code="missing_required_parameter",
            param="response_format",
        )
    if spec.get("strict") is True:
        problem = _strict_problem(schema, "()")
        if problem:
            name = spec.get("name", "")
            raise ApiError(
                400,
                f"Invalid schema for response_format '{name}': In context={problem}",
                code="invalid_json_schema",
                param="response_format",
            )
    return schema


def _strict_problem(schema: Any, context: str) -> str | None:
    """The first place a strict schema breaks the Structured Outputs rules, if any."""
    if not isinstance(schema, dict):
        return f"{context}, schema must be an object."
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return f"{context}, 'additionalProperties' is required to be supplied and to be false."
        if sorted(schema.get("required", [])) != sorted(properties):
            return (
                f"{context}, 'required' is required to be supplied and to be an array including "
                "every key in properties."
            )
        for key, sub in properties.items():
            problem = _strict_problem(sub, f"('properties', '{key}')")
            if problem:
                return problem
    return None


def _script_for(transcript: str, scripts: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The newest script whose caller lines all appear in the transcript (else none)."""
    for script in scripts:
        lines = script.get("caller_lines", ())
        if lines and all(f"Caller: {line}" in transcript for line in lines):
            return script
    return {}


def _answer(schema: JsonDict, script: Mapping[str, Any], transcript: str) -> JsonDict:
    """An answer that has exactly the schema's shape, filled from the script."""
    properties = schema.get("properties", {})
    data_keys = properties.get("data", {}).get("properties", {})
    scripted: Mapping[str, Any] = script.get("data", {})
    turns = sum(1 for line in transcript.splitlines() if line.startswith(("Caller:", "Agent:")))
    follow_up = script.get("follow_up", "")
    return {
        "summary": script.get("summary") or f"An emulated call of {turns} turns.",
        "data": {key: scripted.get(key) for key in data_keys},
        "success": {"achieved": script.get("success"), "reason": script.get("success_reason", "")},
        "follow_up": {"needed": bool(follow_up), "reason": follow_up},
    }
