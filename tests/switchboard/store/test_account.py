"""Where the store is: a connection string locally, the identity-based form in Azure."""

from __future__ import annotations

import pytest
from azure.identity.aio import DefaultAzureCredential

from switchboard.store.account import Account, StoreConfig, StoreConfigError

SECRET = "s" * 40


def test_connection_string_wins() -> None:
    config = StoreConfig.from_env(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "AzureWebJobsStorage__tableServiceUri": "https://x.table.core.windows.net",
            "CALL_STORE_CALLER_KEY": SECRET,
        }
    )
    assert config.connection_string == "UseDevelopmentStorage=true"
    assert (config.table_url, config.blob_url, config.name) == (None, None, "switchboardcalls")
    assert config.caller_secret == SECRET.encode()
    assert (config.index_table, config.caller_table, config.container) == (
        "switchboardcalls",
        "switchboardcallsbycaller",
        "switchboardcalls",
    )


def test_identity_based_service_uris_and_client_id() -> None:
    config = StoreConfig.from_env(
        {
            "AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net/",
            "AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net/",
            "AzureWebJobsStorage__clientId": "11111111-2222-3333-4444-555555555555",
            "CALL_STORE_NAME": "calls2",
        }
    )
    assert config.connection_string is None
    assert config.table_url == "https://acct.table.core.windows.net/"
    assert config.client_id == "11111111-2222-3333-4444-555555555555"
    assert (config.name, config.caller_secret) == ("calls2", None)


def test_account_name_alone_is_enough() -> None:
    config = StoreConfig.from_env(
        {"AzureWebJobsStorage__accountName": "acct", "AZURE_CLIENT_ID": "c"}
    )
    assert config.blob_url == "https://acct.blob.core.windows.net"
    assert config.client_id == "c"


def test_every_problem_is_named_and_the_secret_is_not_shown() -> None:
    with pytest.raises(StoreConfigError) as raised:
        StoreConfig.from_env({"CALL_STORE_NAME": "Calls-1", "CALL_STORE_CALLER_KEY": "short-key"})
    message = str(raised.value)
    assert "CALL_STORE_NAME" in message
    assert "CALL_STORE_CALLER_KEY" in message
    assert "AzureWebJobsStorage" in message
    assert "short-key" not in message


async def test_identity_based_clients_use_the_managed_identity() -> None:
    account = Account(
        StoreConfig(
            table_url="https://acct.table.core.windows.net",
            blob_url="https://acct.blob.core.windows.net",
            client_id="11111111-2222-3333-4444-555555555555",
            name="calls",
        )
    )
    try:
        assert account.index.url.startswith("https://acct.table.core.windows.net")
        assert account.by_caller.table_name == "callsbycaller"
        assert account.records.url == "https://acct.blob.core.windows.net/calls"
        assert isinstance(account.index.credential, DefaultAzureCredential)
    finally:
        await account.aclose()


async def test_development_storage_means_azurite_on_its_usual_ports() -> None:
    account = Account(StoreConfig.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"}))
    try:
        assert account.index.url.startswith("http://127.0.0.1:10002/devstoreaccount1")
        assert account.records.url.startswith("http://127.0.0.1:10000/devstoreaccount1/")
    finally:
        await account.aclose()


def test_an_unresolved_key_vault_reference_never_keys_the_caller_index(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # App Service passes a reference it cannot resolve (secret missing, no access yet) through as
    # its own text, which is long enough to pass for a key: the index would then be keyed with
    # text that changes the moment the secret resolves.
    reference = (
        "@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/call-store-caller-key)"
    )
    config = StoreConfig.from_env(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "CALL_STORE_CALLER_KEY": reference}
    )
    assert config.caller_secret is None  # caller search off (400 names it), calls still stored
    assert "CALL_STORE_CALLER_KEY is a Key Vault reference the platform did not resolve" in (
        caplog.text
    )
