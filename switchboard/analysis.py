"""Post-call analysis: a summary, the data the agent collected, a success verdict, a follow-up.

After the hang-up the transcript goes to a text model deployment with Structured Outputs; the
JSON schema is built from the agent definition's ``[analysis]`` table, so a team declares what a
call should yield (a callback number, an order number, ...) without code. The model's answer is
untrusted input: every value is checked against its declared type before it is stored, and a
value that fails is dropped and named in ``invalid`` rather than stored wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

import openai
import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FieldType = Literal["text", "number", "boolean", "date", "datetime", "phone", "email", "enum"]

MAX_FIELDS = 30
MAX_TEXT_CHARS = 2_000  # one extracted text value, the summary, each reason
MAX_TRANSCRIPT_CHARS = 60_000  # the most recent part of a long call is sent, marked as cut
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+\Z")
_JSON_TYPES: dict[str, str] = {"number": "number", "boolean": "boolean"}
_FORMAT_HINTS: dict[str, str] = {
    "date": " Format: YYYY-MM-DD.",
    "datetime": " Format: ISO 8601 with a UTC offset.",
    "phone": " Format: E.164, e.g. +14155550123.",
    "email": " Format: an email address.",
}

SYSTEM_PROMPT = (
    "You analyse one phone call between a caller and a business's voice agent, from its "
    "transcript. Write a short factual summary for the business (two or three sentences). Fill "
    "in each data field only from what was said in the call; use null when it was not said. "
    "Judge success only by the criterion given. Say whether someone needs to follow up with the "
    "caller (a promised call back, an unresolved problem, a message taken) and why."
)


class DataField(BaseModel):
    """One value the agent is expected to collect on a call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    type: FieldType
    description: Annotated[str, Field(min_length=1, max_length=300)]
    required: bool = False
    values: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = ()

    @model_validator(mode="after")
    def _enum_has_values(self) -> DataField:
        if (self.type == "enum") != bool(self.values):
            raise ValueError(f"field {self.name!r}: 'values' is required for enum and only there")
        return self

    def json_schema(self) -> dict[str, Any]:
        """The field in a strict schema: every field is present, ``null`` when not said."""
        description = self.description + _FORMAT_HINTS.get(self.type, "")
        if self.type == "enum":
            return {
                "type": ["string", "null"],
                "enum": [*self.values, None],
                "description": description,
            }
        return {"type": [_JSON_TYPES.get(self.type, "string"), "null"], "description": description}

    def check(self, value: Any) -> Any:
        """The value in its stored form; ``ValueError`` when it is not of the declared type."""
        if self.type == "text":
            if not isinstance(value, str):
                raise ValueError("not text")
            return value[:MAX_TEXT_CHARS]
        if self.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("not a number")
            if isinstance(value, float) and not math.isfinite(value):  # json reads 1e400 as inf
                raise ValueError("not a finite number")
            return value
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise ValueError("not true or false")
            return value
        if not isinstance(value, str):
            raise ValueError(f"not a {self.type} string")
        return _CHECKS[self.type](self, value)


def _check_date(field: DataField, value: str) -> str:
    return date.fromisoformat(value).isoformat()


def _check_datetime(field: DataField, value: str) -> str:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a datetime without a UTC offset")
    return parsed.isoformat()


def _check_phone(field: DataField, value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError("not an E.164 number") from error
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _check_email(field: DataField, value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


def _check_enum(field: DataField, value: str) -> str:
    if value not in field.values:
        raise ValueError("not one of the declared values")
    return value


_CHECKS = {
    "date": _check_date,
    "datetime": _check_datetime,
    "phone": _check_phone,
    "email": _check_email,
    "enum": _check_enum,
}


class AnalysisSpec(BaseModel):
    """The agent definition's ``[analysis]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    success: Annotated[str, Field(min_length=1, max_length=1_000)] | None = None
    fields: tuple[DataField, ...] = Field(default=(), max_length=MAX_FIELDS)

    @model_validator(mode="after")
    def _unique_names(self) -> AnalysisSpec:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("analysis field names must be unique")
        return self

    @classmethod
    def from_definition(cls, data: Any) -> AnalysisSpec:
        """From the parsed TOML table; ``ValueError`` with every problem, for the settings error."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'analysis'}: {e['msg']}"
                for e in error.errors()
            )
            raise ValueError(f"has an invalid [analysis] table ({problems})") from None

    def json_schema(self) -> dict[str, Any]:
        """The Structured Outputs schema (strict: every key required, no others)."""
        reasoned = {
            "type": "object",
            "properties": {"needed": {"type": "boolean"}, "reason": {"type": "string"}},
            "required": ["needed", "reason"],
            "additionalProperties": False,
        }
        data = {
            "type": "object",
            "properties": {f.name: f.json_schema() for f in self.fields},
            "required": [f.name for f in self.fields],
            "additionalProperties": False,
        }
        success = {
            "type": "object",
            "properties": {"achieved": {"type": ["boolean", "null"]}, "reason": {"type": "string"}},
            "required": ["achieved", "reason"],
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "properties": {
                "summary": {"type": "string"},
                "data": data,
                "success": success,
                "follow_up": reasoned,
            },
            "required": ["summary", "data", "success", "follow_up"],
            "additionalProperties": False,
        }

    def instructions(self) -> str:
        """The system prompt, with the success criterion when the definition states one."""
        if self.success is None:
            return SYSTEM_PROMPT + " No success criterion is set: give achieved as null."
        return f"{SYSTEM_PROMPT} Success criterion: {self.success}"


class FollowUp(BaseModel):
    """Does someone need to call the caller back, and why."""

    model_config = ConfigDict(extra="forbid", strict=True)

    needed: bool
    reason: str


class Analysis(BaseModel):
    """What the analysis of one call stores in its record."""

    model_config = ConfigDict(extra="forbid")

    summary: str
    data: dict[str, Any]
    success: bool | None
    success_reason: str
    follow_up: FollowUp
    invalid: dict[str, str] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    model: str


class AnalysisFailed(Exception):
    """Permanent: a refusal, a cut-off or misshapen answer, or a 4xx (not 408/429) from the API.

    Retrying would get the same answer, so it is recorded instead.
    """


class TransientAnalysisError(Exception):
    """Worth retrying: the text deployment was busy, failing or unreachable."""


def validate(spec: AnalysisSpec, answer: Mapping[str, Any], model: str) -> Analysis:
    """Check the model's answer against the schema and every value against its declared type."""
    try:
        summary = _text(answer["summary"])
        success = answer["success"]
        achieved = success["achieved"]
        if achieved is not None and not isinstance(achieved, bool):
            raise AnalysisFailed("success.achieved is not a boolean")
        follow_up = FollowUp(
            needed=answer["follow_up"]["needed"], reason=_text(answer["follow_up"]["reason"])
        )
        raw = answer["data"]
        if not isinstance(raw, Mapping):
            raise AnalysisFailed("data is not an object")
        success_reason = _text(success["reason"])
    except (KeyError, TypeError, ValidationError) as error:
        raise AnalysisFailed(f"the answer does not have the schema's shape ({error!r})") from None
    data: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for field in spec.fields:
        value = raw.get(field.name)
        if value is None:
            continue
        try:
            data[field.name] = field.check(value)
        except ValueError as error:
            invalid[field.name] = str(error)
    return Analysis(
        summary=summary,
        data=data,
        success=achieved if spec.success is not None else None,
        success_reason=success_reason,
        follow_up=follow_up,
        invalid=invalid,
        missing=[f.name for f in spec.fields if f.required and f.name not in data],
        model=model,
    )


def transcript_text(turns: Iterable[Mapping[str, Any]]) -> str:
    """The conversation as lines; a call longer than the cap keeps its most recent part."""
    names = {"caller": "Caller", "tool": "Tool"}  # a tool turn: what an MCP server did
    lines = [f"{names.get(str(t.get('speaker')), 'Agent')}: {t.get('text', '')}" for t in turns]
    text = "\n".join(lines)
    if len(text) > MAX_TRANSCRIPT_CHARS:
        text = "[earlier part of the call cut]\n" + text[-MAX_TRANSCRIPT_CHARS:]
    return text


async def analyze(
    client: openai.AsyncOpenAI,
    deployment: str,
    spec: AnalysisSpec,
    turns: Iterable[Mapping[str, Any]],
) -> Analysis:
    """Ask the text deployment; a transient failure raises for Durable to retry."""
    try:
        completion = await client.chat.completions.create(
            model=deployment,
            messages=[
                {"role": "system", "content": spec.instructions()},
                {"role": "user", "content": transcript_text(turns) or "(nothing was said)"},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "call_analysis",
                    "strict": True,
                    "schema": spec.json_schema(),
                },
            },
        )
    except (openai.APIConnectionError, openai.APITimeoutError) as error:
        raise TransientAnalysisError(type(error).__name__) from error
    except openai.APIStatusError as error:
        if error.status_code in (408, 429) or error.status_code >= 500:
            raise TransientAnalysisError(f"HTTP {error.status_code}") from error
        raise AnalysisFailed(
            f"the deployment refused the request: HTTP {error.status_code}"
        ) from None
    if not completion.choices:
        raise AnalysisFailed("the model returned no choices")
    choice = completion.choices[0]
    if choice.message.refusal:
        raise AnalysisFailed("the model refused to analyse the call")
    if choice.finish_reason != "stop" or not choice.message.content:
        raise AnalysisFailed(f"the answer was not complete (finish_reason {choice.finish_reason})")
    try:
        answer = json.loads(choice.message.content)
    except ValueError:
        raise AnalysisFailed("the answer is not JSON") from None
    if not isinstance(answer, dict):
        raise AnalysisFailed("the answer is not a JSON object")
    return validate(spec, answer, completion.model or deployment)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value[:MAX_TEXT_CHARS]
