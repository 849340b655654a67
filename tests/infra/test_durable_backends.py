"""Both Durable backends, through host.json and the Bicep, as the Functions host would see them.

One package serves both: host.json configures the Azure Storage provider (what also runs locally
on Azurite), and for the Durable Task Scheduler the Bicep adds ``AzureFunctionsJobHost__...``
app settings, which the host applies over host.json. The tests evaluate the app settings for each
``durableBackend`` value, apply them to host.json like the host does, and check the result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra import azure_names
from tests.infra.bicep_eval import Context, Report, Template, parsed

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "infra" / "main.bicep"
DTS = "durableTaskScheduler"
STORAGE = "azureStorage"
CONNECTION = "DURABLE_TASK_SCHEDULER_CONNECTION_STRING"
DATA_CONTRIBUTOR = "0ad04412-c4d5-4796-b79c-f76d14c8d402"
OVERRIDE = "AzureFunctionsJobHost__"


def deployment(backend: str, **values: Any) -> tuple[Template, Report]:
    report = Report()
    root = Template(MAIN, {"durableBackend": backend, **values}, report, Context())
    root.root = True
    root.check()
    return root, report


def app_settings(root: Template) -> dict[str, Any]:
    app = root.child("functionApp")
    settings: dict[str, Any] = app.eval(app.resources["settings"]["config"]["properties"])
    return settings


def host_config(settings: dict[str, Any]) -> dict[str, Any]:
    """host.json with the AzureFunctionsJobHost__ settings applied (keys case-insensitive)."""
    config: dict[str, Any] = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    for key, value in settings.items():
        if not key.startswith(OVERRIDE):
            continue
        *parents, leaf = key[len(OVERRIDE) :].split("__")
        node = config
        for part in parents:
            match = next((k for k in node if k.lower() == part.lower()), part)
            node = node.setdefault(match, {})
        node[next((k for k in node if k.lower() == leaf.lower()), leaf)] = value
    return config


def backend_problems(config: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """What would keep the host from reaching its backend."""
    durable = config["extensions"]["durableTask"]
    provider = durable.get("storageProvider", {})
    kind = str(provider.get("type", "AzureStorage")).lower()
    problems = []
    if kind == "azuremanaged":
        name = provider.get("connectionStringName")
        if name not in settings:
            problems.append(f"storageProvider.connectionStringName {name!r} is not an app setting")
        if settings.get("TASKHUB_NAME") != durable["hubName"]:
            problems.append("TASKHUB_NAME differs from host.json hubName")
    elif kind == "azurestorage":
        if CONNECTION in settings:
            problems.append(f"{CONNECTION} set for the Azure Storage backend")
        if not str(provider.get("maxQueuePollingInterval", "")).startswith("00:00:0"):
            problems.append("maxQueuePollingInterval above 9 s: every idle hop waits for it")
    else:
        problems.append(f"unknown storageProvider.type {provider.get('type')!r}")
    if settings.get("AzureWebJobsStorage__credential") != "managedidentity":
        problems.append("the host's own storage (timers, keys, package) must stay configured")
    return problems


@pytest.mark.parametrize("backend", [DTS, STORAGE])
def test_each_backend_evaluates_cleanly_and_reaches_its_store(backend: str) -> None:
    root, report = deployment(backend)
    assert report.problems == []
    settings = app_settings(root)
    config = host_config(settings)
    assert backend_problems(config, settings) == []
    deployed = "durabletask.bicep:scheduler" in report.names
    assert deployed is (backend == DTS)


def test_the_scheduler_backend_overrides_the_storage_provider() -> None:
    root, _ = deployment(DTS)
    settings = app_settings(root)
    provider = host_config(settings)["extensions"]["durableTask"]["storageProvider"]
    assert provider["type"] == "azureManaged"
    assert provider["connectionStringName"] == CONNECTION
    assert settings["TASKHUB_NAME"] == "switchboard"
    # The connection string names the endpoint and the app's identity, never a key.
    template = parsed(ROOT / "infra" / "modules" / "functionapp.bicep")
    text = template["variables"]["schedulerSettings"]["value"][CONNECTION]
    assert text == (
        "Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}"
    )
    passed = parsed(MAIN)["modules"]["functionApp"]["config"]["params"]["schedulerEndpoint"]
    assert "durableTask" in json.dumps(passed)
    assert "endpoint" in json.dumps(passed)


def test_the_storage_backend_keeps_host_json_as_it_is() -> None:
    root, report = deployment(STORAGE)
    settings = app_settings(root)
    assert not [key for key in settings if key.startswith(OVERRIDE + "extensions")]
    assert CONNECTION not in settings
    on_disk = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    assert host_config(settings)["extensions"] == on_disk["extensions"]
    assert not any(key.startswith("durabletask.bicep") for key in report.names)


def test_one_task_hub_name_everywhere() -> None:
    hub = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))["extensions"]["durableTask"]
    root, report = deployment(DTS)
    assert report.names["durabletask.bicep:taskHub"] == hub["hubName"]
    assert app_settings(root)["TASKHUB_NAME"] == hub["hubName"]
    assert azure_names.AZURE_STORAGE_TASK_HUB.violation(hub["hubName"]) is None
    dts_hub = "Microsoft.DurableTask/schedulers/taskHubs"
    assert azure_names.violation(dts_hub, hub["hubName"]) is None


@pytest.mark.parametrize(("days", "kept"), [(7, 7), (30, 30), (90, 30)])
def test_the_scheduler_keeps_records_as_long_as_the_app_within_its_limit(
    days: int, kept: int
) -> None:
    root, report = deployment(DTS, callRecordRetentionDays=days)
    assert report.problems == []
    assert root.child("durableTask").value("retentionDays") == kept


def test_the_scheduler_is_consumption_open_to_the_app_and_the_operator() -> None:
    doc = parsed(ROOT / "infra" / "modules" / "durabletask.bicep")
    scheduler = doc["resources"]["scheduler"]["config"]["properties"]
    assert scheduler["sku"] == {"name": "Consumption"}
    assert scheduler["ipAllowlist"] == ["0.0.0.0/0"]  # an empty list denies every client
    roles = {
        symbol: resource["config"].get("config", resource["config"])
        for symbol, resource in doc["resources"].items()
        if resource["type"] == "Microsoft.Authorization/roleAssignments"
    }
    assert set(roles) == {"appDataContributor", "operatorDataContributor"}
    for config in roles.values():
        assert "dataContributor" in json.dumps(config["properties"]["roleDefinitionId"])
    assert doc["variables"]["dataContributor"]["value"] == DATA_CONTRIBUTOR
    principal_types = {symbol: c["properties"]["principalType"] for symbol, c in roles.items()}
    assert principal_types == {
        "appDataContributor": "ServicePrincipal",
        "operatorDataContributor": "operatorPrincipalType",
    }


def test_the_backend_checker_flags_broken_set_ups() -> None:
    root, _ = deployment(DTS)
    settings = app_settings(root)
    broken = {k: v for k, v in settings.items() if k not in (CONNECTION, "TASKHUB_NAME")}
    assert backend_problems(host_config(broken), broken) == [
        f"storageProvider.connectionStringName {CONNECTION!r} is not an app setting",
        "TASKHUB_NAME differs from host.json hubName",
    ]
    storage_settings = {**app_settings(deployment(STORAGE)[0]), CONNECTION: "Endpoint=x"}
    storage_settings.pop("AzureWebJobsStorage__credential")
    assert backend_problems(host_config(storage_settings), storage_settings) == [
        f"{CONNECTION} set for the Azure Storage backend",
        "the host's own storage (timers, keys, package) must stay configured",
    ]
    typo = {**settings, OVERRIDE + "extensions__durableTask__storageProvider__type": "azureManged"}
    problems = backend_problems(host_config(typo), typo)
    assert problems == ["unknown storageProvider.type 'azureManged'"]
