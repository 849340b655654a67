import pytest

from switchboard.sip import SipHeader, header, is_transfer_target, mask_number, parse_party, to_e164


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ('"Alice" <sip:+14155550123@carrier.example>;tag=1', "+14155550123"),
        ("<sip:+14155550123@carrier.example;user=phone>", "+14155550123"),
        ("sip:+442071838750@trunk.example;tag=9", "+442071838750"),
        ("<tel:+1-415-555-0123>", "+14155550123"),
        ('"Weird <name> \\"quoted\\"" <sip:+46701234567@x>', "+46701234567"),
        ("<sip:0046701234567@x>", "+46701234567"),
        ("<sip:alice@example.com>", None),
        ("<sip:12345@x>", None),
        ("garbage without uri", None),
        ("", None),
    ],
)
def test_parse_party_reads_e164_numbers_defensively(value: str, number: str | None) -> None:
    assert parse_party(value).number == number


@pytest.mark.parametrize(
    "value",
    ['"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1', "<sip:restricted@carrier.example>"],
)
def test_anonymous_callers_are_recognised(value: str) -> None:
    party = parse_party(value)
    assert party.anonymous
    assert party.number is None
    assert party.masked == "anonymous"


def test_header_lookup_is_case_insensitive_first_match_and_knows_compact_forms() -> None:
    headers = (SipHeader("f", "<sip:+14155550123@x>"), SipHeader("From", "<sip:+14155550999@x>"))
    assert header(headers, "FROM") == "<sip:+14155550123@x>"
    assert header(headers, "To") is None


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("tel:+14155550123", True),
        ("sip:agent@example.com", True),
        ("sips:agent@example.com:5061", True),
        ("tel:4155550123", False),
        ("http://example.com", False),
        ("sip:no-host", False),
        ("sip:a b@example.com", False),
    ],
)
def test_transfer_targets(uri: str, ok: bool) -> None:
    assert is_transfer_target(uri) is ok


def test_numbers_are_masked_for_logs() -> None:
    assert mask_number("+14155550123") == "+1********23"
    assert "555" not in mask_number("+14155550123")
    assert mask_number(None) == "unknown"


def test_to_e164_rejects_too_long_and_leading_zero() -> None:
    assert to_e164("+1234567890123456") is None
    assert to_e164("+0123456789") is None
