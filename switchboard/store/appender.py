"""Append blobs written with one plain HTTP request per block: the live transcript's writes.

The storage SDK's request pipeline (a dozen async policies, request ids, response hooks) costs
~1-3 ms of the worker's CPU per append, and the live transcript makes tens of appends a second
on the same loop as thousands of call sockets: measured in ``bench/capacity.py``, that was a
fifth of a core at 1,000 calls. This module sends the same ``Put Blob`` (an empty append blob)
and ``Append Block`` (``PUT <blob>?comp=appendblock``) requests the SDK sends, in the SDK client's
API version, on an aiohttp session,
authorised the two ways the app's store is reached (``switchboard.store.account``):

* identity-based (Azure): an Entra bearer token for Azure Storage from the app's credential,
  refreshed five minutes before it expires;
* a connection string (Azurite locally): Shared Key, the account key's HMAC-SHA256 over the
  request's canonical form.

Reading and deleting the blob stay with the SDK.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from email.utils import formatdate
from typing import Protocol
from urllib.parse import quote, urlsplit

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential

STORAGE_SCOPE = "https://storage.azure.com/.default"
TOKEN_REFRESH_SECONDS = 300.0
TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=5)


class AppendFailed(Exception):
    """The service refused a request: its status and ``x-ms-error-code``."""

    def __init__(self, operation: str, status: int, code: str) -> None:
        super().__init__(f"{operation}: {status} {code}".strip())
        self.status, self.code = status, code


_SIGNED_HEADERS = (
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-MD5",
    "Content-Type",
    "Date",  # empty: x-ms-date is sent instead
    "If-Modified-Since",
    "If-Match",
    "If-None-Match",
    "If-Unmodified-Since",
    "Range",
)
"""The standard headers Shared Key signs, in its order."""


class SharedKey:
    """Shared Key authorisation for one account (``AccountName`` and ``AccountKey``)."""

    def __init__(self, account: str, key: str) -> None:
        self._account = account
        self._key = base64.b64decode(key)

    async def authorize(self, method: str, url: str, headers: dict[str, str]) -> None:
        """Add ``x-ms-date`` and the ``Authorization`` header for this request."""
        headers["x-ms-date"] = formatdate(usegmt=True)
        parts = urlsplit(url)
        canonical_headers = "".join(
            f"{name}:{headers[name].strip()}\n"
            for name in sorted(h for h in headers if h.startswith("x-ms-"))
        )
        query = "".join(
            f"\n{name.lower()}:{value}" for name, value in sorted(_query(parts.query).items())
        )
        length = headers.get("Content-Length", "")
        standard = [headers.get(name, "") for name in _SIGNED_HEADERS]
        standard[2] = "" if length == "0" else length
        resource = f"/{self._account}{parts.path}"
        to_sign = "\n".join([method, *standard, canonical_headers + resource + query])
        digest = hmac.new(self._key, to_sign.encode(), hashlib.sha256).digest()
        headers["Authorization"] = f"SharedKey {self._account}:{base64.b64encode(digest).decode()}"


class BearerToken:
    """Entra authorisation from the app's credential, the token kept until near its expiry."""

    def __init__(self, credential: AsyncTokenCredential) -> None:
        self._credential = credential
        self._token = ""
        self._refresh_at = 0.0

    async def authorize(self, method: str, url: str, headers: dict[str, str]) -> None:
        """Add the ``Authorization`` header (a new token when the kept one is near its end)."""
        if time.time() >= self._refresh_at:
            token = await self._credential.get_token(STORAGE_SCOPE)
            self._token, self._refresh_at = token.token, token.expires_on - TOKEN_REFRESH_SECONDS
        headers["x-ms-date"] = formatdate(usegmt=True)
        headers["Authorization"] = f"Bearer {self._token}"


class Authorizer(Protocol):
    """Signs one request in place."""

    async def authorize(self, method: str, url: str, headers: dict[str, str]) -> None: ...


class Appender:
    """Sends ``Append Block`` requests for the blobs of one container."""

    def __init__(self, container_url: str, api_version: str, authorizer: Authorizer) -> None:
        self._container_url = container_url.rstrip("/")
        self._api_version = api_version
        self._authorizer = authorizer
        self._http: aiohttp.ClientSession | None = None

    async def create(self, blob_name: str) -> None:
        """Create an empty append blob; one that exists already is left as it is."""
        await self._send(blob_name, "", b"", {"x-ms-blob-type": "AppendBlob", "If-None-Match": "*"})

    async def append(self, blob_name: str, data: bytes) -> None:
        """Append ``data`` as one block; raises :class:`AppendFailed` or ``aiohttp.ClientError``."""
        await self._send(blob_name, "?comp=appendblock", data, {})

    async def _send(self, blob_name: str, query: str, data: bytes, extra: dict[str, str]) -> None:
        url = f"{self._container_url}/{quote(blob_name)}{query}"
        headers = {
            "x-ms-version": self._api_version,
            "Content-Length": str(len(data)),
            "Content-Type": "application/octet-stream",  # what aiohttp would add unsigned
            **extra,
        }
        await self._authorizer.authorize("PUT", url, headers)
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=TIMEOUT)  # on the loop that appends
        async with self._http.put(url, data=data, headers=headers) as response:
            code = response.headers.get("x-ms-error-code", "")
            if response.status != 201 and code != "BlobAlreadyExists":
                operation = "append block" if query else "create append blob"
                raise AppendFailed(operation, response.status, code)
            await response.read()

    async def aclose(self) -> None:
        """Close the session, if one was opened."""
        if self._http is not None:
            await self._http.close()


def _query(query: str) -> Mapping[str, str]:
    pairs = (part.partition("=") for part in query.split("&") if part)
    return {name: value for name, _, value in pairs}
