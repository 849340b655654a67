"""The app settings the Bicep sets, evaluated and handed to the app's own loaders.

Values only Azure knows while deploying (endpoints, the identity, Key Vault references once the
platform resolved them) get stand-ins of the real form; everything else is what the template
computes. The app must accept the result, so a parameter the Bicep passes in a form the app
refuses fails here, not at the first call.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from switchboard.events import EventsConfig
from switchboard.settings import Settings, SettingsError
from switchboard.store.account import StoreConfig
from switchboard.webhook import MAX_BODY_BYTES
from tests.infra.bicep_eval import Context, Report, Template, parsed
from tests.infra.bicep_values import DeployTime

INFRA = Path(__file__).resolve().parents[2] / "infra"
MAIN = INFRA / "main.bicep"
EVENTS_SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
# What the platform puts where the template has only a deploy-time value.
RESOLVED = {
    "AzureWebJobsStorage__clientId": "6f1c3a52-0000-4000-8000-000000000001",
    "AzureWebJobsStorage__blobServiceUri": "https://stswitchbd.blob.core.windows.net/",
    "AzureWebJobsStorage__queueServiceUri": "https://stswitchbd.queue.core.windows.net/",
    "AzureWebJobsStorage__tableServiceUri": "https://stswitchbd.table.core.windows.net/",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=0000;IngestionEndpoint=https://x/",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "ClientId=6f1c;Authorization=AAD",
    "AZURE_CLIENT_ID": "6f1c3a52-0000-4000-8000-000000000001",
    "AZURE_OPENAI_ENDPOINT": "https://oai-switchbd.openai.azure.com",
    "OPENAI_WEBHOOK_SECRET": "whsec_dGhpcyBpcyBub3QgcmVhbA==",
    "CALL_STORE_CALLER_KEY": "k" * 64,
    "CALL_EVENTS_SECRET": EVENTS_SECRET,
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING": "Endpoint=https://dts;Authentication=ManagedIdentity",
}
EVERYTHING_ON = {
    "callerIdHeader": "p-asserted-identity",
    "defaultRegion": "SE",
    "transferAllowedTargets": "+4670*,pbx.example.com",
    "transferTargetUri": "tel:+46701234567",
    "callerAllowlist": "0701234567",  # a national form: read in defaultRegion
    "callEventsUrl": "https://crm.example.com/hooks/calls",
    "callEventsRetrySeconds": "5,30,120",
    "callStoreName": "calls2026",
}


def deploy(**values: Any) -> tuple[Template, Report, dict[str, Any]]:
    report = Report()
    root = Template(MAIN, values, report, Context())
    root.root = True
    root.check()
    app = root.child("functionApp")
    settings: dict[str, Any] = app.eval(app.resources["settings"]["config"]["properties"])
    return root, report, settings


def as_the_app_sees_them(settings: dict[str, Any]) -> dict[str, str]:
    deploy_time = {key for key, value in settings.items() if isinstance(value, DeployTime)}
    assert deploy_time <= set(RESOLVED), f"no stand-in for {sorted(deploy_time - set(RESOLVED))}"
    env = {key: RESOLVED[key] if key in deploy_time else value for key, value in settings.items()}
    assert all(isinstance(value, str) for value in env.values()), "app settings are strings"
    return env


@pytest.mark.parametrize("values", [{}, EVERYTHING_ON], ids=["defaults", "everything on"])
def test_the_app_accepts_every_setting_the_bicep_sets(values: dict[str, Any]) -> None:
    _, report, settings = deploy(**values)
    assert report.problems == []
    env = as_the_app_sees_them(settings)

    loaded = Settings.from_env(env)
    store = StoreConfig.from_env(env)
    events = EventsConfig.from_env(env)

    assert store.caller_secret == RESOLVED["CALL_STORE_CALLER_KEY"].encode()
    assert store.table_url == RESOLVED["AzureWebJobsStorage__tableServiceUri"]
    if values:
        assert loaded.policy.caller_id_header == "p-asserted-identity"
        assert loaded.policy.region == "SE"
        assert loaded.policy.allowlist == frozenset({"+46701234567"})
        assert loaded.transfer_rules.restricted
        assert store.name == "calls2026"
        assert events is not None
        assert events.url == "https://crm.example.com/hooks/calls"
        assert events.retry_seconds == (5.0, 30.0, 120.0)
    else:
        assert loaded.policy.caller_id_header == "from"
        assert loaded.policy.region is None
        assert not loaded.transfer_rules.restricted
        assert store.name == "switchboardcalls"
        assert events is None


def test_the_events_secret_is_referenced_only_with_an_events_url() -> None:
    root, _, off = deploy()
    assert off["CALL_EVENTS_URL"] == off["CALL_EVENTS_SECRET"] == ""
    assert root.output("CALL_EVENTS_SECRET_NAME") == ""  # the hook makes no events secret
    root, _, on = deploy(callEventsUrl="https://crm.example.com/hooks/calls")
    assert isinstance(on["CALL_EVENTS_SECRET"], DeployTime)  # the vault's reference
    assert root.output("CALL_EVENTS_SECRET_NAME") == "call-events-secret"
    assert root.output("CALL_STORE_CALLER_KEY_NAME") == "call-store-caller-key"
    template = parsed(INFRA / "modules" / "functionapp.bicep")
    text = str(template["variables"]["appSettings"]["value"]["CALL_EVENTS_SECRET"])
    assert "callEventsUrl" in text
    assert "@Microsoft.KeyVault(SecretUri=${callEventsSecretUri})" in text


def test_the_host_caps_request_bodies_at_the_apps_limit() -> None:
    _, _, settings = deploy()
    assert settings["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] == str(MAX_BODY_BYTES) == "1048576"


def test_the_analysis_model_is_deployed_after_the_realtime_one_and_named_in_the_settings() -> None:
    root, report, settings = deploy()
    assert report.names["openai.bicep:analysis"] == "call-analysis"
    assert settings["AZURE_OPENAI_ANALYSIS_DEPLOYMENT"] == "call-analysis"
    assert root.output("AZURE_OPENAI_ANALYSIS_DEPLOYMENT") == "call-analysis"
    openai = parsed(INFRA / "modules" / "openai.bicep")
    analysis = openai["resources"]["analysis"]["config"]
    assert analysis["condition"] == "analysisEnabled"
    # Two deployments of one account created at once: the second fails with a conflict.
    assert analysis["config"]["dependsOn"] == ["realtime"]
    model = root.child("openAi")
    assert model.value("analysisModelName") == "gpt-4.1-mini"
    assert model.value("analysisModelVersion") == "2025-04-14"


def test_analysis_off_deploys_no_model_and_leaves_the_setting_empty() -> None:
    root, report, settings = deploy(analysisEnabled=False)
    assert report.problems == []
    assert "openai.bicep:analysis" not in report.names
    assert "openai.bicep:realtime" in report.names
    assert settings["AZURE_OPENAI_ANALYSIS_DEPLOYMENT"] == ""
    assert root.output("AZURE_OPENAI_ANALYSIS_DEPLOYMENT") == ""


def test_an_existing_resource_gets_no_deployment_but_its_analysis_name_is_set() -> None:
    _, report, settings = deploy(existingOpenAiName="oai-mine", analysisDeploymentName="mini")
    assert report.problems == []
    assert not any(name.startswith("openai.bicep:") for name in report.names)
    assert settings["AZURE_OPENAI_ANALYSIS_DEPLOYMENT"] == "mini"


def test_the_template_refuses_a_caller_id_header_the_app_does_not_know() -> None:
    _, report, _ = deploy(callerIdHeader="x-caller")
    assert "main.bicep: parameter callerIdHeader = 'x-caller' is not in " \
        "@allowed(['from', 'p-asserted-identity'])" in report.problems  # fmt: skip


def test_a_region_the_template_cannot_check_is_refused_by_the_app_at_load() -> None:
    # Bicep has no pattern decorator: @maxLength(2) is all it checks, the app checks the rest.
    _, report, settings = deploy(defaultRegion="XX")
    assert report.problems == []
    with pytest.raises(SettingsError, match=r"DEFAULT_REGION must be a two-letter region code"):
        Settings.from_env(as_the_app_sees_them(settings))
