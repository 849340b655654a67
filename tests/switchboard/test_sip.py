import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.sip import (
    FROM,
    MAX_TARGET_LENGTH,
    P_ASSERTED_IDENTITY,
    SipHeader,
    Standing,
    TargetRules,
    caller_identity,
    headers_named,
    is_transfer_target,
    mask_number,
    parse_party,
)

ALLOWED = "+14155550123"
OTHER = "+14155550999"


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ('"Alice" <sip:+14155550123@carrier.example>;tag=1', "+14155550123"),
        ("<sip:+14155550123@carrier.example;user=phone>", "+14155550123"),
        ("sip:+442071838750@trunk.example;tag=9", "+442071838750"),
        ("<tel:+1-415-555-0123>", "+14155550123"),
        ('"Weird <name> \\"quoted\\"" <sip:+46701234567@x>', "+46701234567"),
        ("<sip:0046701234567@x>", "+46701234567"),
        ("<sip:%2B14155550123@x>", "+14155550123"),
        ("<sip:alice@example.com>", None),
        ("<sip:12345@x>", None),
        ("<sip:+4155550123@x>", None),  # +41 (Switzerland) with too few digits: not a number
        ("garbage without uri", None),
        ("", None),
    ],
)
def test_parse_party_reads_e164_numbers_strictly(value: str, number: str | None) -> None:
    assert parse_party(value).number == number


def test_national_forms_are_read_only_in_a_default_region() -> None:
    for national in ("<sip:4155550123@x>", "<sip:14155550123@x>", "<sip:(415)555-0123@x>"):
        assert parse_party(national).number is None
        assert parse_party(national, "US").number == ALLOWED


@pytest.mark.parametrize(
    "value",
    ['"Anonymous" <sip:anonymous@anonymous.invalid>;tag=1', "<sip:restricted@carrier.example>"],
)
def test_anonymous_callers_are_recognised(value: str) -> None:
    party = parse_party(value)
    assert party.anonymous
    assert party.number is None
    assert party.masked == "anonymous"


def test_header_lookup_is_case_insensitive_and_counts_compact_forms() -> None:
    headers = (SipHeader("f", "<sip:+14155550123@x>"), SipHeader("FROM", "<sip:+1415@x>"))
    assert headers_named(headers, "From") == ["<sip:+14155550123@x>", "<sip:+1415@x>"]
    assert headers_named(headers, "To") == []


# ------------------------------------------------------------------------ caller identity


def identity(*headers: tuple[str, str], trusted: str = FROM) -> tuple[Standing, str | None]:
    party = caller_identity([SipHeader(n, v) for n, v in headers], trusted)
    return party.standing, party.number


@pytest.mark.parametrize(
    ("headers", "trusted", "expected"),
    [
        ([("From", f"<sip:{ALLOWED}@x>")], FROM, (Standing.NUMBER, ALLOWED)),
        ([("f", f"<sip:{ALLOWED}@x>")], FROM, (Standing.NUMBER, ALLOWED)),
        # several From headers (compact form included), or several URIs in one
        ([("From", f"<sip:{ALLOWED}@x>"), ("From", f"<sip:{OTHER}@y>")], FROM, "ambiguous"),
        ([("From", f"<sip:{OTHER}@y>"), ("f", f"<sip:{ALLOWED}@x>")], FROM, "ambiguous"),
        ([("From", f"<sip:{ALLOWED}@x>, <sip:{OTHER}@y>")], FROM, "ambiguous"),
        ([("From", f"<sip:{ALLOWED}@x> <sip:{OTHER}@y>")], FROM, "ambiguous"),
        ([("From", f"sip:{ALLOWED}@x <sip:{OTHER}@y>")], FROM, "ambiguous"),
        ([("From", f'"sip:{OTHER}@y" <sip:{ALLOWED}@x>;tag=1')], FROM, (Standing.NUMBER, ALLOWED)),
        ([("From", f"Alice Smith <sip:{ALLOWED}@x>;tag=1")], FROM, (Standing.NUMBER, ALLOWED)),
        ([("From", f"sip:{ALLOWED}@x, sip:{OTHER}@y")], FROM, "ambiguous"),
        # malformed URIs
        ([("From", f"<sip:{ALLOWED}@>")], FROM, "ambiguous"),
        ([("From", f"<sip:{ALLOWED}@x")], FROM, "ambiguous"),
        ([("From", f'"A <sip:{ALLOWED}@x>')], FROM, "ambiguous"),
        ([("From", f"<sip:{ALLOWED}@x\r\nX: y>")], FROM, "ambiguous"),
        # From and P-Asserted-Identity naming different numbers, either trusted
        (
            [("From", f"<sip:{ALLOWED}@x>"), (P_ASSERTED_IDENTITY, f"<tel:{OTHER}>")],
            FROM,
            "ambiguous",
        ),
        (
            [("From", f"<sip:{ALLOWED}@x>"), ("P-Asserted-Identity", f"<tel:{OTHER}>")],
            P_ASSERTED_IDENTITY,
            "ambiguous",
        ),
        # P-Asserted-Identity values naming different numbers; two of one kind
        (
            [("P-Asserted-Identity", f"<sip:{ALLOWED}@x>, <tel:{OTHER}>")],
            P_ASSERTED_IDENTITY,
            "ambiguous",
        ),
        (
            [
                ("P-Asserted-Identity", f"<tel:{ALLOWED}>"),
                ("P-Asserted-Identity", f"<tel:{OTHER}>"),
            ],
            P_ASSERTED_IDENTITY,
            "ambiguous",
        ),
        (
            [("P-Asserted-Identity", f"<sip:{ALLOWED}@x>, <sip:{ALLOWED}@y>")],
            P_ASSERTED_IDENTITY,
            "ambiguous",
        ),
        # RFC 3325: one sip: and one tel: value for the same caller is one identity
        (
            [("P-Asserted-Identity", f"<sip:{ALLOWED}@x;user=phone>, <tel:{ALLOWED}>")],
            P_ASSERTED_IDENTITY,
            (Standing.NUMBER, ALLOWED),
        ),
        # privacy: From withheld, the trusted asserted identity names the caller
        (
            [
                ("From", "<sip:anonymous@anonymous.invalid>"),
                ("P-Asserted-Identity", f"<tel:{ALLOWED}>"),
            ],
            P_ASSERTED_IDENTITY,
            (Standing.NUMBER, ALLOWED),
        ),
        # the trusted header alone counts: a From the trunk does not vouch for names no one
        ([("From", f"<sip:{ALLOWED}@x>")], P_ASSERTED_IDENTITY, (Standing.UNKNOWN, None)),
        (
            [
                ("From", "<sip:anonymous@anonymous.invalid>"),
                (P_ASSERTED_IDENTITY, f"<tel:{ALLOWED}>"),
            ],
            FROM,
            (Standing.ANONYMOUS, None),
        ),
        ([("To", f"<sip:{ALLOWED}@x>")], FROM, (Standing.UNKNOWN, None)),
    ],
)
def test_caller_identity_comes_from_the_trusted_header_and_ambiguity_names_no_one(
    headers: list[tuple[str, str]], trusted: str, expected: object
) -> None:
    if expected == "ambiguous":
        expected = (Standing.AMBIGUOUS, None)
    assert identity(*headers, trusted=trusted) == expected


numbers = st.sampled_from([ALLOWED, OTHER, "+442071838750", "+46701234567"])
hosts = st.sampled_from(["x", "carrier.example", "evil.example", "10.0.0.1"])
uris = st.one_of(
    st.builds(lambda n, h: f"sip:{n}@{h}", numbers, hosts),
    numbers.map(lambda n: f"tel:{n}"),
    st.sampled_from(["sip:anonymous@anonymous.invalid", "sip:alice@example.com", "sip:x@", "?"]),
)
values = st.one_of(
    uris.map(lambda u: f"<{u}>"),
    st.builds(lambda u, t: f'"Caller" <{u}>;tag={t}', uris, st.integers(0, 99)),
    st.lists(uris.map(lambda u: f"<{u}>"), min_size=2, max_size=3).map(", ".join),
)
header_lists = st.lists(
    st.tuples(st.sampled_from(["From", "f", "FROM", "P-Asserted-Identity", "To"]), values),
    max_size=4,
)


@given(headers=header_lists, trusted=st.sampled_from([FROM, P_ASSERTED_IDENTITY]))
def test_a_caller_number_is_one_every_identity_header_agrees_on(
    headers: list[tuple[str, str]], trusted: str
) -> None:
    """Whatever is added or repeated, a number is returned only when no header contradicts it."""
    standing, number = identity(*headers, trusted=trusted)
    trusted_names = {"from", "f"} if trusted == FROM else {"p-asserted-identity"}
    if number is None:
        return
    assert standing is Standing.NUMBER
    identity_values = [v for n, v in headers if n.lower() in {"from", "f", "p-asserted-identity"}]
    assert any(n.lower() in trusted_names for n, _ in headers)
    for value in identity_values:  # every identity header names this number or none at all
        for other in (ALLOWED, OTHER, "+442071838750", "+46701234567"):
            if other != number:
                assert f"{other}@" not in value
                assert f"tel:{other}>" not in value
    if trusted == FROM:
        assert len([n for n, _ in headers if n.lower() in trusted_names]) == 1


@given(spoof=st.sampled_from([f"<sip:{ALLOWED}@evil.example>", f"<tel:{ALLOWED}>"]))
def test_a_spoofed_from_never_overrides_a_different_asserted_identity(spoof: str) -> None:
    real = (P_ASSERTED_IDENTITY, f"<sip:{OTHER}@trunk.example>")
    for trusted in (FROM, P_ASSERTED_IDENTITY):
        assert identity(("From", spoof), real, trusted=trusted)[1] is None
        assert identity(real, ("From", spoof), trusted=trusted)[1] is None


# ------------------------------------------------------------------------ transfer targets


@pytest.mark.parametrize(
    "uri",
    [
        "tel:+14155550123",
        "tel:+1-415-555-0123;ext=42",
        "sip:agent@example.com",
        "sips:agent@example.com:5061",
        "sip:+14155550100@pbx.example.com;user=phone;transport=tls",
        "sip:desk@10.0.0.7",
        "sip:desk@[2001:db8::1]:5060",
    ],
)
def test_good_transfer_targets_pass(uri: str) -> None:
    assert is_transfer_target(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "tel:+14155550123;x=1\r\nX-Evil: 1",
        "tel:+14155550123\r\nX-Evil:",
        "sip:agent@example.com\n",
        "sip:agent@example.com?Replaces=abc%40host&X-Evil=1",
        "sip:agent@example.com;maddr=evil.example",
        "sip:agent@example.com;MADDR=203.0.113.9",
        "sip:" + "a" * 100_000 + "@example.com",
        "sip:agent\x00@example.com",
        "sip:agent@example.com\x1b[31mFAKE",
        "sip:agent@example.com:99999",
        "tel:4155550123",
        "tel:+4155550123",
        "sip:no-host",
        "sip:a b@example.com",
        "sip:agent@exa mple.com",
        "sip:agent%0d%0a@example.com",
        "http://example.com",
        "mailto:a@example.com",
        "SIP:agent@example.com",
        "",
        None,
        42,
    ],
)
def test_hostile_transfer_targets_are_refused(uri: object) -> None:
    assert not is_transfer_target(uri)


@given(st.text(max_size=300))
def test_no_accepted_target_carries_control_characters_whitespace_or_headers(uri: str) -> None:
    if is_transfer_target(uri):
        assert uri.isascii()
        assert uri.isprintable()
        assert not any(c.isspace() for c in uri)
        assert "?" not in uri
        assert "maddr" not in uri.lower()
        assert len(uri) <= MAX_TARGET_LENGTH


@given(
    good=st.sampled_from(["tel:+14155550123", "sip:agent@example.com"]),
    junk=st.text(st.characters(max_codepoint=0x7F, categories=["Cc"]), min_size=1, max_size=3),
    where=st.integers(0, 30),
)
def test_a_control_character_anywhere_in_a_target_refuses_it(
    good: str, junk: str, where: int
) -> None:
    at = min(where, len(good))
    assert not is_transfer_target(good[:at] + junk + good[at:])


def test_transfer_rules_admit_numbers_prefixes_and_domains_only() -> None:
    rules = TargetRules.parse(["+14155550100", "+1415777*", "pbx.example.com"])
    assert rules.admits("tel:+14155550100")
    assert rules.admits("tel:+1-415-555-0100")
    assert rules.admits("tel:+14157770123")
    assert rules.admits("sip:desk@PBX.example.com")
    assert rules.admits("sips:desk@pbx.example.com:5061;transport=tls")
    assert not rules.admits("tel:+14155550101")
    assert not rules.admits("sip:desk@evil.example")
    assert not rules.admits("sip:desk@pbx.example.com.evil.example")
    assert not is_transfer_target("tel:+19005550100", rules)
    assert is_transfer_target("tel:+14155550100", rules)
    assert TargetRules().admits("tel:+19005550100")
    with pytest.raises(ValueError, match="bad: \\['1415', '\\*'\\]"):
        TargetRules.parse(["1415", "*"])


def test_numbers_are_masked_for_logs() -> None:
    assert mask_number("+14155550123") == "+1********23"
    assert "555" not in mask_number("+14155550123")
    assert mask_number(None) == "unknown"


@given(
    # HTAB is not among them: SIP's linear white space (RFC 3261 25.1) is spaces and tabs.
    junk=st.text(
        st.characters(max_codepoint=0x7F, categories=["Cc"], exclude_characters="\t"),
        min_size=1,
        max_size=2,
    ),
    at=st.integers(0, 40),
)
def test_a_control_character_anywhere_in_an_identity_makes_it_name_no_number(
    junk: str, at: int
) -> None:
    value = f'"Alice" <sip:{ALLOWED}@carrier.example>;tag=1'
    assert parse_party(value[:at] + junk + value[at:]).number is None


@pytest.mark.parametrize(
    "value",
    [
        "<sip:+14155550123@x>;" + " " * 20_000 + "<",
        "<sip:+14155550123@x>" + " ;" * 10_000 + "<",
        '"' + "\\a" * 10_000,
        "sip:a" + ";@" * 10_000,
        "Alice " * 4_000 + "x",
    ],
)
def test_a_long_hostile_header_is_read_in_linear_time(value: str) -> None:
    """Headers are attacker-controlled: a backtracking pattern once took 15 s on 50 KB."""
    started = time.perf_counter()
    assert parse_party(value).number is None
    assert time.perf_counter() - started < 0.5
