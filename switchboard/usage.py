"""Token usage, summed over a call's responses, and what it costs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Token counts as ``response.done`` reports them (``cached`` is part of ``input``)."""

    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cached_text_tokens: int = 0
    cached_audio_tokens: int = 0
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @classmethod
    def from_response(cls, usage: dict[str, Any] | None) -> Usage:
        """From one ``response.done``'s ``response.usage`` (missing parts count as zero)."""
        usage = usage or {}
        inp = usage.get("input_token_details") or {}
        out = usage.get("output_token_details") or {}
        cached = inp.get("cached_tokens_details") or {}
        return cls(
            responses=1,
            input_tokens=usage.get("input_tokens") or 0,
            output_tokens=usage.get("output_tokens") or 0,
            cached_tokens=inp.get("cached_tokens") or 0,
            cached_text_tokens=cached.get("text_tokens") or 0,
            cached_audio_tokens=cached.get("audio_tokens") or 0,
            input_text_tokens=inp.get("text_tokens") or 0,
            input_audio_tokens=inp.get("audio_tokens") or 0,
            output_text_tokens=out.get("text_tokens") or 0,
            output_audio_tokens=out.get("audio_tokens") or 0,
        )

    def to_dict(self) -> dict[str, int]:
        """JSON form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Usage:
        """Inverse of :meth:`to_dict`."""
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens; defaults are gpt-realtime's list prices (check yours)."""

    text_in: float = 4.0
    cached_text_in: float = 0.4
    text_out: float = 16.0
    audio_in: float = 32.0
    cached_audio_in: float = 0.4
    audio_out: float = 64.0

    def cost(self, usage: Usage) -> float:
        """Estimated cost in USD; cached tokens are billed at the cached rate, not twice."""
        total = (
            (usage.input_text_tokens - usage.cached_text_tokens) * self.text_in
            + usage.cached_text_tokens * self.cached_text_in
            + (usage.input_audio_tokens - usage.cached_audio_tokens) * self.audio_in
            + usage.cached_audio_tokens * self.cached_audio_in
            + usage.output_text_tokens * self.text_out
            + usage.output_audio_tokens * self.audio_out
        )
        return round(total / 1_000_000, 6)
