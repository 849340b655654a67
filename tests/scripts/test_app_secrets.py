"""scripts/app_secrets.py against the local Key Vault and Resource Manager fakes.

The fakes are the ones register_webhook's tests use (aiohttp apps on 127.0.0.1 that record every
request). Every test checks that no secret value reaches stdout, stderr or the logs, and the
values made are read back through the app's own settings loaders.
"""

from __future__ import annotations

import base64
import logging
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from switchboard.events import EventsConfig
from switchboard.store.account import StoreConfig
from tests.scripts.test_register_webhook import APP_ID, FakeCredential, Fakes, _arm_app, _vault_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import app_secrets

ROOT = Path(__file__).resolve().parents[2]
CALLER_KEY = "call-store-caller-key"
EVENTS = "call-events-secret"


class Run:
    """The fakes, their URLs, and the script run against them."""

    def __init__(self, fakes: Fakes, vault: str, arm: str) -> None:
        self.fakes, self.vault, self.arm = fakes, vault, arm
        self.credential = FakeCredential()

    async def __call__(self, *extra: str, app_id: bool = True) -> int:
        argv = ["--key-vault-uri", self.vault, "--arm-endpoint", self.arm, *extra]
        if app_id:
            argv += ["--app-resource-id", APP_ID]
        return await app_secrets.main(argv, self.credential)

    def value(self, name: str) -> str:
        return str(self.fakes.secrets[name]["value"])

    def methods(self, api: str) -> list[str]:
        return [method for method, _ in self.fakes.calls(api)]


@pytest.fixture
async def run(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Run]:
    for name in ("CALL_STORE_CALLER_KEY_NAME", "CALL_EVENTS_SECRET_NAME", "AZURE_FUNCTION_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    fakes = Fakes()
    servers = [TestServer(_vault_app(fakes), host="127.0.0.1"),
               TestServer(_arm_app(fakes), host="127.0.0.1")]  # fmt: skip
    for server in servers:
        await server.start_server()
    vault, arm = (str(server.make_url("")).rstrip("/") for server in servers)
    try:
        yield Run(fakes, vault + "/", arm)
    finally:
        for server in servers:
            await server.close()


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.DEBUG)

    def read() -> str:
        captured = capsys.readouterr()
        return captured.out + captured.err + caplog.text

    return read


def assert_no_value(run: Run, text: str) -> None:
    values = [str(secret["value"]) for secret in run.fakes.secrets.values()]
    for value in values:
        assert value not in text
        assert value.removeprefix("whsec_")[:12] not in text


async def test_first_run_creates_a_random_caller_key_the_store_accepts(
    run: Run, output: Any
) -> None:
    assert await run() == 0

    assert list(run.fakes.secrets) == [CALLER_KEY]  # no events secret without events
    key = run.value(CALLER_KEY)
    assert len(key) == 64
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", key)
    assert run.fakes.secrets[CALLER_KEY]["tags"]["app-setting"] == "CALL_STORE_CALLER_KEY"
    config = StoreConfig.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                                   "CALL_STORE_CALLER_KEY": key})  # fmt: skip
    assert config.caller_secret == key.encode()
    assert run.methods("vault") == ["GET", "PUT"]
    assert run.fakes.calls("arm") == [
        ("POST", APP_ID + "/config/configreferences/appsettings/refresh")
    ]
    text = output()
    assert f"created Key Vault secret {CALLER_KEY} (CALL_STORE_CALLER_KEY)" in text
    assert "never replace it" in text
    assert_no_value(run, text)


async def test_a_second_run_keeps_the_key_and_writes_nothing(run: Run, output: Any) -> None:
    assert await run() == 0
    first = run.value(CALLER_KEY)
    run.fakes.requests.clear()

    assert await run() == 0

    assert run.value(CALLER_KEY) == first
    assert run.methods("vault") == ["GET"]
    assert run.fakes.calls("arm") == []  # nothing new: no refresh
    text = output()
    assert "exists: kept as it is" in text
    assert "0 created" in text
    assert_no_value(run, text)


async def test_a_key_set_by_the_operator_is_never_overwritten(run: Run, output: Any) -> None:
    run.fakes.secrets[CALLER_KEY] = {"value": "operator-chosen-key-" + "x" * 40}

    assert await run("--caller-key-name", CALLER_KEY) == 0

    assert run.value(CALLER_KEY) == "operator-chosen-key-" + "x" * 40
    assert "PUT" not in run.methods("vault")
    assert_no_value(run, output())


async def test_each_vault_gets_its_own_random_key() -> None:
    keys = {app_secrets.caller_key() for _ in range(20)}
    assert len(keys) == 20


async def test_the_events_secret_is_made_only_when_named_and_the_app_accepts_it(
    run: Run, output: Any
) -> None:
    assert await run("--events-secret-name", EVENTS) == 0

    assert set(run.fakes.secrets) == {CALLER_KEY, EVENTS}
    secret = run.value(EVENTS)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    config = EventsConfig.from_env({"CALL_EVENTS_URL": "https://crm.example.com/hooks",
                                    "CALL_EVENTS_SECRET": secret})  # fmt: skip
    assert config is not None
    assert config.key == base64.b64decode(secret.removeprefix("whsec_"))
    assert len(run.fakes.calls("arm")) == 1  # one refresh for both
    text = output()
    assert f"az keyvault secret show --name {EVENTS}" in text
    assert_no_value(run, text)


async def test_the_events_secret_name_comes_from_the_bicep_output(
    run: Run, output: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALL_EVENTS_SECRET_NAME", "events-from-bicep")
    monkeypatch.setenv("CALL_STORE_CALLER_KEY_NAME", "caller-from-bicep")

    assert await run() == 0

    assert set(run.fakes.secrets) == {"caller-from-bicep", "events-from-bicep"}
    assert_no_value(run, output())


async def test_a_soft_deleted_secret_stops_the_run_with_the_recover_command(
    run: Run, output: Any
) -> None:
    run.fakes.vault_status = 409  # the fake echoes the value in its error body

    assert await run() == 1

    text = output()
    assert f"write Key Vault secret {CALLER_KEY}: answered 409" in text
    assert f"az keyvault secret recover --vault-name <vault> --name {CALLER_KEY}" in text
    assert run.fakes.secrets == {}
    assert run.fakes.calls("arm") == []
    assert "cannot store" not in text  # the echoed body (with the value) is never shown


async def test_a_refused_write_names_the_role_without_the_value(run: Run, output: Any) -> None:
    run.fakes.vault_status = 403

    assert await run() == 1

    text = output()
    assert "answered 403" in text
    assert "Key Vault Secrets Officer" in text
    assert "cannot store" not in text


async def test_a_refresh_failure_is_a_warning(run: Run, output: Any) -> None:
    run.fakes.refresh_status = 403

    assert await run() == 0

    assert CALLER_KEY in run.fakes.secrets
    text = output()
    assert "within 24 hours" in text
    assert_no_value(run, text)


async def test_no_refresh_without_the_app_id(run: Run, output: Any) -> None:
    assert await run(app_id=False) == 0
    assert run.fakes.calls("arm") == []
    assert_no_value(run, output())


def test_a_bad_secret_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        app_secrets.parse_args(["--key-vault-uri", "https://kv.vault.azure.net/",
                                "--events-secret-name", "bad name/.."])  # fmt: skip
    assert exit_info.value.code == 2
    assert "--events-secret-name must be 1-127 letters" in capsys.readouterr().err


def test_the_postprovision_hook_creates_the_secrets_before_registering() -> None:
    hook = (ROOT / "azure.yaml").read_text(encoding="utf-8").split("postprovision:", 1)[1]
    hook = hook.split("predown:", 1)[0]
    runs = [line for line in hook.splitlines() if line.strip().startswith("run:")]
    assert len(runs) == 2  # posix and windows
    for line in runs:
        assert "scripts/app_secrets.py" in line
        assert line.index("scripts/app_secrets.py") < line.index("scripts/register_webhook.py")
        between = line[line.index("app_secrets.py") : line.index("register_webhook.py")]
        assert "&&" in between  # a failed secret step stops the hook
