from hypothesis import given
from hypothesis import strategies as st

from switchboard.untrusted import LOG_LIMIT, build_url, shown


@given(st.text(max_size=300) | st.binary(max_size=100))
def test_a_shown_value_is_one_printable_bounded_line(value: str | bytes) -> None:
    text = shown(value)
    assert text.isprintable()
    assert len(text) <= 10 * LOG_LIMIT + 30  # an escaped character takes at most 10: \U0010ffff


def test_shown_quotes_escapes_and_says_how_much_was_cut() -> None:
    assert shown("rtc_a\r\nINFO x\x1b[31m\x00") == "'rtc_a\\r\\nINFO x\\x1b[31m\\x00'"
    assert shown("a" * 100) == repr("a" * LOG_LIMIT) + "…(+20 chars)"
    assert shown(42) == "'42'"


@given(st.text(max_size=50), st.text(max_size=50))
def test_every_value_in_a_built_url_is_encoded(segment: str, value: str) -> None:
    url = build_url("wss://host.example/openai/v1/", segment, call_id=value)
    path, _, query = url.removeprefix("wss://host.example/openai/v1/").partition("?")
    assert "/" not in path
    assert "?" not in path
    assert "#" not in url
    assert query.count("=") == 1
    assert "&" not in query
    assert url.isascii()
    assert url.isprintable()
