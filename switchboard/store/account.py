"""The one adapter for how the call store reaches its storage account.

The store lives in the app's own storage account, reached the way the Functions host reaches it:

* ``AzureWebJobsStorage`` set to a connection string (Azurite locally) means access with that
  string;
* otherwise the identity-based form infra sets: ``AzureWebJobsStorage__tableServiceUri`` and
  ``AzureWebJobsStorage__blobServiceUri`` (or ``AzureWebJobsStorage__accountName``), with the app's
  managed identity (``AzureWebJobsStorage__clientId``, else ``AZURE_CLIENT_ID``) through
  ``azure.identity.aio.DefaultAzureCredential``. Its roles (Storage Table Data Contributor, Storage
  Blob Data Owner) are the ones the host itself needs.

Clients are bound to an event loop, so there is one :class:`Account` per running loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables.aio import TableClient, TableServiceClient
from azure.identity.aio import DefaultAzureCredential
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from switchboard.store.appender import Appender, Authorizer, BearerToken, SharedKey

logger = logging.getLogger(__name__)
STORAGE = "AzureWebJobsStorage"
STORE_NAME = "CALL_STORE_NAME"
CALLER_KEY = "CALL_STORE_CALLER_KEY"
DEFAULT_NAME = "switchboardcalls"
_NAME = re.compile(r"\A[a-z][a-z0-9]{2,39}\Z")
_MIN_CALLER_KEY = 32
_UNRESOLVED = "@Microsoft.KeyVault("
"""How App Service passes on a Key Vault reference it could not resolve: as the reference text."""
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 0,
    "connection_timeout": 5,
    "read_timeout": 20,
    "use_env_settings": False,
}
"""No SDK retries (Durable retries the activities; more here would multiply attempts), a request
that hangs fails instead of holding an activity or a list request for minutes, and no proxy
settings from the environment: with them, aiohttp reads ``~/.netrc`` in a thread on every request
(a fifth of a live-transcript append's CPU), and the app reaches its own storage account
directly."""


class StoreConfigError(ValueError):
    """The store's settings are missing or malformed; the message names each variable."""


@dataclass(frozen=True)
class StoreConfig:
    """Where the store is and what it is called, read from the app settings."""

    connection_string: str | None = None
    table_url: str | None = None
    blob_url: str | None = None
    client_id: str | None = None
    name: str = DEFAULT_NAME
    caller_secret: bytes | None = None

    @property
    def index_table(self) -> str:
        """Every call, newest first."""
        return self.name

    @property
    def caller_table(self) -> str:
        """Every call again, partitioned by the caller's keyed hash."""
        return f"{self.name}bycaller"

    @property
    def container(self) -> str:
        """The blob container of full records (``records/<instance id>.json``)."""
        return self.name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StoreConfig:
        """Read ``AzureWebJobsStorage*``, ``CALL_STORE_NAME`` and ``CALL_STORE_CALLER_KEY``."""
        env = os.environ if env is None else env
        errors: list[str] = []
        name = env.get(STORE_NAME, "").strip() or DEFAULT_NAME
        if not _NAME.match(name):
            errors.append(
                f"{STORE_NAME} must be 3-40 lowercase letters and digits starting with a letter "
                f"(it names two tables and a blob container), got {name!r}"
            )
        secret = env.get(CALLER_KEY, "").strip()
        if secret.startswith(_UNRESOLVED):  # keying with it would file calls under the wrong key
            logger.warning(
                "%s is a Key Vault reference the platform did not resolve (the secret is missing "
                "or the identity cannot read it yet): caller search is off until it resolves",
                CALLER_KEY,
            )
            secret = ""
        if secret and len(secret) < _MIN_CALLER_KEY:
            errors.append(
                f"{CALLER_KEY} must be at least {_MIN_CALLER_KEY} characters of random text "
                "(a value that is not shown: it is a secret)"
            )
        connection = env.get(STORAGE, "").strip()
        account = env.get(f"{STORAGE}__accountName", "").strip()
        table_url = env.get(f"{STORAGE}__tableServiceUri", "").strip()
        blob_url = env.get(f"{STORAGE}__blobServiceUri", "").strip()
        if account and not (table_url or blob_url):
            table_url = f"https://{account}.table.core.windows.net"
            blob_url = f"https://{account}.blob.core.windows.net"
        if not connection and not (table_url and blob_url):
            errors.append(
                f"{STORAGE} (a connection string) or {STORAGE}__tableServiceUri and "
                f"{STORAGE}__blobServiceUri (identity-based) must be set for the call store"
            )
        if errors:
            raise StoreConfigError("Invalid settings:\n" + "\n".join(f"- {e}" for e in errors))
        client_id = env.get(f"{STORAGE}__clientId", "").strip() or env.get("AZURE_CLIENT_ID", "")
        return cls(
            connection_string=connection or None,
            table_url=None if connection else table_url,
            blob_url=None if connection else blob_url,
            client_id=client_id.strip() or None,
            name=name,
            caller_secret=secret.encode() if secret else None,
        )


class Account:
    """The store's table and blob clients on one event loop; tables and container made once."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        # The SDKs log every request's and response's headers at INFO: in a Functions app that
        # is several lines per activity and list request in Application Insights.
        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(
            logging.WARNING
        )
        self._credential: DefaultAzureCredential | None = None
        if config.connection_string:
            connection = config.connection_string
            self._tables = TableServiceClient.from_connection_string(connection, **_CLIENT_OPTIONS)
            self._blobs = BlobServiceClient.from_connection_string(connection, **_CLIENT_OPTIONS)
        else:
            assert config.table_url
            assert config.blob_url
            self._credential = DefaultAzureCredential(managed_identity_client_id=config.client_id)
            credential = self._credential
            self._tables = TableServiceClient(
                config.table_url, credential=credential, **_CLIENT_OPTIONS
            )
            self._blobs = BlobServiceClient(
                config.blob_url, credential=credential, **_CLIENT_OPTIONS
            )
        self.index: TableClient = self._tables.get_table_client(config.index_table)
        self.by_caller: TableClient = self._tables.get_table_client(config.caller_table)
        self.records: ContainerClient = self._blobs.get_container_client(config.container)
        self._appender: Appender | None = None
        self._ready: asyncio.Future[None] | None = None

    @property
    def appender(self) -> Appender:
        """Plain-HTTP appends to the records container's append blobs (the live transcript)."""
        if self._appender is None:
            self._appender = Appender(
                self.records.url, self.records.api_version, self._append_authorizer()
            )
        return self._appender

    def _append_authorizer(self) -> Authorizer:
        if self._credential is not None:
            return BearerToken(self._credential)
        key = self._blobs.credential  # as the SDK parsed the connection string
        name, secret = getattr(key, "account_name", None), getattr(key, "account_key", None)
        if not (isinstance(name, str) and isinstance(secret, str)):
            raise StoreConfigError(
                f"{STORAGE} has no AccountKey: the live transcript cannot sign its appends"
            )
        return SharedKey(name, secret)

    async def ready(self) -> Account:
        """This account, once its two tables and its container exist (checked once per loop)."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._create())
        try:
            await asyncio.shield(self._ready)
        except Exception:
            self._ready = None  # a failed creation is tried again on the next use
            raise
        return self

    async def _create(self) -> None:
        for table in (self.config.index_table, self.config.caller_table):
            await self._tables.create_table_if_not_exists(table)
        with contextlib.suppress(ResourceExistsError):
            await self.records.create_container()

    async def aclose(self) -> None:
        """Close every client this account opened."""
        for client in (self.index, self.by_caller, self.records, self._tables, self._blobs):
            await client.close()
        if self._appender is not None:
            await self._appender.aclose()
        if self._credential is not None:
            await self._credential.close()


_accounts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Account] = (
    weakref.WeakKeyDictionary()
)


async def get_account(config: StoreConfig | None = None) -> Account:
    """The running loop's account (created on first use from ``config`` or the environment)."""
    loop = asyncio.get_running_loop()
    account = _accounts.get(loop)
    if account is None or (config is not None and account.config != config):
        if account is not None:
            await account.aclose()
        account = _accounts[loop] = Account(config or StoreConfig.from_env())
    return await account.ready()


async def close_account() -> None:
    """Close the running loop's account, if any (tests, and worker shutdown)."""
    account = _accounts.pop(asyncio.get_running_loop(), None)
    if account is not None:
        await account.aclose()
