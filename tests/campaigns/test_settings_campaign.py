"""Bad-input campaign against ``Settings.from_env``: generated environments, good and bad.

Invariants: the loader returns a valid ``Settings`` or raises ``SettingsError`` (a ``ValueError``)
and nothing else; the error has one ``- NAME ...`` line per problem and names every variable that
was set badly; the values of ``OPENAI_WEBHOOK_SECRET`` and ``AZURE_OPENAI_API_KEY`` never appear.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

from hypothesis import given
from hypothesis import strategies as st

import switchboard.settings as settings_module
from switchboard.agent import VOICES
from switchboard.settings import Settings, SettingsError
from tests.campaigns.conftest import CAMPAIGN

MARK = "\u27e6secret\u27e7"
"""Every generated secret value contains this, and no other generated value can."""
REQUIRED = ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "OPENAI_WEBHOOK_SECRET")


class Value(NamedTuple):
    """A generated value and what the loader must make of it: True, False or unknown (None)."""

    text: str
    valid: bool | None


text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\u27e6"), max_size=40)
blank = st.sampled_from(["", " ", "\t", "\n"])


def good(*values: str) -> st.SearchStrategy[Value]:
    return st.sampled_from(values).map(lambda t: Value(t, True))


def bad(*values: str) -> st.SearchStrategy[Value]:
    return st.sampled_from(values).map(lambda t: Value(t, False))


def spaced(values: st.SearchStrategy[Value]) -> st.SearchStrategy[Value]:
    """Surrounding whitespace never changes the verdict: values are stripped."""
    return st.tuples(values, blank, blank).map(lambda v: Value(v[1] + v[0].text + v[2], v[0].valid))


def integers(low: int, high: int) -> st.SearchStrategy[Value]:
    return (
        st.integers(low, high).map(lambda n: Value(str(n), True))
        | st.integers(max_value=low - 1).map(lambda n: Value(str(n), False))
        | st.integers(min_value=high + 1).map(lambda n: Value(str(n), False))
        | st.text("abcxyz.,", min_size=1).map(lambda t: Value(t, False))
    )


def secret(prefix: str, valid: bool | None) -> st.SearchStrategy[Value]:
    return st.text("abcXYZ019+/=-", min_size=10, max_size=30).map(
        lambda t: Value(f"{prefix}{MARK}{t}", valid)
    )


anything = text.map(lambda t: Value(t, True))
TARGETS = good("tel:+14155550100", "sip:desk@pbx.example", "tel:+44-20-7946-0000") | bad(
    "mailto:a@b",
    "tel:555",
    "sip:nohost",
    "+14155550100",
    "sip:a b@c",
    "tel:+44 20 7946 0000",
    "tel:+14155550100;x=1\r\nX-Evil: 1",
    "sip:desk@pbx.example?Replaces=x&X-Evil=1",
    "sip:desk@pbx.example;maddr=evil.example",
    "sip:desk\x00@pbx.example",
    "sip:desk@pbx.example\x1b[31m",
    "sip:" + "d" * 100_000 + "@pbx.example",
)
SLICE_LIMIT = 3300
"""No slice above this, whatever functionTimeout says (the Flex scale-in bound)."""
TIMEOUTS = {"00:30:00": 1800, "00:58:00": 3480, "01:00:00": 3600, "-1": None}
VALUES: dict[str, st.SearchStrategy[Value]] = {
    "AZURE_OPENAI_ENDPOINT": good(
        "https://contoso.openai.azure.com",
        "https://contoso.openai.azure.com/",
        "https://contoso.openai.azure.com/openai/v1",
        "http://127.0.0.1:8765",
        "http://localhost:1",
    )
    | bad(
        "ftp://contoso.openai.azure.com",
        "http://contoso.openai.azure.com",
        "https://contoso.openai.azure.com/deployments/x",
        "contoso.openai.azure.com",
        "https://",
        "not a url",
    ),
    "AZURE_OPENAI_DEPLOYMENT": text.map(lambda t: Value(t, bool(t.strip()))),
    "OPENAI_WEBHOOK_SECRET": secret("whsec_", True) | secret("", False) | secret("whsec", False),
    "AZURE_OPENAI_API_KEY": secret("", True),
    "AZURE_CLIENT_ID": anything,
    "AZURE_OPENAI_ANALYSIS_DEPLOYMENT": anything,
    "CALL_INSTRUCTIONS": anything,
    "CALL_VOICE": st.sampled_from(sorted(VOICES)).map(lambda v: Value(v, True))
    | text.filter(lambda t: t.strip() and t.strip() not in VOICES).map(lambda t: Value(t, False)),
    "CALL_GREETING": anything,
    "CALL_TRANSCRIPTION_MODEL": anything,
    "TRANSFER_TARGET_URI": TARGETS,
    "TRANSFER_FALLBACK_URI": TARGETS,
    "AGENT_DEFINITION": bad("agents/missing.toml", "README.md", "agents"),
    "TRANSFER_TARGETS": good(
        "sales=tel:+14155550111", "Sales=tel:+1-415-555-0111, b=sip:x@pbx.example"
    )
    | bad(
        "sales",
        "=tel:+14155550111",
        "sales=555",
        "sales=tel:+14155550111,support",
        "sales=tel:+1 415 555 0111",
        "sales=sip:x@pbx.example?X-Evil=1",
    ),
    "TRANSFER_ALLOWED_TARGETS": good(
        "+14155550100, +1415555011*, pbx.example, +442079460000", "+1*, +44*, pbx.example"
    )
    | bad("sales", "+1", "*", "+1415*5", "tel:+14155550100"),
    "RING_TIMEOUT_SECONDS": integers(2, 300),
    "SILENCE_SECONDS": integers(0, 3600),
    "MAX_CALL_SECONDS": integers(10, 3540),
    "CALL_RECORD_RETENTION_DAYS": integers(1, 3650),
    "MAX_CONCURRENT_CALLS": integers(0, 100_000),
    "BUSINESS_HOURS": good("mon-fri 09:00-17:00", "sat 22:00-02:00, sun-mon 10:00-11:00")
    | bad("9-5", "mon-fri", "mon 25:00-26:00", ",", "someday 09:00-10:00"),
    "BUSINESS_TIME_ZONE": good("UTC", "Europe/Stockholm", "America/New_York")
    | bad("Nowhere/Special", "+01:00", "../etc"),
    "AFTER_HOURS": good("accept", "reject", "ACCEPT") | bad("voicemail", "no"),
    "AFTER_HOURS_SIP_STATUS": integers(400, 699),
    "USAGE_PRICES": good("audio_out=64", "text_in=1, text_out=2.5")
    | bad("gold=1", "audio_out=-1", "audio_out", "audio_out=free"),
    "TRANSFER_VERIFY_SECONDS": integers(1, 300),
    "MONITOR_SLICE_SECONDS": integers(60, SLICE_LIMIT),  # and below functionTimeout: see below
    "AzureFunctionsJobHost__functionTimeout": good(*TIMEOUTS) | bad("30m", "1800", "00:30", "x"),
    "CALLER_ALLOWLIST": good("+14155550123", "+14155550123, +447700900123", ",")
    | bad("555", "+14155550123,555", "+0123456789", "+4155550123"),
    "CALLER_BLOCKLIST": good("+14155550123", "+46701234567,+14155550123", "+1 415 555 0123")
    | bad("x", "tel:+14155550123", "%0a"),
    "DEFAULT_REGION": good("US", "se", "GB") | bad("USA", "XX", "1"),
    "CALLER_ID_HEADER": good("from", "P-Asserted-Identity") | bad("remote-party-id", "f", "pai"),
    "ALLOWED_COUNTRY_CODES": good("1", "1,44,46", "+1, +44")
    | bad("abc", "1234", "1;44", "-1", "4", "1,999"),
    "ANONYMOUS_CALLERS": good("accept", "reject", "REJECT", "Accept") | bad("maybe", "yes", "0"),
    "REJECT_SIP_STATUS": integers(400, 699),
    "CALLER_MEMORY": good("off", "OFF", "on", "On") | bad("yes", "true", "1", "enabled"),
}
CALLER_KEY = "CALL_STORE_CALLER_KEY"
"""Read by the call store, not the loader; the loader only checks that memory has it."""


KNOWN = tuple(VALUES)
"""Every variable the loader reads: each has a strategy of good and bad values above."""


@st.composite
def environments(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, bool | None]]:
    """An environment and, per known variable, whether it must be accepted (None: no opinion)."""
    env: dict[str, str] = {}
    verdicts: dict[str, bool | None] = {}
    for name in KNOWN:
        choice = draw(st.sampled_from(["absent", "blank", "value", "value", "value", "random"]))
        if choice == "absent":
            verdicts[name] = name not in REQUIRED
        elif choice == "blank":
            env[name] = draw(blank)
            verdicts[name] = name not in REQUIRED
        elif choice == "value":
            value = draw(spaced(VALUES[name]))
            env[name] = value.text
            verdicts[name] = value.valid
        else:
            env[name] = draw(text)
            verdicts[name] = None
    if draw(st.booleans()):
        env[CALLER_KEY] = draw(st.sampled_from(["k" * 40, " ", ""]))
    for name in KNOWN:
        if name in ("OPENAI_WEBHOOK_SECRET", "AZURE_OPENAI_API_KEY") and verdicts[name] is None:
            env[name] = draw(secret("", None)).text  # random, but still recognisably secret
    _judge_across_variables(env, verdicts)
    others = st.text(min_size=1).filter(lambda k: k not in KNOWN and k != CALLER_KEY)
    env.update(draw(st.dictionaries(others, text)))
    return env, verdicts


def _judge_across_variables(env: dict[str, str], verdicts: dict[str, bool | None]) -> None:
    """Verdicts that depend on another variable: the slice on functionTimeout, the national
    numbers on DEFAULT_REGION, the configured targets on TRANSFER_ALLOWED_TARGETS, caller
    memory on the caller index's key."""
    memory_on = env.get("CALLER_MEMORY", "").strip().lower() == "on"
    if memory_on and verdicts["CALLER_MEMORY"] and not env.get(CALLER_KEY, "").strip():
        verdicts["CALLER_MEMORY"] = False
    timeout = env.get("AzureFunctionsJobHost__functionTimeout", "").strip() or "00:30:00"
    slice_text = env.get("MONITOR_SLICE_SECONDS", "").strip() or "1500"
    if timeout not in TIMEOUTS:
        verdicts["MONITOR_SLICE_SECONDS"] = None
    elif verdicts["MONITOR_SLICE_SECONDS"] and (limit := TIMEOUTS[timeout]) is not None:
        verdicts["MONITOR_SLICE_SECONDS"] = int(slice_text) <= limit - 300
    if verdicts["DEFAULT_REGION"] is not True:
        for name in ("CALLER_ALLOWLIST", "CALLER_BLOCKLIST"):
            verdicts[name] = None if verdicts[name] is False else verdicts[name]
    if verdicts["TRANSFER_ALLOWED_TARGETS"] is None:
        for name in ("TRANSFER_TARGET_URI", "TRANSFER_FALLBACK_URI", "TRANSFER_TARGETS"):
            verdicts[name] = None if verdicts[name] else verdicts[name]


@CAMPAIGN
@given(generated=environments())
def test_settings_load_or_fail_naming_every_bad_variable_without_secrets(
    generated: tuple[dict[str, str], dict[str, bool | None]],
) -> None:
    env, verdicts = generated
    try:
        settings = Settings.from_env(env)
    except SettingsError as error:
        message = str(error)
        header, *lines = message.split("\n")
        assert header == "Invalid settings:"
        assert lines
        named = set()
        for line in lines:
            name = line.removeprefix("- ").split(" ", 1)[0]
            assert line.startswith("- "), line
            assert name in KNOWN, line
            named.add(name)
        assert {n for n, ok in verdicts.items() if ok is False} <= named
        assert not {n for n, ok in verdicts.items() if ok is True} & named
        assert MARK not in message
        for name in ("OPENAI_WEBHOOK_SECRET", "AZURE_OPENAI_API_KEY"):
            if env.get(name, "").strip():
                assert env[name].strip() not in message
    else:
        assert isinstance(settings, Settings)
        assert not [n for n, ok in verdicts.items() if ok is False]
        assert settings.webhook_secret.startswith("whsec_")
        assert 60 <= settings.monitor_slice_seconds <= SLICE_LIMIT
        assert 1 <= settings.transfer_verify_seconds <= 300
        assert 400 <= settings.policy.refusal_status <= 699
        assert settings.agent.voice in VOICES
        assert settings.api_base_url.endswith("/openai/v1")


def test_the_campaign_covers_every_variable_the_loader_reads() -> None:
    source = Path(settings_module.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r'reader\.(?:get|optional)\(\s*"([A-Za-z0-9_]+)"', source))
    assert "AZURE_OPENAI_ENDPOINT" in read, "settings.py no longer reads variables like this"
    assert read == set(KNOWN)
