from datetime import UTC, datetime

from switchboard.hours import BusinessHours
from switchboard.policy import Policy
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
    by_country = Policy(country_codes=("46",))
    assert by_country.screen(call_from("<sip:+46701234567@x>"), NOW).accept
    assert by_country.screen(call_from("<sip:+14155550123@x>"), NOW).reason == "country_not_allowed"


def test_anonymous_callers_follow_the_setting_and_asserted_identity_counts() -> None:
    anonymous = '"Anonymous" <sip:anonymous@anonymous.invalid>'
    assert Policy().screen(call_from(anonymous), NOW).accept
    assert Policy(reject_anonymous=True).screen(call_from(anonymous), NOW).reason == "anonymous"
    asserted = SipHeader("P-Asserted-Identity", "<tel:+14155550123>")
    decision = Policy(reject_anonymous=True).screen(call_from(anonymous, asserted), NOW)
    assert decision.accept
    assert decision.caller == "+14155550123"
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
