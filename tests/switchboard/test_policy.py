from switchboard.policy import Policy
from switchboard.sip import SipHeader
from switchboard.webhook import IncomingCall


def call_from(from_value: str | None, *extra: SipHeader) -> IncomingCall:
    headers = [SipHeader("To", "<sip:+18005550100@carrier.example>"), *extra]
    if from_value is not None:
        headers.insert(0, SipHeader("From", from_value))
    return IncomingCall("rtc_1", "wh_1", "evt_1", 0, tuple(headers))


def test_default_policy_accepts_everyone() -> None:
    decision = Policy().screen(call_from('"A" <sip:+14155550123@x>;tag=1'))
    assert decision.accept
    assert decision.caller == "+14155550123"
    assert decision.callee == "+18005550100"


def test_blocklist_wins_over_allowlist() -> None:
    policy = Policy(allowlist=frozenset({"+14155550123"}), blocklist=frozenset({"+14155550123"}))
    decision = policy.screen(call_from("<sip:+14155550123@x>"))
    assert not decision.accept
    assert decision.reason == "blocklisted"
    assert decision.sip_status == 603


def test_allowlist_and_country_codes() -> None:
    policy = Policy(allowlist=frozenset({"+14155550123"}), refusal_status=403)
    assert policy.screen(call_from("<sip:+14155550123@x>")).accept
    refused = policy.screen(call_from("<sip:+14155550999@x>"))
    assert (refused.accept, refused.reason, refused.sip_status) == (False, "not_allowlisted", 403)
    by_country = Policy(country_codes=("46",))
    assert by_country.screen(call_from("<sip:+46701234567@x>")).accept
    assert by_country.screen(call_from("<sip:+14155550123@x>")).reason == "country_not_allowed"


def test_anonymous_callers_follow_the_setting_and_asserted_identity_counts() -> None:
    anonymous = '"Anonymous" <sip:anonymous@anonymous.invalid>'
    assert Policy().screen(call_from(anonymous)).accept
    assert Policy(reject_anonymous=True).screen(call_from(anonymous)).reason == "anonymous"
    asserted = SipHeader("P-Asserted-Identity", "<tel:+14155550123>")
    decision = Policy(reject_anonymous=True).screen(call_from(anonymous, asserted))
    assert decision.accept
    assert decision.caller == "+14155550123"
    assert Policy(reject_anonymous=True).screen(call_from(None)).reason == "unparsable_caller"
