"""The template evaluator on the real templates and on known-bad ones.

Without a Bicep compiler, this is what stands between a template and Resource Manager refusing
it: values against decorators, names against Azure's rules, module calls against the modules'
parameters. Each kind of failure is proven on a known-bad input with its exact message.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.infra import azure_names
from tests.infra.bicep_eval import Context, Template, evaluate
from tests.infra.bicep_expr import parse, split_interpolation
from tests.infra.bicep_values import load_parameters, substitute_azd

INFRA = Path(__file__).resolve().parents[2] / "infra"
MAIN = INFRA / "main.bicep"
PARAMETERS = INFRA / "main.parameters.json"
AZD_ENVIRONMENTS = {
    "azd, a signed-in user": {"AZURE_PRINCIPAL_ID": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
    "azd, a service principal": {
        "AZURE_PRINCIPAL_ID": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "AZURE_PRINCIPAL_TYPE": "ServicePrincipal",
    },
    "azd, Azure Storage backend": {"DURABLE_BACKEND": "azureStorage"},
    "nothing set": {},
}
# Values only Azure knows while deploying: their decorators cannot be checked here, so the list is
# pinned (a new entry must be looked at, not slip through).
DEPLOY_TIME = {
    "dashboard.bicep:appInsightsId",
    "durabletask.bicep:appPrincipalId",
    "functionapp.bicep:appInsightsConnectionString",
    "functionapp.bicep:callEventsSecretUri",
    "functionapp.bicep:callerKeySecretUri",
    "functionapp.bicep:identityClientId",
    "functionapp.bicep:identityId",
    "functionapp.bicep:openAiEndpoint",
    "functionapp.bicep:schedulerEndpoint",
    "functionapp.bicep:webhookSecretUri",
    "functionapp.bicep:workspaceId",
    "keyvault.bicep:workspaceId",
    "openai-access.bicep:appPrincipalId",
    "roles.bicep:appPrincipalId",
}


@pytest.mark.parametrize("env", AZD_ENVIRONMENTS.values(), ids=list(AZD_ENVIRONMENTS))
def test_the_templates_evaluate_cleanly_with_the_parameters_file(env: dict[str, str]) -> None:
    report = evaluate(MAIN, load_parameters(PARAMETERS, env))
    assert report.problems == []
    assert report.deploy_time <= DEPLOY_TIME
    names = set(report.names.values())
    assert any(name.startswith("stswitchbd") for name in names)


def test_the_templates_evaluate_cleanly_with_every_default() -> None:
    report = evaluate(MAIN, {})
    assert report.problems == []
    assert report.deploy_time == DEPLOY_TIME
    for symbol in ("storage.bicep:storage", "keyvault.bicep:vault", "functionapp.bicep:app",
                   "durabletask.bicep:scheduler", "durabletask.bicep:taskHub",
                   "monitoring.bicep:workspace", "monitoring.bicep:appInsights",
                   "identity.bicep:identity", "openai.bicep:account",
                   "dashboard.bicep:workbook"):  # fmt: skip
        assert symbol in report.names, symbol


def test_a_different_region_and_resource_group_change_nothing_but_the_hash() -> None:
    a = evaluate(MAIN, {}, Context(location="eastus2", resource_group="rg-a"))
    b = evaluate(MAIN, {}, Context(location="eastus2", resource_group="rg-b"))
    assert a.problems == b.problems == []
    assert a.names["storage.bicep:storage"] != b.names["storage.bicep:storage"]


# --- known-bad inputs ---------------------------------------------------------------------------


def test_the_old_name_prefix_is_refused_by_its_max_length() -> None:
    report = evaluate(MAIN, {"namePrefix": "switchboard"})
    assert report.problems == [
        "main.bicep: parameter namePrefix = 'switchboard' is 11 long, over @maxLength(10)"
    ]


def test_an_upper_case_name_prefix_breaks_the_storage_naming_rule() -> None:
    report = evaluate(MAIN, {"namePrefix": "Switch"})
    storage = [p for p in report.problems if p.startswith("storage.bicep")]
    assert storage
    assert "must be lowercase letters and digits only" in storage[0]


def test_a_25_letter_storage_name_is_refused() -> None:
    name = "a" * 25
    report = evaluate(INFRA / "modules" / "storage.bicep",
                      {"name": name, "location": "swedencentral",
                       "deploymentContainerName": "app-package-x1"})  # fmt: skip
    assert report.problems == [
        f"storage.bicep: parameter name = '{name}' is 25 long, over @maxLength(24)",
        f"storage.bicep: resource storage (Microsoft.Storage/storageAccounts) name '{name}': "
        "25 characters, must be 3-24",
    ]


def _copy_infra(tmp_path: Path, main_text: str) -> Path:
    shutil.copytree(INFRA / "modules", tmp_path / "modules")
    shutil.copytree(INFRA / "dashboard", tmp_path / "dashboard")
    (tmp_path / "main.bicep").write_text(main_text, encoding="utf-8")
    return tmp_path / "main.bicep"


def test_a_missing_and_an_unknown_module_parameter_are_refused(tmp_path: Path) -> None:
    text = MAIN.read_text(encoding="utf-8")
    text = text.replace("    deploymentContainerName: deploymentContainerName\n", "", 1)
    retention = "    retentionInDays: logRetentionDays\n"
    text = text.replace(retention, retention + "    retentionDays: 30\n", 1)
    report = evaluate(_copy_infra(tmp_path, text), {})
    assert report.problems == [
        "main.bicep: module storage: required parameter deploymentContainerName is not passed",
        "main.bicep: module monitoring: passes retentionDays, which the module does not declare",
    ]


def test_a_construct_the_evaluator_does_not_know_fails_by_name(tmp_path: Path) -> None:
    text = MAIN.read_text(encoding="utf-8").replace(
        "var functionAppName = 'func-${namePrefix}-${token}'",
        "var functionAppName = 'func-${namePrefix}-${dateTimeAdd(utcNow(), 'P1D')}'",
    )
    report = evaluate(_copy_infra(tmp_path, text), {})
    assert "main.bicep: variable functionAppName: cannot evaluate " \
        "(Unsupported: function date_time_add())" in report.problems  # fmt: skip
    assert any("functionapp.bicep" in p or "module functionApp" in p for p in report.problems)


def test_a_for_loop_fails_by_name(tmp_path: Path) -> None:
    path = tmp_path / "loop.bicep"
    path.write_text(
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = [for i in range(0, 2): {\n"
        "  name: 'st${i}'\n}]\n",
        encoding="utf-8",
    )
    assert evaluate(path, {}).problems == [
        "loop.bicep: resource st: cannot evaluate (Unsupported: st is declared with a for loop)"
    ]


def test_wrong_types_and_values_in_the_parameters_file_are_refused() -> None:
    values = load_parameters(PARAMETERS, {"AZURE_PRINCIPAL_TYPE": "Robot"})
    values.update({"maximumInstanceCount": 20, "realtimeDeploymentSku": "Standard",
                   "alwaysReadyHttpInstances": "1", "unknownThing": 1})  # fmt: skip
    problems = evaluate(MAIN, values).problems
    assert [p for p in problems if p.startswith("main.bicep")] == [
        "main.bicep: parameter unknownThing is given a value but not declared",
        "main.bicep: parameter operatorPrincipalType = 'Robot' is not in "
        "@allowed(['User', 'ServicePrincipal', 'Group'])",
        "main.bicep: parameter realtimeDeploymentSku = 'Standard' is not in "
        "@allowed(['GlobalStandard'])",
        "main.bicep: parameter maximumInstanceCount = 20 is under @minValue(40)",
        "main.bicep: parameter alwaysReadyHttpInstances is '1', not of type int",
    ]
    # ... and each module that receives a bad value says so too.
    assert "roles.bicep: parameter operatorPrincipalType = 'Robot' is not in " \
        "@allowed(['User', 'ServicePrincipal', 'Group'])" in problems  # fmt: skip
    too_few = "functionapp.bicep: parameter maximumInstanceCount = 20 is under @minValue(40)"
    assert too_few in problems


def test_the_manual_path_overrides_every_azd_placeholder() -> None:
    raw = json.loads(PARAMETERS.read_text(encoding="utf-8"))["parameters"]
    placeholders = {name for name, p in raw.items() if "${" in json.dumps(p["value"])}
    assert placeholders == {"operatorPrincipalId", "operatorPrincipalType", "durableBackend",
                            "callerIdHeader", "defaultRegion", "transferAllowedTargets",
                            "callEventsUrl"}  # fmt: skip
    guide = (INFRA.parent / "docs" / "deploy.md").read_text(encoding="utf-8")
    manual = guide.split("## Path 2", 1)[1].split("\n## ", 1)[0]
    overridden = {name for name in placeholders if f"{name}=" in manual}
    assert overridden == placeholders
    # az passes the placeholders literally: without the overrides, Resource Manager refuses four
    # (the other two would reach the app as "${...}", which it refuses at load).
    literal = {name: p["value"] for name, p in raw.items()}
    problems = [p for p in evaluate(MAIN, literal).problems if p.startswith("main.bicep")]
    assert sorted(p.split()[2] for p in problems) == [
        "callerIdHeader", "defaultRegion", "durableBackend", "operatorPrincipalType"
    ]  # fmt: skip
    assert all("is not in @allowed" in p or "@maxLength(2)" in p for p in problems)


# --- pieces -------------------------------------------------------------------------------------


def test_azd_substitution_uses_the_environment_then_the_default() -> None:
    value = {"a": "${X}", "b": ["${Y=User}", "${Z=}"], "c": 3}
    assert substitute_azd(value, {"X": "x"}) == {"a": "x", "b": ["User", ""], "c": 3}
    assert substitute_azd("${Y=User}", {"Y": "ServicePrincipal"}) == "ServicePrincipal"


def test_the_function_timeout_is_computed_like_host_json() -> None:
    root = Template(MAIN, {}, evaluate(MAIN, {}), Context())
    app = root.child("functionApp")
    assert app.value("functionTimeout") == "00:30:00"
    assert app.value("alwaysReady") == [
        {"name": "durable", "instanceCount": 1},
        {"name": "http", "instanceCount": 1},
    ]


def test_interpolation_parses_nested_calls_arithmetic_and_literals() -> None:
    parts = split_interpolation("a-${take(token, 8)}-${padLeft(string(x % 60), 2, '0')}")
    assert parts[0] == {"literal": "a-"}
    assert parts[1] == {"function": {"type": "take", "parameters": {"arg_1": "token", "arg_2": 8}}}
    assert parts[3]["function"]["type"] == "pad_left"
    assert parse("a > 0 ? 'x' : b.c[1]")["operator"]["type"] == "conditional"
    with pytest.raises(SyntaxError, match="cannot read"):
        parse("a # b")


@pytest.mark.parametrize(
    ("kind", "name", "why"),
    [
        ("Microsoft.KeyVault/vaults", "1kv-abc", "must be alphanumerics and hyphens, starting"),
        ("Microsoft.KeyVault/vaults", "kv--abc", "no consecutive hyphens"),
        ("Microsoft.Web/sites", "-func", "not starting or ending with '-'"),
        ("Microsoft.Web/sites", "f" * 61, "61 characters, must be 2-60"),
        ("Microsoft.DurableTask/schedulers", "dts_abc", "alphanumerics and hyphens"),
        ("Microsoft.DurableTask/schedulers/taskHubs", "ab", "2 characters, must be 3-64"),
        ("Microsoft.OperationalInsights/workspaces", "log", "3 characters, must be 4-63"),
        ("Microsoft.Insights/components", "appi.", "not ending in a space or period"),
        ("Microsoft.ManagedIdentity/userAssignedIdentities", "_id", "starting with a letter"),
        ("Microsoft.Insights/workbooks", "dashboard", "a GUID"),
    ],
)
def test_naming_rules_refuse_bad_names(kind: str, name: str, why: str) -> None:
    assert why in str(azure_names.violation(kind, name))


def test_cognitive_services_subdomain_rule() -> None:
    assert azure_names.CUSTOM_SUBDOMAIN.violation("oai-switchbd-abc") is None
    assert azure_names.CUSTOM_SUBDOMAIN.violation("oai-") is not None
