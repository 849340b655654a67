"""Register the Azure OpenAI ``realtime.call.incoming`` webhook and keep its secret in Key Vault.

Runs on the operator's machine (and as the azd ``postprovision`` hook), never in the function
app. It talks to three REST APIs with aiohttp:

* Azure OpenAI webhook endpoints (``/openai/v1/dashboard/webhook_endpoints``): list, create,
  update, delete. Auth: an Entra token first (``DefaultAzureCredential``, scope
  ``https://cognitiveservices.azure.com/.default``) or, if given, an ``api-key``. Microsoft
  documents only ``api-key`` for this API: when it answers 401/403 to the token, the script
  prints the one-time key path (``webhook_guidance.entra_refused``) and exits 0, so ``azd up``
  finishes the deployment instead of failing on its last step.
* Key Vault secrets (``PUT {vault}/secrets/{name}``): the signing secret goes straight from the
  create response into the vault. It is never printed or logged.
* Optionally Azure Resource Manager, to make the function app re-read its Key Vault references.

Idempotent: the endpoint is found by its URL. A second run changes nothing; a run after the
name changed updates it; ``--rotate`` (or a vault that lacks the secret of the live endpoint,
which the API shows only once) deletes and re-creates the endpoint and stores the new secret.

Every option has an environment default, so the azd hook needs no arguments: azd exports the
Bicep outputs (AZURE_OPENAI_ENDPOINT, WEBHOOK_URL, AZURE_KEY_VAULT_URI, WEBHOOK_SECRET_NAME,
AZURE_FUNCTION_APP_ID, SIP_URI, AZURE_OPENAI_LOCATION) to hooks. The SIP URI the trunk must dial
is printed at the end, with a warning when it lacks the project id or the resource is outside
the SIP regions.

Assumed, not confirmed by the docs: the list answer is ``{"object": "list", "data": [...]}``
(a bare list is accepted too) and pages with ``has_more`` / ``after`` like other OpenAI lists.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

import aiohttp
from azure.core.credentials import AccessToken
from azure.identity.aio import DefaultAzureCredential
from webhook_guidance import entra_refused, hint, sip_uri_notes

LOG = logging.getLogger("register_webhook")

EVENT_TYPES = ("realtime.call.incoming",)
OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
VAULT_SCOPE = "https://vault.azure.net/.default"
ARM_SCOPE = "https://management.azure.com/.default"
KEY_VAULT_API_VERSION = "7.4"
REFRESH_API_VERSION = "2022-03-01"
ENDPOINT_ID_TAG = "webhook-endpoint-id"
DEFAULT_SECRET_NAME = "openai-webhook-secret"  # noqa: S105 - a name, not a secret
DEFAULT_NAME = "switchboard"
MAX_PAGES = 50
SECRET_NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")

Action = Literal["register", "rotate", "delete"]


class TokenSource(Protocol):
    """What the script needs from a credential (``azure.identity.aio`` credentials fit)."""

    async def get_token(self, *scopes: str) -> AccessToken:
        """Return a bearer token for ``scopes``."""
        ...


class RegistrationError(Exception):
    """A step failed; the message says which one and what to try."""


class EntraRefused(RegistrationError):
    """The webhook API refused the Entra token (401/403): the one-time api-key path applies."""

    def __init__(self, status: int) -> None:
        """Keep the status for the guidance."""
        super().__init__(f"the webhook endpoints API answered {status} to an Entra token")
        self.status = status


@dataclass(frozen=True)
class Options:
    """Validated command-line options."""

    action: Action
    openai_endpoint: str
    webhook_url: str
    key_vault_uri: str
    secret_name: str
    name: str
    api_key: str | None
    app_resource_id: str | None
    arm_endpoint: str
    sip_uri: str | None = None
    openai_location: str | None = None
    resource_group: str | None = None


async def bearer(credential: TokenSource, scope: str, error: type[Exception]) -> dict[str, str]:
    """An ``Authorization`` header for ``scope``; without a token, ``error`` says how to sign in."""
    try:
        token = await credential.get_token(scope)
    except Exception as cause:  # azure-identity raises several types; all mean "no token"
        raise error(
            f"could not get an Entra token for {scope} ({type(cause).__name__}): "
            "sign in with `az login` (or set AZURE_CLIENT_ID etc. for a service principal)"
        ) from cause
    return {"Authorization": f"Bearer {token.token}"}


def refresh_url(arm_endpoint: str, app_resource_id: str) -> str:
    """Resource Manager's "re-read the app's Key Vault references now" (else within 24 h)."""
    return (
        f"{arm_endpoint.rstrip('/')}/{app_resource_id.strip('/')}"
        f"/config/configreferences/appsettings/refresh?api-version={REFRESH_API_VERSION}"
    )


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class Client:
    """The three REST APIs, over one aiohttp session."""

    def __init__(
        self, session: aiohttp.ClientSession, options: Options, credential: TokenSource | None
    ) -> None:
        """Bind the session, the options and the credential (None only with an api-key)."""
        self._session = session
        self._options = options
        self._credential = credential
        self._webhooks = (
            options.openai_endpoint.rstrip("/") + "/openai/v1/dashboard/webhook_endpoints"
        )

    async def _bearer(self, scope: str) -> dict[str, str]:
        if self._credential is None:
            raise RegistrationError(f"no credential for {scope}: sign in with `az login`")
        return await bearer(self._credential, scope, RegistrationError)

    async def _openai_headers(self) -> dict[str, str]:
        if self._options.api_key:
            return {"api-key": self._options.api_key}
        return await self._bearer(OPENAI_SCOPE)

    async def _call(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        what: str,
        body: Mapping[str, Any] | None = None,
        allow_404: bool = False,
    ) -> Any:
        try:
            async with self._session.request(method, url, headers=headers, json=body) as resp:
                text = await resp.text()
                status = resp.status
        except aiohttp.ClientError as error:
            raise RegistrationError(f"{what}: {method} {url} failed: {error}") from error
        if status == 404 and allow_404:
            return None
        if status in (401, 403) and "webhook" in what and not self._options.api_key:
            raise EntraRefused(status)
        if status >= 400:
            raise RegistrationError(
                f"{what}: {method} {url.split('?')[0]} answered {status}: {_excerpt(text)}"
                f"{hint(what, status)}"
            )
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise RegistrationError(
                f"{what}: {method} {url} answered {status} with non-JSON: {_excerpt(text)}"
            ) from error

    # --- Azure OpenAI webhook endpoints ----------------------------------------------------

    async def list_endpoints(self) -> list[dict[str, Any]]:
        """All webhook endpoints of the resource (follows ``has_more`` pages)."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            url = self._webhooks + (f"?after={quote(after)}" if after else "")
            page = await self._call(
                "GET", url, await self._openai_headers(), "list webhook endpoints"
            )
            items = page if isinstance(page, list) else page.get("data")
            if not isinstance(items, list):
                raise RegistrationError(
                    f"list webhook endpoints: unexpected answer (no 'data' list): "
                    f"{_excerpt(json.dumps(page))}"
                )
            found.extend(item for item in items if isinstance(item, dict))
            if not (isinstance(page, dict) and page.get("has_more") and items):
                return found
            after = str(items[-1].get("id", ""))
        return found

    async def create_endpoint(self) -> dict[str, Any]:
        """Create the endpoint; the answer holds the signing secret (shown only this once)."""
        body = {
            "name": self._options.name,
            "url": self._options.webhook_url,
            "event_types": list(EVENT_TYPES),
        }
        created = await self._call(
            "POST", self._webhooks, await self._openai_headers(), "create webhook endpoint", body
        )
        if not isinstance(created, dict) or not created.get("id"):
            raise RegistrationError("create webhook endpoint: the answer has no endpoint id")
        return created

    async def update_endpoint(self, endpoint_id: str) -> None:
        """Set name and event types of an existing endpoint (its secret cannot change)."""
        body = {"name": self._options.name, "event_types": list(EVENT_TYPES)}
        await self._call(
            "POST",
            f"{self._webhooks}/{quote(endpoint_id)}",
            await self._openai_headers(),
            "update webhook endpoint",
            body,
        )

    async def delete_endpoint(self, endpoint_id: str) -> None:
        """Delete an endpoint (a missing one counts as deleted)."""
        await self._call(
            "DELETE",
            f"{self._webhooks}/{quote(endpoint_id)}",
            await self._openai_headers(),
            "delete webhook endpoint",
            allow_404=True,
        )

    # --- Key Vault ---------------------------------------------------------------------------

    def _secret_url(self) -> str:
        vault = self._options.key_vault_uri.rstrip("/")
        return f"{vault}/secrets/{self._options.secret_name}?api-version={KEY_VAULT_API_VERSION}"

    async def secret_tags(self) -> dict[str, str] | None:
        """Tags of the stored secret, or None when the vault has no such secret."""
        found = await self._call(
            "GET",
            self._secret_url(),
            await self._bearer(VAULT_SCOPE),
            "read Key Vault secret",
            allow_404=True,
        )
        if found is None:
            return None
        tags = found.get("tags") if isinstance(found, dict) else None
        return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}

    async def store_secret(self, secret: str, endpoint_id: str) -> None:
        """Write the signing secret as a new version of the vault secret."""
        body = {
            "value": secret,
            "contentType": "text/plain",
            "tags": {ENDPOINT_ID_TAG: endpoint_id},
        }
        try:
            await self._call(
                "PUT",
                self._secret_url(),
                await self._bearer(VAULT_SCOPE),
                "write Key Vault secret",
                body,
            )
        except RegistrationError as error:
            # An error body could echo the request: never let the secret reach the terminal.
            raise RegistrationError(str(error).replace(secret, "[redacted]")) from None

    # --- Resource Manager --------------------------------------------------------------------

    async def refresh_key_vault_references(self, app_resource_id: str) -> None:
        """Ask App Service to re-read the app's Key Vault references now, not within 24 h."""
        url = refresh_url(self._options.arm_endpoint, app_resource_id)
        await self._call("POST", url, await self._bearer(ARM_SCOPE), "refresh Key Vault references")


async def run(options: Options, client: Client) -> str:
    """Carry out the action; return the one-line summary to print (never the secret)."""
    endpoints = await client.list_endpoints()
    matches = [e for e in endpoints if e.get("url") == options.webhook_url]
    LOG.info(
        "%d webhook endpoint(s) on the resource, %d for %s",
        len(endpoints),
        len(matches),
        options.webhook_url,
    )

    if options.action == "delete":
        for endpoint in matches:
            await client.delete_endpoint(str(endpoint["id"]))
            LOG.info("deleted webhook endpoint %s", endpoint["id"])
        return f"deleted {len(matches)} webhook endpoint(s) for {options.webhook_url}"

    if matches and options.action == "register":
        current = matches[0]
        endpoint_id = str(current["id"])
        tags = await client.secret_tags()
        if tags is not None and tags.get(ENDPOINT_ID_TAG) == endpoint_id and len(matches) == 1:
            same = current.get("name") == options.name and sorted(
                current.get("event_types") or []
            ) == sorted(EVENT_TYPES)
            if same:
                return f"webhook endpoint {endpoint_id} unchanged; Key Vault secret is current"
            await client.update_endpoint(endpoint_id)
            return f"webhook endpoint {endpoint_id} updated (name, event types); secret unchanged"
        LOG.warning(
            "the vault holds no secret for webhook endpoint %s (the API shows a secret only at "
            "creation): re-creating the endpoint to get a new one",
            endpoint_id,
        )

    for endpoint in matches:
        await client.delete_endpoint(str(endpoint["id"]))
        LOG.info("deleted webhook endpoint %s", endpoint["id"])
    created = await client.create_endpoint()
    endpoint_id = str(created["id"])
    secret = created.get("signing_secret")
    if not isinstance(secret, str) or not secret:
        raise RegistrationError(
            f"webhook endpoint {endpoint_id} was created but the answer has no signing_secret; "
            "delete it and run again"
        )
    await client.store_secret(secret, endpoint_id)
    LOG.info("stored the signing secret in %s as %s", options.key_vault_uri, options.secret_name)
    refreshed = ""
    if options.app_resource_id:
        try:
            await client.refresh_key_vault_references(options.app_resource_id)
            refreshed = "; app Key Vault references refreshed"
        except RegistrationError as error:
            LOG.warning(
                "%s. The app picks up the new secret within 24 hours, or at once after "
                "any app-setting change or `az rest --method post --url "
                "<app id>/config/configreferences/appsettings/refresh?api-version=%s`",
                error,
                REFRESH_API_VERSION,
            )
    verb = "re-created" if matches else "created"
    hint = created.get("signing_secret_hint")
    hint_text = f" (secret hint {hint})" if isinstance(hint, str) and hint else ""
    return (
        f"webhook endpoint {endpoint_id} {verb}{hint_text}; secret stored in Key Vault{refreshed}"
    )


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def parse_args(argv: Sequence[str]) -> Options:
    """Parse and validate options; exits with status 2 and a clear message when one is wrong."""
    parser = argparse.ArgumentParser(
        prog="register_webhook.py",
        description="Create or update the realtime.call.incoming webhook of an Azure OpenAI "
        "resource and store its signing secret in Key Vault (never printed).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--rotate",
        action="store_true",
        help="delete and re-create the endpoint: new signing secret",
    )
    mode.add_argument(
        "--delete",
        action="store_true",
        help="delete the endpoint(s) for the webhook URL (Key Vault untouched)",
    )
    parser.add_argument(
        "--openai-endpoint",
        default=_env("AZURE_OPENAI_ENDPOINT"),
        help="https://<resource>.openai.azure.com [env AZURE_OPENAI_ENDPOINT]",
    )
    parser.add_argument(
        "--webhook-url",
        default=_env("WEBHOOK_URL"),
        help="https://<app>.azurewebsites.net/api/calls/incoming [env WEBHOOK_URL]",
    )
    parser.add_argument(
        "--key-vault-uri",
        default=_env("AZURE_KEY_VAULT_URI"),
        help="https://<vault>.vault.azure.net/ [env AZURE_KEY_VAULT_URI]",
    )
    parser.add_argument(
        "--secret-name",
        default=_env("WEBHOOK_SECRET_NAME") or DEFAULT_SECRET_NAME,
        help=f"Key Vault secret name [env WEBHOOK_SECRET_NAME, default {DEFAULT_SECRET_NAME}]",
    )
    parser.add_argument(
        "--name",
        default=_env("WEBHOOK_NAME") or DEFAULT_NAME,
        help=f"endpoint display name [env WEBHOOK_NAME, default {DEFAULT_NAME}]",
    )
    parser.add_argument(
        "--api-key",
        default=_env("AZURE_OPENAI_API_KEY"),
        help="use this api-key instead of an Entra token (prefer the env "
        "variable AZURE_OPENAI_API_KEY: arguments show in the process list)",
    )
    parser.add_argument(
        "--app-resource-id",
        default=_env("AZURE_FUNCTION_APP_ID"),
        help="function app resource id: refresh its Key Vault references after "
        "a new secret [env AZURE_FUNCTION_APP_ID]",
    )
    parser.add_argument(
        "--arm-endpoint", default="https://management.azure.com", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--sip-uri",
        default=_env("SIP_URI"),
        help="the SIP URI to print for the trunk, checked for its region [env SIP_URI]",
    )
    args = parser.parse_args(list(argv))

    action: Action = "rotate" if args.rotate else "delete" if args.delete else "register"
    missing = [
        flag
        for flag, value, needed in (
            ("--openai-endpoint / AZURE_OPENAI_ENDPOINT", args.openai_endpoint, True),
            ("--webhook-url / WEBHOOK_URL", args.webhook_url, True),
            ("--key-vault-uri / AZURE_KEY_VAULT_URI", args.key_vault_uri, action != "delete"),
        )
        if needed and not value
    ]
    if missing:
        parser.error(
            "missing "
            + ", ".join(missing)
            + " (azd sets them from the Bicep outputs; see docs/deploy.md)"
        )
    for flag, value in (
        ("--openai-endpoint", args.openai_endpoint),
        ("--webhook-url", args.webhook_url),
        ("--key-vault-uri", args.key_vault_uri),
    ):
        if value and not re.match(r"^https?://[^/\s]+", value):
            parser.error(f"{flag} must be an http(s) URL, got {value!r}")
    if not SECRET_NAME_RE.match(args.secret_name):
        parser.error(
            f"--secret-name must be 1-127 letters, digits or '-', got {args.secret_name!r}"
        )
    return Options(
        action=action,
        openai_endpoint=args.openai_endpoint,
        webhook_url=args.webhook_url,
        key_vault_uri=args.key_vault_uri or "",
        secret_name=args.secret_name,
        name=args.name,
        api_key=args.api_key,
        app_resource_id=args.app_resource_id,
        arm_endpoint=args.arm_endpoint,
        sip_uri=args.sip_uri,
        openai_location=_env("AZURE_OPENAI_LOCATION"),
        resource_group=_env("AZURE_RESOURCE_GROUP"),
    )


async def main(argv: Sequence[str], credential: TokenSource | None = None) -> int:
    """Run the script and return its exit code (``credential``: DefaultAzureCredential)."""
    options = parse_args(argv)
    owned: DefaultAzureCredential | None = None
    needs_entra = options.action != "delete" or not options.api_key
    if credential is None and needs_entra:
        owned = credential = DefaultAzureCredential()
    notes = (
        []
        if options.action == "delete"
        else sip_uri_notes(options.sip_uri, options.openai_location)
    )
    try:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            summary = await run(options, Client(session, options, credential))
    except EntraRefused as refused:
        # Not a failed deployment: everything else is in place, and one documented step remains.
        print(entra_refused(refused.status, options.openai_endpoint, options.resource_group))
        print("\n".join(notes))
        return 0
    except RegistrationError as error:
        print(f"register_webhook: {error}", file=sys.stderr)
        return 1
    finally:
        if owned is not None:
            await owned.close()
    print("\n".join([summary, *notes]))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="register_webhook: %(message)s")
    sys.exit(asyncio.run(main(sys.argv[1:])))
