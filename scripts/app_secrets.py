"""Create the app's own secrets in Key Vault once: the caller index key and the events secret.

The first step of the azd ``postprovision`` hook (before ``register_webhook.py``), on the
operator's machine. Unlike the webhook signing secret, which Azure OpenAI issues, these are the
app's to make: each is written with a random value only when the vault has no secret of that
name. An existing secret is never overwritten, and no value is ever printed or logged.

* ``CALL_STORE_CALLER_KEY`` (``--caller-key-name``, env ``CALL_STORE_CALLER_KEY_NAME``): the HMAC
  key of the call store's caller index, 64 random characters. Replacing it makes every call
  already stored unfindable by caller, so nothing here ever replaces it.
* ``CALL_EVENTS_SECRET`` (``--events-secret-name``, env ``CALL_EVENTS_SECRET_NAME``, a Bicep output
  that is empty unless ``callEventsUrl`` is set): ``whsec_`` + base64 of 32 random bytes, which
  the receiver reads from the vault (``az keyvault secret show``).

A deleted secret still in the vault's soft-delete retention blocks its name (Key Vault answers
409): the script stops and says to recover it, since a new caller key would orphan the index.
After creating a secret it asks App Service to re-read the app's Key Vault references.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
from azure.identity.aio import DefaultAzureCredential
from register_webhook import (
    ARM_SCOPE,
    KEY_VAULT_API_VERSION,
    SECRET_NAME_RE,
    VAULT_SCOPE,
    TokenSource,
    bearer,
    refresh_url,
)

LOG = logging.getLogger("app_secrets")
DEFAULT_CALLER_KEY_NAME = "call-store-caller-key"
CREATED_BY = "switchboard scripts/app_secrets.py"


def caller_key() -> str:
    """64 URL-safe characters from 48 random bytes (the app needs at least 32 characters)."""
    return secrets.token_urlsafe(48)


def events_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


@dataclass(frozen=True)
class Wanted:
    """A secret the app reads through a Key Vault reference, and how to make its value."""

    name: str
    setting: str
    make: Callable[[], str]
    note: str


class SecretsError(Exception):
    """A step failed; the message says which and what to do (never a secret's value)."""


class Vault:
    """The Key Vault secrets API and the App Service reference refresh, over one session."""

    def __init__(
        self, session: aiohttp.ClientSession, credential: TokenSource, vault_uri: str
    ) -> None:
        """Bind the session, the credential and the vault (``https://<vault>.vault.azure.net/``)."""
        self._session = session
        self._credential = credential
        self._vault = vault_uri.rstrip("/")

    async def _headers(self, scope: str) -> dict[str, str]:
        return await bearer(self._credential, scope, SecretsError)

    def _url(self, name: str) -> str:
        return f"{self._vault}/secrets/{quote(name)}?api-version={KEY_VAULT_API_VERSION}"

    async def exists(self, name: str) -> bool:
        """Whether the vault holds a current secret called ``name`` (its value is not kept)."""
        headers = await self._headers(VAULT_SCOPE)
        try:
            async with self._session.get(self._url(name), headers=headers) as response:
                status = response.status
        except aiohttp.ClientError as error:
            raise SecretsError(f"read Key Vault secret {name}: {error}") from error
        if status == 404:
            return False
        if status >= 400:
            raise SecretsError(f"read Key Vault secret {name}: answered {status}{_hint(status)}")
        return True

    async def create(self, name: str, value: str, setting: str) -> None:
        """Write the first version of ``name``; an error never shows the value."""
        body = {
            "value": value,
            "contentType": "text/plain",
            "tags": {"created-by": CREATED_BY, "app-setting": setting},
        }
        headers = await self._headers(VAULT_SCOPE)
        try:
            async with self._session.put(self._url(name), headers=headers, json=body) as response:
                status = response.status
                await response.read()  # an error body could echo the value: never shown
        except aiohttp.ClientError as error:
            raise SecretsError(f"write Key Vault secret {name}: {type(error).__name__}") from None
        if status == 409:
            raise SecretsError(
                f"write Key Vault secret {name}: answered 409: a deleted secret of that name is "
                "still in the vault's soft-delete retention. Recover it (`az keyvault secret "
                f"recover --vault-name <vault> --name {name}`) and run again; do not purge it: "
                "the app's data was made with it"
            )
        if status >= 400:
            raise SecretsError(f"write Key Vault secret {name}: answered {status}{_hint(status)}")

    async def refresh(self, arm_endpoint: str, app_resource_id: str) -> None:
        """Ask App Service to re-read the app's Key Vault references now (else within 24 h)."""
        url = refresh_url(arm_endpoint, app_resource_id)
        headers = await self._headers(ARM_SCOPE)
        try:
            async with self._session.post(url, headers=headers) as response:
                status = response.status
        except aiohttp.ClientError as error:
            raise SecretsError(f"refresh Key Vault references: {error}") from error
        if status >= 400:
            raise SecretsError(f"refresh Key Vault references: answered {status}")


def _hint(status: int) -> str:
    if status in (401, 403):
        return (
            ". You need Key Vault Secrets Officer on the vault (the Bicep grants it to "
            "operatorPrincipalId); a new role assignment can take a few minutes to apply"
        )
    return ""


def wanted(caller_key_name: str, events_secret_name: str | None) -> list[Wanted]:
    """The secrets this deployment references (the events secret only with events on)."""
    found = [
        Wanted(
            caller_key_name,
            "CALL_STORE_CALLER_KEY",
            caller_key,
            "never replace it: the caller index is keyed with it",
        )
    ]
    if events_secret_name:
        found.append(
            Wanted(
                events_secret_name,
                "CALL_EVENTS_SECRET",
                events_secret,
                f"give your receiver the same: az keyvault secret show --name "
                f"{events_secret_name} --vault-name <vault> --query value -o tsv",
            )
        )
    return found


async def ensure(vault: Vault, secrets_wanted: Sequence[Wanted]) -> list[str]:
    """Create each missing secret with a random value; return the names created."""
    created = []
    for secret in secrets_wanted:
        if await vault.exists(secret.name):
            LOG.info("Key Vault secret %s (%s) exists: kept as it is", secret.name, secret.setting)
            continue
        await vault.create(secret.name, secret.make(), secret.setting)
        LOG.info(
            "created Key Vault secret %s (%s) with a random value; %s",
            secret.name,
            secret.setting,
            secret.note,
        )
        created.append(secret.name)
    return created


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Options with azd's environment as defaults; exits 2 with a clear message when wrong."""
    parser = argparse.ArgumentParser(
        prog="app_secrets.py",
        description="Create the app's Key Vault secrets (caller index key, call events secret) "
        "when missing, with random values that are never printed.",
    )
    parser.add_argument(
        "--key-vault-uri",
        default=_env("AZURE_KEY_VAULT_URI"),
        help="https://<vault>.vault.azure.net/ [env AZURE_KEY_VAULT_URI]",
    )
    parser.add_argument(
        "--caller-key-name",
        default=_env("CALL_STORE_CALLER_KEY_NAME") or DEFAULT_CALLER_KEY_NAME,
        help="secret behind CALL_STORE_CALLER_KEY [env CALL_STORE_CALLER_KEY_NAME, "
        f"default {DEFAULT_CALLER_KEY_NAME}]",
    )
    parser.add_argument(
        "--events-secret-name",
        default=_env("CALL_EVENTS_SECRET_NAME"),
        help="secret behind CALL_EVENTS_SECRET; none = events off [env CALL_EVENTS_SECRET_NAME]",
    )
    parser.add_argument(
        "--app-resource-id",
        default=_env("AZURE_FUNCTION_APP_ID"),
        help="function app resource id: refresh its Key Vault references after a new secret "
        "[env AZURE_FUNCTION_APP_ID]",
    )
    parser.add_argument(
        "--arm-endpoint", default="https://management.azure.com", help=argparse.SUPPRESS
    )
    args = parser.parse_args(list(argv))
    if not args.key_vault_uri or not args.key_vault_uri.startswith(("https://", "http://")):
        parser.error("--key-vault-uri / AZURE_KEY_VAULT_URI must be the vault's https URL")
    for flag, name in (("--caller-key-name", args.caller_key_name),
                       ("--events-secret-name", args.events_secret_name)):  # fmt: skip
        if name is not None and not SECRET_NAME_RE.match(name):
            parser.error(f"{flag} must be 1-127 letters, digits or '-', got {name!r}")
    return args


async def main(argv: Sequence[str], credential: TokenSource | None = None) -> int:
    """Run the script and return its exit code (``credential``: DefaultAzureCredential)."""
    args = parse_args(argv)
    owned: DefaultAzureCredential | None = None
    if credential is None:
        owned = credential = DefaultAzureCredential()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            vault = Vault(session, credential, args.key_vault_uri)
            created = await ensure(vault, wanted(args.caller_key_name, args.events_secret_name))
            if created and args.app_resource_id:
                try:
                    await vault.refresh(args.arm_endpoint, args.app_resource_id)
                except SecretsError as error:
                    LOG.warning("%s: the app reads the new secret within 24 hours", error)
    except SecretsError as error:
        print(f"app_secrets: {error}", file=sys.stderr)
        return 1
    finally:
        if owned is not None:
            await owned.close()
    print(f"app secrets: {len(created)} created, all present in {args.key_vault_uri}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="app_secrets: %(message)s")
    sys.exit(asyncio.run(main(sys.argv[1:])))
