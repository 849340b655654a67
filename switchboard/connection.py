"""The one adapter for how Switchboard reaches Azure OpenAI (or the local emulator, or OpenAI).

Entra ID by default: ``azure.identity.aio`` fetches, caches and refreshes the bearer token; the
``openai`` SDK asks its provider before each request. An API key is only a local fallback.
Clients are bound to an event loop, so there is one :class:`Connection` per running loop: one in
the Functions worker, one per test in the tests.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import weakref
from typing import Any

import aiohttp
import openai
from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider

from switchboard.settings import Settings
from switchboard.untrusted import build_url

TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"  # noqa: S105  # a scope, not a secret
REST_TIMEOUT_SECONDS = 10.0
GC_YOUNG_THRESHOLD = 50_000  # see tune_gc_for_calls


class Connection:
    """The SDK client for REST and an aiohttp session for the call WebSocket, same auth for both."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._credential: DefaultAzureCredential | None = None
        if settings.api_key:
            api_key: Any = settings.api_key
            headers = {"api-key": settings.api_key}
        else:
            self._credential = DefaultAzureCredential(managed_identity_client_id=settings.client_id)
            api_key = get_bearer_token_provider(self._credential, TOKEN_SCOPE)
            headers = {}
        self._api_key = api_key
        self.client = openai.AsyncOpenAI(
            base_url=settings.api_base_url + "/",
            api_key=api_key,
            default_headers=headers,
            webhook_secret=settings.webhook_secret,
            max_retries=0,  # Durable retries activities; retrying here too would multiply attempts
            timeout=REST_TIMEOUT_SECONDS,
        )
        self._http: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The session WebSockets are opened with (created on first use, on the running loop)."""
        if self._http is None:
            # An open WebSocket holds its pool slot for the whole call: no pool limit, or the
            # 101st live call on a worker would wait for a slot (aiohttp's default is 100).
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._http

    def realtime_url(self, call_id: str) -> str:
        """``wss://<resource>/openai/v1/realtime?call_id=...`` (``ws://`` for a local emulator).

        The call id is encoded: it can add no query parameter of its own.
        """
        base = self.settings.api_base_url
        scheme = "wss" if base.startswith("https://") else "ws"
        return build_url(f"{scheme}://{base.split('://', 1)[1]}", "realtime", call_id=call_id)

    async def auth_headers(self) -> dict[str, str]:
        """Headers for a WebSocket handshake: ``api-key`` or a fresh ``Authorization: Bearer``."""
        if self.settings.api_key:
            return {"api-key": self.settings.api_key}
        token = await self._api_key()
        return {"Authorization": f"Bearer {token}"}

    async def aclose(self) -> None:
        """Close every client this connection opened."""
        await self.client.close()
        if self._http is not None:
            await self._http.close()
        if self._credential is not None:
            await self._credential.close()


_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Connection] = (
    weakref.WeakKeyDictionary()
)


_retired: set[asyncio.Task[None]] = set()


def get_connection(settings: Settings) -> Connection:
    """The running loop's connection, created on first use.

    Settings that changed (between tests: the monitor loop outlives each test's loop) get a new
    connection and the old one is closed.
    """
    loop = asyncio.get_running_loop()
    connection = _connections.get(loop)
    if connection is None or connection.settings != settings:
        tune_gc_for_calls()
        if connection is not None:
            closing = loop.create_task(connection.aclose())
            _retired.add(closing)
            closing.add_done_callback(_retired.discard)
        connection = _connections[loop] = Connection(settings)
    return connection


@functools.cache
def tune_gc_for_calls() -> None:
    """Once per process, before the first call: keep the garbage collector off the event path.

    A worker holds hundreds of call sockets on one event loop, and every collection pauses all
    of them. With CPython's defaults, at 1,500 calls streaming 20 events/s each, collections
    took 5-15 % of the worker's time (30-45 % at 2,000) and full ones paused it for 150-250 ms
    every few seconds: that was the p99 event lag (``bench/capacity.py``, docs/performance.md).

    * ``gc.freeze()`` after a collection: what start-up built (the ``openai`` SDK's pydantic
      models above all, ~100k objects that live as long as the process) leaves the collector's
      view, so a full collection walks only the calls' own objects. Frozen objects are still
      freed by reference counting; only cycles among them would stay.
    * A generation-0 threshold of 50,000 (default 700): per-event objects (futures, handles,
      parsed events) die by reference counting within milliseconds, but at the default a young
      collection ran every few dozen events and promoted each call's in-flight ones, which then
      set off full collections. Cyclic garbage now waits for 50,000 net allocations: a few MB.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def close_connection() -> None:
    """Close the running loop's connection, if any (tests, and worker shutdown)."""
    connection = _connections.pop(asyncio.get_running_loop(), None)
    if connection is not None:
        await connection.aclose()
