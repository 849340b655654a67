"""Plain-HTTP appends, signed with Shared Key (checked by Azurite) or an Entra bearer token."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from azure.core.credentials import AccessToken
from azure.storage.blob.aio import ContainerClient

from switchboard.store.account import Account, StoreConfig, StoreConfigError
from switchboard.store.appender import (
    STORAGE_SCOPE,
    TOKEN_REFRESH_SECONDS,
    Appender,
    AppendFailed,
    BearerToken,
    SharedKey,
)
from tests.support.azurite import ACCOUNT, KEY, Azurite
from tests.support.served import served


@pytest.fixture
async def container(azurite: Azurite) -> AsyncIterator[ContainerClient]:
    client = ContainerClient.from_connection_string(
        azurite.connection_string, f"append{uuid.uuid4().hex[:12]}"
    )
    await client.create_container()
    yield client
    await client.close()


async def blob_text(container: ContainerClient, name: str) -> str:
    data = await (await container.get_blob_client(name).download_blob()).readall()
    return data.decode()


@pytest.mark.parametrize("name", ["live/abc.jsonl", "live/a name with spaces+plus.jsonl"])
async def test_shared_key_appends_land_in_order(container: ContainerClient, name: str) -> None:
    appender = Appender(container.url, container.api_version, SharedKey(ACCOUNT, KEY))
    await appender.create(name)
    await appender.append(name, b"line 0\n")
    await appender.create(name)  # a later slice: the blob and its blocks stay
    for n in (1, 2):
        await appender.append(name, f"line {n}\n".encode())
    await appender.aclose()
    assert await blob_text(container, name) == "line 0\nline 1\nline 2\n"
    props = await container.get_blob_client(name).get_blob_properties()
    assert props.append_blob_committed_block_count == 3


async def test_a_wrong_key_is_refused_by_the_service(container: ContainerClient) -> None:
    await container.get_blob_client("b.jsonl").create_append_blob()
    wrong = base64.b64encode(b"not the key").decode()
    appender = Appender(container.url, container.api_version, SharedKey(ACCOUNT, wrong))
    with pytest.raises(AppendFailed, match=r"^append block: 403 AuthorizationFailure$"):
        await appender.append("b.jsonl", b"x\n")
    await appender.aclose()
    assert await blob_text(container, "b.jsonl") == ""


async def test_a_missing_blob_is_a_failed_append(container: ContainerClient) -> None:
    appender = Appender(container.url, container.api_version, SharedKey(ACCOUNT, KEY))
    with pytest.raises(AppendFailed, match=r"^append block: 404 BlobNotFound$"):
        await appender.append("never-made.jsonl", b"x\n")
    await appender.aclose()


class Credential:
    """Counts token requests; each token lives ``lifetime`` seconds."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(f"token{len(self.scopes)}", int(time.time() + self.lifetime))

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> Credential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None


async def test_the_bearer_token_is_kept_until_near_its_end() -> None:
    seen: list[dict[str, str]] = []

    async def append_block(request: web.Request) -> web.Response:
        seen.append({k: request.headers.get(k, "") for k in ("Authorization", "x-ms-version")})
        assert request.query["comp"] == "appendblock"
        assert await request.read() == b"x\n"
        return web.Response(status=201)

    async with served(web.put("/container/{name:.*}", append_block)) as base:
        await _appends_with_tokens(f"{base}/container", seen)


async def _appends_with_tokens(url: str, seen: list[dict[str, str]]) -> None:
    lasting = Credential(lifetime=3600)
    appender = Appender(url, "2026-10-06", BearerToken(lasting))
    await appender.append("a.jsonl", b"x\n")
    await appender.append("a.jsonl", b"x\n")
    assert lasting.scopes == [(STORAGE_SCOPE,)]  # one token for both
    assert seen[-1] == {"Authorization": "Bearer token1", "x-ms-version": "2026-10-06"}

    ending = Credential(lifetime=TOKEN_REFRESH_SECONDS - 1)  # inside the refresh margin
    short = Appender(url, "2026-10-06", BearerToken(ending))
    await short.append("a.jsonl", b"x\n")
    await short.append("a.jsonl", b"x\n")
    assert len(ending.scopes) == 2
    assert seen[-1]["Authorization"] == "Bearer token2"
    await appender.aclose()
    await short.aclose()


async def test_a_connection_string_without_a_key_cannot_sign_appends() -> None:
    sas = (
        "BlobEndpoint=https://acct.blob.core.windows.net/;"
        "TableEndpoint=https://acct.table.core.windows.net/;"
        "SharedAccessSignature=sv=2024-01-01&sig=abc"
    )
    account = Account(StoreConfig(connection_string=sas, name="calls"))
    with pytest.raises(StoreConfigError, match="has no AccountKey"):
        _ = account.appender
    await account.aclose()
