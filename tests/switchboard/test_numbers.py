import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.numbers import COUNTRY_CODES, country_code, to_e164


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("+14155550123", None, "+14155550123"),
        ("%2B14155550123", None, "+14155550123"),
        ("+1 (415) 555-0123", None, "+14155550123"),
        ("0046701234567", None, "+46701234567"),
        ("14155550123", None, None),
        ("4155550123", None, None),
        ("14155550123", "US", "+14155550123"),
        ("4155550123", "US", "+14155550123"),
        ("070-123 45 67", "SE", "+46701234567"),
        ("+4155550123", None, None),
        ("+0123456789", None, None),
        ("+1234567890123456", None, None),
        ("abc", "US", None),
        ("+1415555012\uff13", None, None),  # a full-width digit
    ],
)
def test_numbers_are_normalised_to_e164_or_refused(
    text: str, region: str | None, e164: str | None
) -> None:
    assert to_e164(text, region) == e164


@given(st.text(max_size=30), st.sampled_from([None, "US", "GB", "SE"]))
def test_whatever_is_accepted_is_e164_of_a_known_country(text: str, region: str | None) -> None:
    number = to_e164(text, region)
    if number is not None:
        assert number.startswith("+")
        assert number[1:].isdigit()
        assert number.isascii()
        assert country_code(number) in COUNTRY_CODES


def test_country_codes_are_libphonenumbers_list() -> None:
    assert {1, 44, 46} <= COUNTRY_CODES
    assert 4 not in COUNTRY_CODES
    assert country_code("+442071838750") == 44
