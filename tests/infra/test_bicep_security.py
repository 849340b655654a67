"""Structural security checks of every .bicep file in infra/, parsed with pycep-parser.

checkov (infra/check) runs generic rules; these tests assert what this app promises: no shared-key
storage, no key-bearing connection strings, no plain secrets in app settings, the managed
identity on every data-plane connection, the role assignments it needs, and the Flex
Consumption set-up the Durable monitor relies on. Each checker is also fed a known-bad snippet,
so a checker that silently stopped finding anything would fail here.

pycep-parser is pinned to the version checkov pins, so a file these tests parse is a file
checkov parses (pycep 0.5.1 rejects, e.g., 10 consecutive comment lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

Doc = dict[str, Any]

ROLE_IDS = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
OPENAI_ROLE_IDS = {
    "a97b65f3-24c7-4388-baec-2e87135dc908",  # Cognitive Services User
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",  # Cognitive Services OpenAI User
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# What the app reads (the contract in docs/deploy.md); the Bicep must set every one.
REQUIRED_SETTINGS = {
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_ANALYSIS_DEPLOYMENT",
    "OPENAI_WEBHOOK_SECRET",
    "AZURE_CLIENT_ID",
    "CALL_INSTRUCTIONS",
    "CALL_VOICE",
    "CALL_GREETING",
    "TRANSFER_TARGET_URI",
    "MONITOR_SLICE_SECONDS",
    "CALL_TRANSCRIPTION_MODEL",
    "TRANSFER_VERIFY_SECONDS",
    "MAX_CALL_SECONDS",
    "CALLER_ALLOWLIST",
    "CALLER_BLOCKLIST",
    "ALLOWED_COUNTRY_CODES",
    "CALLER_ID_HEADER",
    "DEFAULT_REGION",
    "ANONYMOUS_CALLERS",
    "REJECT_SIP_STATUS",
    "AGENT_DEFINITION",
    "TRANSFER_TARGETS",
    "TRANSFER_ALLOWED_TARGETS",
    "TRANSFER_FALLBACK_URI",
    "RING_TIMEOUT_SECONDS",
    "SILENCE_SECONDS",
    "MAX_CONCURRENT_CALLS",
    "BUSINESS_HOURS",
    "BUSINESS_TIME_ZONE",
    "AFTER_HOURS",
    "AFTER_HOURS_SIP_STATUS",
    "USAGE_PRICES",
    "CALL_RECORD_RETENTION_DAYS",
    "CALL_STORE_NAME",
    "CALL_STORE_CALLER_KEY",
    "CALL_EVENTS_URL",
    "CALL_EVENTS_SECRET",
    "CALL_EVENTS_RETRY_SECONDS",
    "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
# Never in Azure: a key-based OpenAI client, a storage connection string, the Flex-rejected runtime
# setting and the Azure Files content share (Consumption/Premium only, needs a key).
FORBIDDEN_SETTINGS = {
    "AZURE_OPENAI_API_KEY",
    "AzureWebJobsStorage",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "FUNCTIONS_WORKER_RUNTIME",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|KEY$|TOKEN|CONNECTION_?STRING|SAS\b", re.I)
# An App Insights connection string holds only the instrumentation key, an identifier: with
# DisableLocalAuth the service accepts only Entra-authenticated ingestion.
# The scheduler's connection string names an endpoint and the managed identity, never a key
# (test_durable_backends checks its form).
NOT_SECRET = {
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "appInsightsConnectionString",
}
KEY_MATERIAL = re.compile(
    r"AccountKey=|SharedAccessKey|SharedAccessSignature|DefaultEndpointsProtocol=|"
    r"\blist(Keys|Key|ConnectionStrings|AccountSas|ServiceSas|Credentials?|Secrets)\b|"
    r"\bprimaryKey\b|\bsecondaryKey\b|\bkey1\b|\bkey2\b",
)


PARSER = BicepParser()  # building the grammar is the slow part: build it once


def parse(text: str) -> Doc:
    # pycep types its result as a TypedDict; the checkers walk it as plain JSON.
    return cast(Doc, PARSER.parse(text=text))


@cache
def parsed(path: Path) -> Doc:
    return parse(path.read_text(encoding="utf-8"))


def walk(node: Any) -> Iterator[Any]:
    """Every dict, list and scalar below node (dict keys included as strings)."""
    yield node
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def resources(doc: Doc, type_: str | None = None) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(symbol, type, config) of resources the file declares (not `existing` ones)."""
    for symbol, resource in (doc.get("resources") or {}).items():
        if resource.get("existing"):
            continue
        config = resource.get("config") or {}
        if "condition" in config and "config" in config:
            config = config["config"]
        if type_ is None or resource["type"].lower() == type_.lower():
            yield symbol, resource["type"], config


def get(config: dict[str, Any], *path: str) -> Any:
    """Nested property, matching keys case-insensitively (ARM is case-insensitive)."""
    node: Any = config
    for key in path:
        if not isinstance(node, dict):
            return None
        lowered = {str(k).lower(): v for k, v in node.items()}
        node = lowered.get(key.lower())
    return node


def resolve(doc: Doc, node: Any) -> Any:
    """Follow a variable name, or a parameter name to its default."""
    if isinstance(node, str):
        if node in (doc.get("variables") or {}):
            return resolve(doc, doc["variables"][node]["value"])
        if node in (doc.get("parameters") or {}):
            return resolve(doc, doc["parameters"][node].get("default"))
    return node


def app_settings(doc: Doc) -> dict[str, Any] | None:
    """The app settings the file sets (sites/config 'appsettings' or siteConfig.appSettings)."""
    found: dict[str, Any] | None = None
    for _, _, config in resources(doc, "Microsoft.Web/sites/config"):
        if config.get("name") != "appsettings":
            continue
        found = found or {}
        properties = resolve(doc, config.get("properties"))
        parts = [properties]
        if isinstance(properties, dict) and get(properties, "function", "type") == "union":
            parts = [resolve(doc, arg) for arg in properties["function"]["parameters"].values()]
        for part in list(parts):  # a conditional part (backend-specific settings): both branches
            if isinstance(part, dict) and get(part, "operator", "type") == "conditional":
                branches = part["operator"]["operands"]
                parts += [resolve(doc, branches[key]) for key in ("true_value", "false_value")]
        for part in parts:
            if isinstance(part, dict) and ("operator" in part or "function" in part):
                continue
            if isinstance(part, dict):
                found.update(part)
    for _, _, config in resources(doc, "Microsoft.Web/sites"):
        listed = resolve(doc, get(config, "properties", "siteConfig", "appSettings"))
        if isinstance(listed, list):
            found = found or {}
            found.update({item["name"]: item.get("value") for item in listed if "name" in item})
    return found


# --- the checkers ------------------------------------------------------------------------------


def storage_violations(doc: Doc) -> list[str]:
    problems = []
    for symbol, _, config in resources(doc, "Microsoft.Storage/storageAccounts"):
        expected = {
            "allowSharedKeyAccess": False,
            "allowBlobPublicAccess": False,
            "supportsHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
        }
        for key, value in expected.items():
            actual = resolve(doc, get(config, "properties", key))
            if actual != value:
                problems.append(f"storage {symbol}: {key} is {actual!r}, must be {value!r}")
    return problems


def key_material_violations(doc: Doc) -> list[str]:
    """Account keys, listKeys()/list*() calls, key-bearing connection strings anywhere."""
    problems = []
    for node in walk({k: v for k, v in doc.items() if k != "globals"}):
        if isinstance(node, str) and KEY_MATERIAL.search(node):
            problems.append(f"key material: {node[:120]!r}")
        elif isinstance(node, dict):
            function = node.get("function")
            if isinstance(function, dict) and function.get("type") == "list_func":
                name = function.get("parameters", {}).get("func_name")
                problems.append(f"key material: call to {name}()")
    for name, param in (doc.get("parameters") or {}).items():
        secure = any(d.get("type") == "secure" for d in param.get("decorators", []))
        secret_like = SECRET_NAME.search(name) and name not in NOT_SECRET
        secret_like = secret_like and not re.search(r"(Name|Uri|Url|Id)$", name)
        if secret_like and not secure:
            problems.append(f"parameter {name} looks like a secret but is not @secure()")
    return problems


def from_key_vault(value: Any) -> bool:
    """A Key Vault reference, or a condition whose every branch is one or empty (secret off)."""
    if isinstance(value, str):
        return value.startswith("@Microsoft.KeyVault(SecretUri=")
    conditional = value.get("operator") if isinstance(value, dict) else None
    if not (isinstance(conditional, dict) and conditional.get("type") == "conditional"):
        return False
    branches = [conditional["operands"][key] for key in ("true_value", "false_value")]
    return any(b != "" for b in branches) and all(b == "" or from_key_vault(b) for b in branches)


def settings_violations(settings: dict[str, Any]) -> list[str]:
    problems = []
    for name, value in settings.items():
        if name in FORBIDDEN_SETTINGS:
            problems.append(f"app setting {name} must not be set")
        elif (
            SECRET_NAME.search(name)
            and name not in NOT_SECRET
            and not name.endswith("Name")  # names another setting, e.g. connectionStringName
            and not from_key_vault(value)
        ):
            problems.append(f"app setting {name} holds a secret outside Key Vault: {value!r}")
    if settings.get("AzureWebJobsStorage__credential") != "managedidentity":
        problems.append("AzureWebJobsStorage__credential must be 'managedidentity'")
    auth = settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING")
    if not (isinstance(auth, str) and "Authorization=AAD" in auth and "ClientId=" in auth):
        problems.append("APPLICATIONINSIGHTS_AUTHENTICATION_STRING must be ClientId=...;AAD")
    missing = REQUIRED_SETTINGS - settings.keys()
    if missing:
        problems.append(f"app settings missing: {sorted(missing)}")
    return problems


def identity_violations(doc: Doc) -> list[str]:
    """The managed identity (and no local auth) on every data-plane connection."""
    problems = []
    for symbol, _, config in resources(doc, "Microsoft.Web/sites"):
        identity_type = str(get(config, "identity", "type") or "")
        if "UserAssigned" not in identity_type:
            problems.append(f"site {symbol}: no user-assigned identity")
        if not get(config, "properties", "keyVaultReferenceIdentity"):
            problems.append(f"site {symbol}: keyVaultReferenceIdentity not set")
        auth = get(config, "properties", "functionAppConfig", "deployment", "storage",
                   "authentication", "type")  # fmt: skip
        if auth != "UserAssignedIdentity":
            problems.append(f"site {symbol}: deployment storage auth is {auth!r}")
        if get(config, "properties", "httpsOnly") is not True:
            problems.append(f"site {symbol}: httpsOnly must be true")
        if get(config, "properties", "siteConfig", "ftpsState") != "Disabled":
            problems.append(f"site {symbol}: ftpsState must be 'Disabled'")
        if get(config, "properties", "siteConfig", "minTlsVersion") != "1.2":
            problems.append(f"site {symbol}: minTlsVersion must be '1.2'")
    for symbol, _, config in resources(doc, "Microsoft.Insights/components"):
        if resolve(doc, get(config, "properties", "DisableLocalAuth")) is not True:
            problems.append(f"Application Insights {symbol}: DisableLocalAuth must be true")
    for symbol, _, config in resources(doc, "Microsoft.OperationalInsights/workspaces"):
        if resolve(doc, get(config, "properties", "features", "disableLocalAuth")) is not True:
            problems.append(f"Log Analytics {symbol}: features.disableLocalAuth must be true")
    for symbol, _, config in resources(doc, "Microsoft.CognitiveServices/accounts"):
        if resolve(doc, get(config, "properties", "disableLocalAuth")) is not True:
            problems.append(f"Azure OpenAI {symbol}: disableLocalAuth must default to true")
        if not get(config, "properties", "customSubDomainName"):
            problems.append(f"Azure OpenAI {symbol}: Entra auth needs a customSubDomainName")
    for symbol, _, config in resources(doc, "Microsoft.KeyVault/vaults"):
        for key in ("enableRbacAuthorization", "enableSoftDelete", "enablePurgeProtection"):
            if resolve(doc, get(config, "properties", key)) is not True:
                problems.append(f"Key Vault {symbol}: {key} must be true")
        if get(config, "properties", "accessPolicies"):
            problems.append(f"Key Vault {symbol}: RBAC mode, no access policies")
    return problems


def granted_roles(doc: Doc) -> set[str]:
    """Role definition GUIDs of the role assignments in the file (through variables)."""
    roles: set[str] = set()
    for _, _, config in resources(doc, "Microsoft.Authorization/roleAssignments"):
        expression = get(config, "properties", "roleDefinitionId")
        for node in walk(expression):
            for value in walk(resolve(doc, node)) if isinstance(node, str) else ():
                if isinstance(value, str):
                    roles.update(GUID.findall(value))
    return roles


def role_violations(docs: list[Doc]) -> list[str]:
    granted: set[str] = set()
    for doc in docs:
        granted |= granted_roles(doc)
    problems = [f"role {name} not assigned" for name, id_ in ROLE_IDS.items() if id_ not in granted]
    if not granted & OPENAI_ROLE_IDS:
        problems.append("neither Cognitive Services User nor OpenAI User assigned")
    return problems


# --- the real templates ------------------------------------------------------------------------


def all_docs() -> list[Doc]:
    return [parsed(path) for path in BICEP_FILES]


def the_settings() -> dict[str, Any]:
    found = [s for s in (app_settings(doc) for doc in all_docs()) if s is not None]
    assert len(found) == 1, "expected exactly one file that sets app settings"
    return found[0]


def test_infra_has_the_expected_modules() -> None:
    names = {path.relative_to(INFRA).as_posix() for path in BICEP_FILES}
    assert "main.bicep" in names
    assert len(names) >= 8, names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_bicep_file_parses(path: Path) -> None:
    doc = parsed(path)
    assert doc.get("resources") or doc.get("modules"), f"{path} declares nothing"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_no_key_material_and_secure_storage_and_identity(path: Path) -> None:
    doc = parsed(path)
    assert storage_violations(doc) == []
    assert key_material_violations(doc) == []
    assert identity_violations(doc) == []


def test_storage_account_is_declared_once_with_the_three_services() -> None:
    types = [t.lower() for doc in all_docs() for _, t, _ in resources(doc)]
    assert types.count("microsoft.storage/storageaccounts") == 1
    for service in ("blobServices", "queueServices", "tableServices", "blobServices/containers"):
        assert f"microsoft.storage/storageaccounts/{service.lower()}" in types


def test_app_settings_are_identity_based_and_hold_no_plain_secret() -> None:
    settings = the_settings()
    assert settings_violations(settings) == []
    for name in ("OPENAI_WEBHOOK_SECRET", "CALL_STORE_CALLER_KEY"):
        assert settings[name].startswith("@Microsoft.KeyVault(SecretUri="), name
    events = settings["CALL_EVENTS_SECRET"]["operator"]["operands"]
    assert events["true_value"] == ""
    assert events["false_value"] == "@Microsoft.KeyVault(SecretUri=${callEventsSecretUri})"


def test_role_assignments_cover_every_data_plane_connection() -> None:
    assert role_violations(all_docs()) == []


def test_app_role_assignments_target_a_service_principal() -> None:
    for doc in all_docs():
        for symbol, _, config in resources(doc, "Microsoft.Authorization/roleAssignments"):
            principal = get(config, "properties", "principalId")
            if principal == "appPrincipalId":
                assert get(config, "properties", "principalType") == "ServicePrincipal", symbol


def test_flex_consumption_plan_and_runtime() -> None:
    doc = parsed(INFRA / "modules" / "functionapp.bicep")
    [(_, _, plan)] = resources(doc, "Microsoft.Web/serverfarms")
    assert get(plan, "sku", "name") == "FC1"
    assert get(plan, "sku", "tier") == "FlexConsumption"
    assert get(plan, "properties", "reserved") is True
    [(_, _, site)] = resources(doc, "Microsoft.Web/sites")
    config = get(site, "properties", "functionAppConfig")
    assert get(config, "runtime") == {"name": "python", "version": "3.11"}
    scale = get(config, "scaleAndConcurrency")
    assert scale["maximumInstanceCount"] in doc["parameters"]
    always_ready = resolve(doc, scale["alwaysReady"])
    assert "durable" in str(always_ready)
    assert "azd-service-name" in str(get(site, "tags"))


def test_function_timeout_fits_the_monitor_slice() -> None:
    doc = parsed(INFRA / "modules" / "functionapp.bicep")
    settings = the_settings()
    assert settings["AzureFunctionsJobHost__functionTimeout"] == "functionTimeout"
    slice_param = doc["parameters"]["monitorSliceSeconds"]
    limits = {d["type"]: d["argument"] for d in slice_param["decorators"]}
    # slice + 300 s margin must stay within Flex's 60-minute scale-in grace.
    assert limits["max_value"] + 300 <= 3600
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["monitorSliceSeconds"]["default"] == 1500  # -> 00:30:00


def test_outputs_give_the_webhook_url_and_the_sip_uri() -> None:
    main = parsed(INFRA / "main.bicep")
    outputs = main["outputs"]
    assert "/api/calls/incoming" in outputs["WEBHOOK_URL"]["value"]
    assert outputs["WEBHOOK_URL"]["value"].startswith("https://")
    access = parsed(INFRA / "modules" / "openai-access.bicep")
    sip = access["outputs"]["sipUri"]["value"]
    assert sip.startswith("sip:proj_${")
    assert sip.endswith(".sip.ai.azure.com;transport=tls")
    expected = {
        "AZURE_FUNCTION_APP_NAME",
        "SIP_URI",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_KEY_VAULT_URI",
        "WEBHOOK_SECRET_NAME",
        "AZURE_FUNCTION_APP_ID",
    }
    assert expected <= set(outputs)


def test_openai_regions_are_the_sip_regions() -> None:
    main = parsed(INFRA / "main.bicep")
    decorators = main["parameters"]["openAiLocation"]["decorators"]
    allowed = next(d["argument"] for d in decorators if d["type"] == "allowed")
    assert sorted(allowed) == ["eastus2", "swedencentral"]


# --- the checkers catch known-bad snippets ------------------------------------------------------

BAD_STORAGE = """
resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st'
  properties: {
    allowSharedKeyAccess: true
    minimumTlsVersion: 'TLS1_0'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
  }
}
"""

BAD_KEYS = """
@description('shared key of the account')
param storageKey string
resource st 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'st'
}
var conn = 'DefaultEndpointsProtocol=https;AccountKey=${st.listKeys().keys[0].value}'
output key string = listKeys(st.id, '2023-05-01').keys[0].value
"""

BAD_SITE = """
param identityId string
var settings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  OPENAI_WEBHOOK_SECRET: 'whsec_plain'
  CALL_EVENTS_SECRET: empty(identityId) ? '' : 'whsec_plain'
  CALL_STORE_CALLER_KEY: empty(identityId) ? '' : ''
  AZURE_OPENAI_API_KEY: '@Microsoft.KeyVault(SecretUri=https://kv/secrets/k)'
}
resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'app'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    httpsOnly: false
    functionAppConfig: {
      deployment: {
        storage: {
          authentication: {
            type: 'StorageAccountConnectionString'
          }
        }
      }
    }
    siteConfig: {
      ftpsState: 'AllAllowed'
    }
  }
}
resource cfg 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: settings
}
resource ai 'Microsoft.Insights/components@2020-02-02' = {
  name: 'ai'
  properties: {
    DisableLocalAuth: false
  }
}
param localAuthOff bool = false
resource oai 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: 'oai'
  properties: {
    disableLocalAuth: localAuthOff
  }
}
resource kv 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv'
  properties: {
    enableRbacAuthorization: false
    enableSoftDelete: true
    accessPolicies: [
      {
        objectId: 'x'
      }
    ]
  }
}
"""

PARTIAL_ROLES = """
var blobOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
resource st 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: 'st'
}
resource blob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid('x')
  scope: st
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobOwner)
    principalId: 'p'
    principalType: 'ServicePrincipal'
  }
}
"""


def test_storage_checker_flags_shared_keys_and_old_tls() -> None:
    problems = storage_violations(parse(BAD_STORAGE))
    assert any("allowSharedKeyAccess" in p for p in problems)
    assert any("minimumTlsVersion" in p for p in problems)
    assert len(problems) == 2


def test_key_material_checker_flags_list_keys_and_connection_strings() -> None:
    problems = key_material_violations(parse(BAD_KEYS))
    assert any("AccountKey=" in p for p in problems)
    assert any("call to listKeys()" in p for p in problems)
    assert any("storageKey" in p and "@secure" in p for p in problems)


def test_settings_and_identity_checkers_flag_a_bad_site() -> None:
    doc = parse(BAD_SITE)
    settings = app_settings(doc)
    assert settings is not None
    problems = settings_violations(settings)
    for name in ("OPENAI_WEBHOOK_SECRET", "CALL_EVENTS_SECRET", "CALL_STORE_CALLER_KEY"):
        assert any(f"{name} holds a secret outside Key Vault" in p for p in problems), name
    assert any("AZURE_OPENAI_API_KEY must not be set" in p for p in problems)
    assert any("missing" in p and "AZURE_CLIENT_ID" in p for p in problems)
    assert any("APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in p for p in problems)
    identity = identity_violations(doc)
    for expected in (
        "no user-assigned identity",
        "keyVaultReferenceIdentity",
        "deployment storage auth",
        "httpsOnly",
        "ftpsState",
        "Application Insights ai: DisableLocalAuth",
        "Azure OpenAI oai: disableLocalAuth",
        "customSubDomainName",
        "enableRbacAuthorization",
        "enablePurgeProtection",
        "no access policies",
    ):
        assert any(expected in p for p in identity), expected


def test_role_checker_reports_each_missing_role() -> None:
    doc = parse(PARTIAL_ROLES)
    assert granted_roles(doc) == {ROLE_IDS["Storage Blob Data Owner"]}
    problems = role_violations([doc])
    assert "role Storage Blob Data Owner not assigned" not in problems
    assert "role Key Vault Secrets User not assigned" in problems
    assert "neither Cognitive Services User nor OpenAI User assigned" in problems
    assert len(problems) == 5
