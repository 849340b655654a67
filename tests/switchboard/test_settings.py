import json
import re
from pathlib import Path

import pytest

from switchboard.settings import (
    MONITOR_SLICE_MARGIN_SECONDS,
    MONITOR_SLICE_MAX_SECONDS,
    Settings,
    SettingsError,
)
from switchboard.usage import Prices

SECRET = "whsec_c3dpdGNoYm9hcmQtbG9jYWwtZW11bGF0b3Itc2VjcmV0"
BASE = {
    "AZURE_OPENAI_ENDPOINT": "https://contoso.openai.azure.com/",
    "AZURE_OPENAI_DEPLOYMENT": "gpt-realtime",
    "OPENAI_WEBHOOK_SECRET": SECRET,
}


def test_minimal_settings_take_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.api_base_url == "https://contoso.openai.azure.com/openai/v1"
    assert settings.api_key is None
    assert settings.agent.voice == "marin"
    assert settings.monitor_slice_seconds == 1500
    assert settings.policy.refusal_status == 603
    assert not settings.policy.reject_anonymous


def test_every_problem_is_reported_by_name_in_one_error() -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": "ftp://nope",
        "OPENAI_WEBHOOK_SECRET": "whsec_supersecretvalue-but-wrong?",
        "CALL_VOICE": "robot",
        "MONITOR_SLICE_SECONDS": "abc",
        "TRANSFER_TARGET_URI": "mailto:x@y",
        "CALLER_BLOCKLIST": "+14155550123,555",
        "ANONYMOUS_CALLERS": "maybe",
    }
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    message = str(raised.value)
    for name in (
        "AZURE_OPENAI_ENDPOINT must be an http(s) URL",
        "AZURE_OPENAI_DEPLOYMENT is required",
        "CALL_VOICE must be one of",
        "MONITOR_SLICE_SECONDS must be an integer between 60 and 3300, got 'abc'",
        "TRANSFER_TARGET_URI must be a tel:",
        "CALLER_BLOCKLIST must be comma-separated phone numbers",
        "ANONYMOUS_CALLERS must be 'accept' or 'reject'",
    ):
        assert name in message
    assert "OPENAI_WEBHOOK_SECRET" not in message  # well-formed enough: starts with whsec_


def test_secret_values_never_appear_in_errors() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, "OPENAI_WEBHOOK_SECRET": "hunter2-is-my-secret"})
    assert "OPENAI_WEBHOOK_SECRET must be the webhook signing secret" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_plain_http_only_for_loopback() -> None:
    assert Settings.from_env({**BASE, "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:8765"})
    with pytest.raises(SettingsError, match="must use https"):
        Settings.from_env({**BASE, "AZURE_OPENAI_ENDPOINT": "http://contoso.example"})


def test_policy_lists_are_parsed() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "CALLER_BLOCKLIST": "+14155550123, +14155550124",
            "ALLOWED_COUNTRY_CODES": "+1,46",
            "ANONYMOUS_CALLERS": "reject",
            "REJECT_SIP_STATUS": "403",
        }
    )
    assert settings.policy.blocklist == {"+14155550123", "+14155550124"}
    assert settings.policy.country_codes == {1, 46}
    assert settings.policy.reject_anonymous
    assert settings.policy.refusal_status == 403


def test_plan_snapshots_what_the_orchestrator_needs() -> None:
    plan = Settings.from_env({**BASE, "TRANSFER_TARGET_URI": "sip:desk@example.com"}).plan()
    assert plan.transfer_target == "sip:desk@example.com"
    assert plan.slice_seconds == 1500


def test_receptionist_settings_are_parsed() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "MAX_CONCURRENT_CALLS": "12",
            "RING_TIMEOUT_SECONDS": "15",
            "SILENCE_SECONDS": "0",
            "BUSINESS_HOURS": "mon-fri 09:00-17:00",
            "BUSINESS_TIME_ZONE": "Europe/Stockholm",
            "AFTER_HOURS": "accept",
            "TRANSFER_TARGETS": "Sales=tel:+14155550111, support=sip:help@pbx.example.com",
            "TRANSFER_FALLBACK_URI": "tel:+14155550199",
            "USAGE_PRICES": "audio_out=80",
        }
    )
    plan = settings.plan()
    assert (plan.max_concurrent_calls, plan.ring_timeout_seconds, plan.silence_seconds) == (
        12,
        15,
        0,
    )
    assert plan.target_for("SALES") == "tel:+14155550111"
    assert plan.target_for("billing") is None  # no default target set
    assert plan.transfer_fallback == "tel:+14155550199"
    assert plan.prices.audio_out == 80
    assert plan.prices.text_in == 4.0
    assert settings.policy.after_hours_accept
    assert settings.policy.hours is not None
    assert settings.policy.hours.zone == "Europe/Stockholm"
    assert type(plan).from_dict(plan.to_dict()) == plan


def test_bad_receptionist_settings_are_named() -> None:
    env = {
        **BASE,
        "MAX_CONCURRENT_CALLS": "-1",
        "BUSINESS_HOURS": "weekdays 9-5",
        "BUSINESS_TIME_ZONE": "Nowhere/Special",
        "AFTER_HOURS": "voicemail",
        "TRANSFER_TARGETS": "sales=+1415",
        "USAGE_PRICES": "gold=1",
        "AGENT_DEFINITION": "agents/missing.toml",
    }
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    message = str(raised.value)
    for expected in (
        "MAX_CONCURRENT_CALLS must be an integer between 0 and 100000",
        "BUSINESS_HOURS has a window 'weekdays 9-5'",
        "BUSINESS_TIME_ZONE must be an IANA time zone",
        "AFTER_HOURS must be 'accept' or 'reject'",
        "TRANSFER_TARGETS must be department=target pairs",
        "USAGE_PRICES must be name=price pairs",
        "AGENT_DEFINITION names an agent definition",
        "cannot be read",
    ):
        assert expected in message


def test_the_sample_agent_needs_a_target_for_each_department() -> None:
    env = {**BASE, "AGENT_DEFINITION": "agents/front_desk.toml"}
    with pytest.raises(SettingsError, match=r"TRANSFER_TARGETS has no target .*'sales', 'support'"):
        Settings.from_env(env)
    with_default = Settings.from_env({**env, "TRANSFER_TARGET_URI": "tel:+14155550100"})
    assert with_default.agent.departments.keys() == {"sales", "support"}
    targets = "sales=tel:+14155550111,support=tel:+14155550112"
    assert (
        Settings.from_env({**env, "TRANSFER_TARGETS": targets})
        .plan()
        .greeting.startswith("Hello, thanks for calling Contoso")
    )


def test_single_settings_override_the_agent_file() -> None:
    env = {
        **BASE,
        "AGENT_DEFINITION": "agents/front_desk.toml",
        "TRANSFER_TARGET_URI": "tel:+14155550100",
        "CALL_GREETING": "Hi!",
        "CALL_VOICE": "cedar",
    }
    agent = Settings.from_env(env).agent
    assert (agent.greeting, agent.voice) == ("Hi!", "cedar")
    assert agent.instructions.startswith("You are the front desk of Contoso")


def test_the_local_example_settings_load() -> None:
    example = Path(__file__).resolve().parents[2] / "local.settings.json.example"
    values = json.loads(example.read_text(encoding="utf-8"))["Values"]
    settings = Settings.from_env(values)
    assert settings.agent.departments.keys() == {"sales", "support"}
    assert settings.plan().target_for("support") == "tel:+14155550112"


def test_record_retention_days_defaults_to_30_and_takes_1_to_3650() -> None:
    assert Settings.from_env(BASE).record_retention_days == 30
    for raw, days in (("1", 1), ("3650", 3650), (" 90 ", 90)):
        settings = Settings.from_env({**BASE, "CALL_RECORD_RETENTION_DAYS": raw})
        assert settings.record_retention_days == days


def test_caller_memory_is_off_by_default_and_needs_the_caller_index() -> None:
    assert Settings.from_env(BASE).caller_memory is False
    key = {"CALL_STORE_CALLER_KEY": "k" * 40}
    assert Settings.from_env({**BASE, **key, "CALLER_MEMORY": " On "}).caller_memory is True
    assert Settings.from_env({**BASE, "CALLER_MEMORY": "off"}).caller_memory is False
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, "CALLER_MEMORY": "on"})
    assert "- CALLER_MEMORY must be off without CALL_STORE_CALLER_KEY" in str(raised.value)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, **key, "CALLER_MEMORY": "yes"})
    assert "- CALLER_MEMORY must be 'on' or 'off', got 'yes'" in str(raised.value)


@pytest.mark.parametrize("raw", ["0", "3651", "-5", "30d", "1.5"])
def test_record_retention_days_out_of_range_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, "CALL_RECORD_RETENTION_DAYS": raw})
    expected = f"CALL_RECORD_RETENTION_DAYS must be an integer between 1 and 3650, got {raw!r}"
    assert expected in str(raised.value)


def test_usage_prices_name_overrides_and_reject_the_rest() -> None:
    prices = Settings.from_env({**BASE, "USAGE_PRICES": "audio_out = 80, text_in=3.5"}).prices
    assert prices == Prices(audio_out=80, text_in=3.5)
    assert Settings.from_env({**BASE, "USAGE_PRICES": ""}).prices == Prices()
    for bad in ("gold=1", "audio_out=-1", "audio_out=free", "audio_out"):
        with pytest.raises(SettingsError, match="USAGE_PRICES must be name=price pairs"):
            Settings.from_env({**BASE, "USAGE_PRICES": bad})


def error_of(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**BASE, **env})
    return str(raised.value)


def test_country_codes_are_checked_against_the_real_list() -> None:
    assert "ALLOWED_COUNTRY_CODES must be comma-separated country calling codes" in error_of(
        {"ALLOWED_COUNTRY_CODES": "4"}
    )
    assert "not codes: ['999', '0']" in error_of({"ALLOWED_COUNTRY_CODES": "1,999,0"})


def test_caller_lists_are_normalised_and_national_forms_need_a_region() -> None:
    env = {"CALLER_BLOCKLIST": "+1 (415) 555-0123, 4155550124", "DEFAULT_REGION": "us"}
    settings = Settings.from_env({**BASE, **env})
    assert settings.policy.blocklist == {"+14155550123", "+14155550124"}
    assert settings.policy.region == "US"
    message = error_of({"CALLER_ALLOWLIST": "4155550124"})
    assert "CALLER_ALLOWLIST must be comma-separated phone numbers" in message
    assert "national forms need DEFAULT_REGION" in message
    assert "DEFAULT_REGION must be a two-letter region code" in error_of({"DEFAULT_REGION": "XX"})


def test_the_caller_id_header_is_from_or_the_asserted_identity() -> None:
    assert Settings.from_env(BASE).policy.caller_id_header == "from"
    trusted = Settings.from_env({**BASE, "CALLER_ID_HEADER": "P-Asserted-Identity"})
    assert trusted.policy.caller_id_header == "p-asserted-identity"
    assert "CALLER_ID_HEADER must be 'from' or 'p-asserted-identity'" in error_of(
        {"CALLER_ID_HEADER": "remote-party-id"}
    )


@pytest.mark.parametrize(
    "target",
    [
        "tel:+14155550123;x=1\r\nX-Evil: 1",
        "sip:desk@pbx.example.com?Replaces=x",
        "sip:desk@pbx.example.com;maddr=evil.example",
        "sip:desk@pbx.example.com\x1b[2J",
        "tel:+1 415 555 0100",
    ],
)
def test_hostile_targets_in_settings_are_refused_at_load(target: str) -> None:
    for name, value in (
        ("TRANSFER_TARGET_URI", target),
        ("TRANSFER_FALLBACK_URI", target),
        ("TRANSFER_TARGETS", f"sales={target}"),
    ):
        assert f"- {name} must be" in error_of({name: value})


def test_configured_targets_must_obey_transfer_allowed_targets() -> None:
    allowed = {"TRANSFER_ALLOWED_TARGETS": "+14155550100, +1415777*, pbx.example.com"}
    settings = Settings.from_env(
        {
            **BASE,
            **allowed,
            "TRANSFER_TARGET_URI": "tel:+14155550100",
            "TRANSFER_TARGETS": "sales=tel:+14157770001,support=sip:help@pbx.example.com",
        }
    )
    assert settings.transfer_rules.admits("tel:+14157770002")
    message = error_of({**allowed, "TRANSFER_FALLBACK_URI": "sip:op@elsewhere.example"})
    assert "TRANSFER_FALLBACK_URI has targets TRANSFER_ALLOWED_TARGETS does not admit" in message
    assert "TRANSFER_ALLOWED_TARGETS must be numbers" in error_of(
        {"TRANSFER_ALLOWED_TARGETS": "sales"}
    )


def test_a_department_the_agent_does_not_have_is_refused() -> None:
    env = {
        "AGENT_DEFINITION": "agents/front_desk.toml",
        "TRANSFER_TARGETS": "suport=tel:+14155550112,sales=tel:+14155550111",
        "TRANSFER_TARGET_URI": "tel:+14155550100",
    }
    message = error_of(env)
    assert "TRANSFER_TARGETS names departments the agent does not have: ['suport']" in message
    assert "the agent's departments: ['sales', 'support']" in message
    capitalised = {**env, "TRANSFER_TARGETS": "Sales=tel:+14155550111,SUPPORT=tel:+14155550112"}
    assert Settings.from_env({**BASE, **capitalised}).plan().target_for("support")


def test_capitalised_departments_in_the_agent_file_are_accepted(tmp_path: Path) -> None:
    agent = tmp_path / "agent.toml"
    agent.write_text('[departments]\nSales = "orders"\nSupport = "problems"\n', "utf-8")
    env = {
        "AGENT_DEFINITION": str(agent),
        "TRANSFER_TARGETS": "sales=tel:+14155550111,support=tel:+14155550112",
    }
    settings = Settings.from_env({**BASE, **env})
    assert dict(settings.agent.departments) == {"sales": "orders", "support": "problems"}


@pytest.mark.parametrize(
    ("timeout", "slice_seconds", "ok"),
    [
        (None, "1500", True),  # host.json: 00:30:00
        (None, "1501", False),
        (None, "3600", False),
        ("00:58:00", "3180", True),  # what the Bicep sets for a 3180 s slice
        ("00:58:00", "3181", False),
        ("01:00:00", "3300", True),
        ("1.00:00:00", "3301", False),  # never above the Flex scale-in bound
        ("-1", "3300", True),
    ],
)
def test_a_slice_the_host_would_kill_is_refused(
    timeout: str | None, slice_seconds: str, ok: bool
) -> None:
    env = {"MONITOR_SLICE_SECONDS": slice_seconds}
    if timeout is not None:
        env["AzureFunctionsJobHost__functionTimeout"] = timeout
    if ok:
        assert Settings.from_env({**BASE, **env}).monitor_slice_seconds == int(slice_seconds)
    else:
        assert "- MONITOR_SLICE_SECONDS must be" in error_of(env)


def test_the_slice_bound_is_the_one_the_bicep_and_host_json_use() -> None:
    root = Path(__file__).resolve().parents[2]
    host = json.loads((root / "host.json").read_text("utf-8"))
    hours, minutes, seconds = map(int, host["functionTimeout"].split(":"))
    assert (hours * 60 + minutes) * 60 + seconds - MONITOR_SLICE_MARGIN_SECONDS == 1500
    module = (root / "infra" / "modules" / "functionapp.bicep").read_text("utf-8")
    caps = re.findall(r"@maxValue\((\d+)\)\s*param monitorSliceSeconds", module)
    caps += re.findall(
        r"@maxValue\((\d+)\)\s*param monitorSliceSeconds",
        (root / "infra" / "main.bicep").read_text("utf-8"),
    )
    assert caps == [str(MONITOR_SLICE_MAX_SECONDS)] * 2
    assert f"monitorSliceSeconds + {MONITOR_SLICE_MARGIN_SECONDS}" in module


def test_each_problem_stays_on_its_own_line_whatever_the_value() -> None:
    env = {"AGENT_DEFINITION": "agents/x\n- FORGED is fine", "CALLER_BLOCKLIST": "1\r\n2"}
    lines = error_of(env).split("\n")
    assert lines[0] == "Invalid settings:"
    assert [line.split(" ")[1] for line in lines[1:]] == ["AGENT_DEFINITION", "CALLER_BLOCKLIST"]
