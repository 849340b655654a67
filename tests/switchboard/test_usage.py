import pytest

from switchboard.usage import Prices, Usage

DONE_USAGE = {
    "total_tokens": 1500,
    "input_tokens": 1000,
    "output_tokens": 500,
    "input_token_details": {
        "text_tokens": 400,
        "audio_tokens": 600,
        "cached_tokens": 300,
        "cached_tokens_details": {"text_tokens": 100, "audio_tokens": 200},
    },
    "output_token_details": {"text_tokens": 100, "audio_tokens": 400},
}


def test_usage_is_read_from_response_done_and_sums() -> None:
    usage = Usage.from_response(DONE_USAGE)
    assert (usage.cached_text_tokens, usage.cached_audio_tokens) == (100, 200)
    total = usage + usage
    assert (total.responses, total.input_audio_tokens, total.output_audio_tokens) == (2, 1200, 800)
    assert Usage.from_response(None) == Usage(responses=1)


def test_cost_bills_cached_tokens_at_the_cached_rate_only() -> None:
    usage = Usage.from_response(DONE_USAGE)
    prices = Prices(
        text_in=1, cached_text_in=0.5, text_out=2, audio_in=10, cached_audio_in=1, audio_out=20
    )
    expected = (300 * 1 + 100 * 0.5 + 400 * 10 + 200 * 1 + 100 * 2 + 400 * 20) / 1_000_000
    assert prices.cost(usage) == pytest.approx(expected)
    assert Prices().cost(Usage()) == 0
