from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.hours import BusinessHours
from switchboard.policy import Policy
from switchboard.settings import Settings
from switchboard.sip import SipHeader
from switchboard.webhook import IncomingCall

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York
NIGHT = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # Wednesday 22:00 in New York
OFFICE = BusinessHours.parse("mon-fri 09:00-17:00", "America/New_York")


def call_from(from_value: str | None, *extra: SipHeader) -> IncomingCall:
    headers = [SipHeader("To", "<sip:+18005550100@carrier.example>"), *extra]
    if from_value is not None:
        headers.insert(0, SipHeader("From", from_value))
    return IncomingCall("rtc_1", "wh_1", "evt_1", 0, tuple(headers))


def test_default_policy_accepts_everyone() -> None:
    decision = Policy().screen(call_from('"A" <sip:+14155550123@x>;tag=1'), NOW)
    assert decision.accept
    assert decision.caller == "+14155550123"
    assert decision.callee == "+18005550100"


def test_blocklist_wins_over_allowlist() -> None:
    policy = Policy(allowlist=frozenset({"+14155550123"}), blocklist=frozenset({"+14155550123"}))
    decision = policy.screen(call_from("<sip:+14155550123@x>"), NOW)
    assert not decision.accept
    assert decision.reason == "blocklisted"
    assert decision.sip_status == 603


def test_allowlist_and_country_codes() -> None:
    policy = Policy(allowlist=frozenset({"+14155550123"}), refusal_status=403)
    assert policy.screen(call_from("<sip:+14155550123@x>"), NOW).accept
    refused = policy.screen(call_from("<sip:+14155550999@x>"), NOW)
    assert (refused.accept, refused.reason, refused.sip_status) == (False, "not_allowlisted", 403)
    by_country = Policy(country_codes=frozenset({46}))
    assert by_country.screen(call_from("<sip:+46701234567@x>"), NOW).accept
    assert by_country.screen(call_from("<sip:+14155550123@x>"), NOW).reason == "country_not_allowed"


def test_anonymous_callers_follow_the_setting_and_a_trusted_asserted_identity_counts() -> None:
    anonymous = '"Anonymous" <sip:anonymous@anonymous.invalid>'
    assert Policy().screen(call_from(anonymous), NOW).accept
    assert Policy(reject_anonymous=True).screen(call_from(anonymous), NOW).reason == "anonymous"
    asserted = SipHeader("P-Asserted-Identity", "<tel:+14155550123>")
    trusting_pai = Policy(reject_anonymous=True, caller_id_header="p-asserted-identity")
    decision = trusting_pai.screen(call_from(anonymous, asserted), NOW)
    assert decision.accept
    assert decision.caller == "+14155550123"
    not_trusted = Policy(reject_anonymous=True).screen(call_from(anonymous, asserted), NOW)
    assert (not_trusted.accept, not_trusted.reason) == (False, "anonymous")
    assert Policy(reject_anonymous=True).screen(call_from(None), NOW).reason == "unparsable_caller"


def test_business_hours_refuse_after_hours_with_their_own_status() -> None:
    policy = Policy(hours=OFFICE, after_hours_status=480)
    caller = call_from("<sip:+14155550123@x>")
    assert policy.screen(caller, NOW).reason == "allowed"
    closed = policy.screen(caller, NIGHT)
    assert (closed.accept, closed.reason, closed.sip_status) == (False, "after_hours", 480)


def test_after_hours_accept_is_flagged_for_the_after_hours_agent() -> None:
    decision = Policy(hours=OFFICE, after_hours_accept=True).screen(
        call_from("<sip:+14155550123@x>"), NIGHT
    )
    assert (decision.accept, decision.after_hours, decision.reason) == (True, True, "after_hours")


def test_a_blocked_caller_stays_blocked_after_hours() -> None:
    policy = Policy(blocklist=frozenset({"+14155550123"}), hours=OFFICE, after_hours_accept=True)
    assert policy.screen(call_from("<sip:+14155550123@x>"), NIGHT).reason == "blocklisted"


# ------------------------------------------------ attacks on the lists, through the settings

BASE = {
    "AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com",
    "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
    "OPENAI_WEBHOOK_SECRET": "whsec_c3dpdGNoYm9hcmQtbG9jYWwtZW11bGF0b3Itc2VjcmV0",
}
ALLOWED = "+14155550123"
REAL = "<sip:+14155550999@trunk.example>"


def screen(env: dict[str, str], *headers: tuple[str, str]) -> tuple[bool, str]:
    policy = Settings.from_env({**BASE, **env}).policy
    decision = policy.screen(
        IncomingCall("rtc_1", "wh_1", "evt_1", 0, tuple(SipHeader(n, v) for n, v in headers)), NOW
    )
    return decision.accept, decision.reason


@pytest.mark.parametrize(
    "headers",
    [
        [("From", f"<sip:{ALLOWED}@evil.example>"), ("P-Asserted-Identity", REAL)],
        [("From", REAL), ("From", f"<sip:{ALLOWED}@evil.example>")],
        [("f", f"<sip:{ALLOWED}@evil.example>"), ("From", REAL)],
        [("From", f"<sip:{ALLOWED}@evil.example>, {REAL}")],
        [("From", f"<sip:{ALLOWED}@evil.example> {REAL}")],
    ],
)
def test_a_spoofed_or_doubled_identity_does_not_pass_the_allowlist(
    headers: list[tuple[str, str]],
) -> None:
    accept, reason = screen({"CALLER_ALLOWLIST": ALLOWED}, *headers)
    assert not accept, reason


def test_with_the_asserted_identity_trusted_from_is_not_read() -> None:
    env = {"CALLER_ALLOWLIST": ALLOWED, "CALLER_ID_HEADER": "p-asserted-identity"}
    assert screen(env, ("From", f"<sip:{ALLOWED}@evil.example>")) == (False, "unparsable_caller")
    assert screen(env, ("P-Asserted-Identity", f"<tel:{ALLOWED}>")) == (True, "allowlisted")


@pytest.mark.parametrize(
    "user", ["14155550123", "4155550123", "%2B14155550123", "+1-415-555-0123", "0014155550123"]
)
def test_the_blocked_number_written_another_way_is_still_blocked(user: str) -> None:
    env = {"CALLER_BLOCKLIST": ALLOWED, "DEFAULT_REGION": "US"}
    assert screen(env, ("From", f"<sip:{user}@carrier.example>")) == (False, "blocklisted")


@pytest.mark.parametrize("user", ["14155550123", "4155550123", "4155550123x", "+4155550123"])
def test_with_a_blocklist_an_unreadable_number_is_refused_not_waved_through(user: str) -> None:
    env = {"CALLER_BLOCKLIST": ALLOWED}  # no DEFAULT_REGION: national forms cannot be read
    assert screen(env, ("From", f"<sip:{user}@carrier.example>")) == (False, "unparsable_caller")
    two = [("From", f"<sip:{ALLOWED}@x>"), ("From", "<sip:+14155550100@y>")]
    assert screen(env, *two) == (False, "ambiguous_caller")
    withheld = ("From", "<sip:anonymous@anonymous.invalid>")
    assert screen(env, withheld) == (True, "anonymous_allowed")  # ANONYMOUS_CALLERS decides
    assert screen({**env, "ANONYMOUS_CALLERS": "reject"}, withheld) == (False, "anonymous")


def test_country_codes_match_the_parsed_country_not_a_text_prefix() -> None:
    env = {"ALLOWED_COUNTRY_CODES": "1"}
    assert screen(env, ("From", "<sip:+14155550123@x>")) == (True, "allowed")
    assert screen(env, ("From", "<sip:+442071838750@x>")) == (False, "country_not_allowed")
    by_44 = {"ALLOWED_COUNTRY_CODES": "44"}
    assert screen(by_44, ("From", "<sip:+442071838750@x>")) == (True, "allowed")
    assert screen(by_44, ("From", "<sip:+46701234567@x>")) == (False, "country_not_allowed")
    by_41 = {"ALLOWED_COUNTRY_CODES": "41"}  # +41 55 550 123 is one digit short for Switzerland
    assert screen(by_41, ("From", "<sip:+4155550123@x>")) == (False, "unparsable_caller")


@given(
    user=st.sampled_from(["+14155550123", "14155550123", "4155550123", "%2B14155550123"]),
    noise=st.sampled_from(["", "(", ")", "-", "."]),
    at=st.integers(1, 8),
    host=st.sampled_from(["carrier.example", "evil.example", "10.0.0.1"]),
)
def test_no_spelling_of_a_blocked_number_is_admitted(
    user: str, noise: str, at: int, host: str
) -> None:
    env = {"CALLER_BLOCKLIST": ALLOWED, "DEFAULT_REGION": "US"}
    spelled = user[:at] + noise + user[at:]
    assert screen(env, ("From", f"<sip:{spelled}@{host}>"))[0] is False
