"""Fixtures for running the real app: the emulator, the Durable test host, and the HTTP front.

``call_env`` wires the app's settings to the emulator and to Azurite (the call store: one
session-wide Azurite, a fresh store name per test); ``app_host`` runs ``function_app.app`` in the
Durable test host; ``app_url`` serves its HTTP functions so the emulator's webhooks arrive over
real HTTP. Everything binds 127.0.0.1 and is torn down after each test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from azure.functions.decorators.function_app import Function

from devhost.durable_host import DurableTestHost, indexed_functions
from devhost.http_front import HttpFront
from emulator import Emulator, EmulatorConfig
from emulator.config import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET
from switchboard.connection import close_connection
from switchboard.realtime.monitor_loop import MONITORS
from switchboard.settings import get_settings
from switchboard.store.account import close_account
from tests.support.azurite import (
    INSTALL_HELP,
    Azurite,
    AzuriteProcess,
    azurite_command,
    skip_or_fail,
)

TRANSFER_TARGET = "tel:+14155550100"
CALLER_KEY = "test-caller-index-key-0123456789abcdef"


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[Azurite | str]:
    """One in-memory Azurite for the session, or why there is none (reported by ``azurite``)."""
    command = azurite_command()
    if command is None:
        yield INSTALL_HELP
        return
    try:
        process = AzuriteProcess(command)
        server = process.__enter__()
    except RuntimeError as error:
        yield str(error)
        return
    yield server
    process.__exit__()


@pytest.fixture
def azurite(azurite_server: Azurite | str) -> Azurite:
    """The session's Azurite; skips the test (fails it in CI) when Azurite cannot run here."""
    if isinstance(azurite_server, str):
        skip_or_fail(azurite_server)
    assert isinstance(azurite_server, Azurite)
    return azurite_server


@pytest.fixture(scope="session")
def functions() -> list[Function]:
    """``function_app.app`` indexed once, the way the Python worker does."""
    import function_app

    return indexed_functions(function_app.app)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Tests may override this fixture to tune the emulator (ring timeout, retries...)."""
    return EmulatorConfig(ring_timeout_seconds=5.0, webhook_backoff_seconds=0.05)


@pytest.fixture
async def emulator(emulator_config: EmulatorConfig) -> AsyncIterator[Emulator]:
    """A fresh emulator on an ephemeral loopback port."""
    async with Emulator(emulator_config) as emu:
        yield emu


@dataclass
class CallEnv:
    """The app settings of one test; :meth:`set` changes them before the next read."""

    monkeypatch: pytest.MonkeyPatch
    values: dict[str, str] = field(default_factory=dict)

    def set(self, **values: str) -> None:
        """Set app settings (as the host would from local.settings.json) and drop the cache."""
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)
        self.values.update(values)
        get_settings.cache_clear()


@pytest.fixture
def call_env(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, azurite: Azurite
) -> Iterator[CallEnv]:
    """App settings pointing at the emulator and Azurite, in the environment the app reads."""
    env = CallEnv(monkeypatch)
    env.set(
        AzureWebJobsStorage=azurite.connection_string,
        CALL_STORE_NAME=f"calls{uuid.uuid4().hex[:16]}",
        CALL_STORE_CALLER_KEY=CALLER_KEY,
        AZURE_OPENAI_ENDPOINT=emulator.base_url,
        AZURE_OPENAI_DEPLOYMENT="gpt-realtime",
        AZURE_OPENAI_API_KEY=DEFAULT_API_KEY,
        OPENAI_WEBHOOK_SECRET=DEFAULT_WEBHOOK_SECRET,
        TRANSFER_TARGET_URI=TRANSFER_TARGET,
        TRANSFER_VERIFY_SECONDS="2",
        MONITOR_SLICE_SECONDS="60",
    )
    yield env
    get_settings.cache_clear()


@pytest.fixture
async def app_host(call_env: CallEnv, functions: list[Function]) -> AsyncIterator[DurableTestHost]:
    """``function_app.app`` running in the Durable test host."""
    async with DurableTestHost(functions) as host:
        yield host
    await close_loop_clients()
    await MONITORS.run(close_loop_clients)  # the slices' own, on the monitor loop


async def close_loop_clients() -> None:
    """Close the running loop's Realtime connection and call store account."""
    await close_connection()
    await close_account()


@pytest.fixture
async def app_url(app_host: DurableTestHost, functions: list[Function]) -> AsyncIterator[str]:
    """Where the app's HTTP functions listen: ``<app_url>/api/calls/incoming``."""
    async with HttpFront(app_host, functions) as front:
        yield front.base_url
