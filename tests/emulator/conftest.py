from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from emulator import Emulator, EmulatorConfig
from tests.emulator.emulator_testkit import API_KEY, SECRET, FakeApp


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(
        api_key=API_KEY,
        webhook_secret=SECRET,
        ring_timeout_seconds=1.0,
        webhook_retries=2,
        webhook_backoff_seconds=0.05,
        webhook_timeout_seconds=2.0,
        step_timeout_seconds=3.0,
    )


@pytest.fixture
async def emu(config: EmulatorConfig) -> AsyncIterator[Emulator]:
    async with Emulator(config) as emulator:
        yield emulator


@pytest.fixture
async def app(emu: Emulator) -> AsyncIterator[FakeApp]:
    fake = FakeApp(emu.base_url)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def sdk(emu: Emulator) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=emu.base_url + "/openai/v1/", api_key=API_KEY, max_retries=0)
    yield client
    await client.close()
