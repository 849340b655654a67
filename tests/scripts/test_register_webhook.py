"""scripts/register_webhook.py against local fakes of the three REST APIs it uses.

Each fake is a small aiohttp app on 127.0.0.1: Azure OpenAI webhook endpoints, Key Vault
secrets and the Resource Manager refresh call. The fakes record every request, so the tests can
assert what was (not) called; every test also checks the signing secret never reaches stdout,
stderr or the logs.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from azure.core.credentials import AccessToken

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import register_webhook

WEBHOOK_URL = "https://func-switchboard-abc.azurewebsites.net/api/calls/incoming"
APP_ID = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Web/sites/func-switchboard-abc"
API_KEY = "test-api-key"
WEBHOOKS = "/openai/v1/dashboard/webhook_endpoints"


class FakeCredential:
    """Hands out a fake token per scope and remembers which scopes were asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(f"token-for-{scopes[0]}", int(time.time()) + 3600)


@dataclass
class Fakes:
    """State and request log of the three fakes."""

    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (api, method, path)
    issued_secrets: list[str] = field(default_factory=list)
    page_size: int = 100
    vault_status: int | None = None  # force an error status on vault writes
    refresh_status: int = 200
    entra_status: int | None = None  # refuse Entra tokens with this status (keys still work)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def calls(self, api: str) -> list[tuple[str, str]]:
        return [(method, path) for name, method, path in self.requests if name == api]

    def add_endpoint(self, url: str, name: str = "switchboard") -> dict[str, Any]:
        number = next(self.ids)
        endpoint: dict[str, Any] = {
            "id": f"wh_{number}",
            "object": "webhook.endpoint",
            "created_at": 1750000000 + number,
            "event_types": ["realtime.call.incoming"],
            "name": name,
            "url": url,
            "signing_secret_hint": "whsec_...",
        }
        self.endpoints[endpoint["id"]] = endpoint
        return endpoint


def _openai_app(fakes: Fakes) -> web.Application:
    def authorised(request: web.Request) -> bool:
        bearer = request.headers.get("Authorization", "")
        return request.headers.get("api-key") == API_KEY or bearer == (
            f"Bearer token-for-{register_webhook.OPENAI_SCOPE}"
        )

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        fakes.requests.append(("openai", request.method, request.path_qs))
        if fakes.entra_status and "api-key" not in request.headers:
            return web.json_response(
                {"error": {"code": "PermissionDenied"}}, status=fakes.entra_status
            )
        if not authorised(request):
            return web.json_response({"error": {"message": "Access denied"}}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def list_endpoints(request: web.Request) -> web.Response:
        items = sorted(fakes.endpoints.values(), key=lambda e: e["id"])
        after = request.query.get("after")
        if after:
            items = [e for e in items if e["id"] > after]
        page = items[: fakes.page_size]
        return web.json_response(
            {"object": "list", "data": page, "has_more": len(items) > len(page)}
        )

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        endpoint = fakes.add_endpoint(body["url"], body["name"])
        endpoint["event_types"] = body["event_types"]
        secret = f"whsec_SECRET{len(fakes.issued_secrets)}dGhpcyBpcyBub3QgcmVhbA=="
        fakes.issued_secrets.append(secret)
        return web.json_response({**endpoint, "signing_secret": secret})

    async def update(request: web.Request) -> web.Response:
        endpoint = fakes.endpoints.get(request.match_info["id"])
        if endpoint is None:
            return web.json_response({"error": {"message": "not found"}}, status=404)
        endpoint.update(await request.json())
        return web.json_response(endpoint)

    async def delete(request: web.Request) -> web.Response:
        if fakes.endpoints.pop(request.match_info["id"], None) is None:
            return web.json_response({"error": {"message": "not found"}}, status=404)
        return web.json_response({"id": request.match_info["id"], "deleted": True})

    app = web.Application(middlewares=[record])
    app.router.add_get(WEBHOOKS, list_endpoints)
    app.router.add_post(WEBHOOKS, create)
    app.router.add_post(WEBHOOKS + "/{id}", update)
    app.router.add_delete(WEBHOOKS + "/{id}", delete)
    return app


def _vault_app(fakes: Fakes) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        fakes.requests.append(("vault", request.method, request.path))
        expected = f"Bearer token-for-{register_webhook.VAULT_SCOPE}"
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        if request.query.get("api-version") != register_webhook.KEY_VAULT_API_VERSION:
            return web.json_response({"error": {"code": "BadParameter"}}, status=400)
        response: web.StreamResponse = await handler(request)
        return response

    async def get_secret(request: web.Request) -> web.Response:
        stored = fakes.secrets.get(request.match_info["name"])
        if stored is None:
            return web.json_response({"error": {"code": "SecretNotFound"}}, status=404)
        return web.json_response(stored)

    async def put_secret(request: web.Request) -> web.Response:
        body = await request.json()
        if fakes.vault_status is not None:
            # A careless server echoing the request: the script must redact it.
            return web.json_response(
                {"error": {"code": "Forbidden", "message": f"cannot store {body['value']}"}},
                status=fakes.vault_status,
            )
        fakes.secrets[request.match_info["name"]] = body
        return web.json_response({**body, "id": "v1"})

    app = web.Application(middlewares=[record])
    app.router.add_get("/secrets/{name}", get_secret)
    app.router.add_put("/secrets/{name}", put_secret)
    return app


def _arm_app(fakes: Fakes) -> web.Application:
    async def refresh(request: web.Request) -> web.Response:
        fakes.requests.append(("arm", request.method, request.path))
        assert request.headers["Authorization"] == f"Bearer token-for-{register_webhook.ARM_SCOPE}"
        return web.json_response({"value": []}, status=fakes.refresh_status)

    app = web.Application()
    app.router.add_post("/{tail:.*}", refresh)
    return app


@dataclass
class Env:
    fakes: Fakes
    credential: FakeCredential
    openai: str
    vault: str
    arm: str

    def argv(self, *extra: str, app_id: bool = True) -> list[str]:
        args = [
            "--openai-endpoint", self.openai,
            "--webhook-url", WEBHOOK_URL,
            "--key-vault-uri", self.vault,
            "--arm-endpoint", self.arm,
        ]  # fmt: skip
        if app_id:
            args += ["--app-resource-id", APP_ID]
        return args + list(extra)

    async def run(self, *extra: str, app_id: bool = True) -> int:
        return await register_webhook.main(self.argv(*extra, app_id=app_id), self.credential)


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    for name in ("AZURE_OPENAI_API_KEY", "AZURE_FUNCTION_APP_ID", "WEBHOOK_NAME", "SIP_URI",
                 "AZURE_OPENAI_LOCATION", "AZURE_RESOURCE_GROUP"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    fakes = Fakes()
    servers = [
        TestServer(_openai_app(fakes), host="127.0.0.1"),
        TestServer(_vault_app(fakes), host="127.0.0.1"),
        TestServer(_arm_app(fakes), host="127.0.0.1"),
    ]
    for server in servers:
        await server.start_server()
    openai, vault, arm = (str(server.make_url("")).rstrip("/") for server in servers)
    try:
        yield Env(fakes, FakeCredential(), openai, vault + "/", arm)
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


def assert_no_secret(fakes: Fakes, text: str) -> None:
    assert fakes.issued_secrets or fakes.vault_status, "the fake never issued a secret"
    for secret in fakes.issued_secrets:
        assert secret not in text
        assert "dGhpcyBpcyBub3QgcmVhbA" not in text


async def test_first_run_creates_endpoint_and_stores_secret_in_vault(env: Env, output: Any) -> None:
    assert await env.run() == 0

    [endpoint] = env.fakes.endpoints.values()
    assert endpoint["url"] == WEBHOOK_URL
    assert endpoint["event_types"] == ["realtime.call.incoming"]
    stored = env.fakes.secrets["openai-webhook-secret"]
    assert stored["value"] == env.fakes.issued_secrets[0]
    assert stored["tags"] == {"webhook-endpoint-id": endpoint["id"]}
    assert env.fakes.calls("arm") == [
        ("POST", APP_ID + "/config/configreferences/appsettings/refresh")
    ]
    text = output()
    assert f"webhook endpoint {endpoint['id']} created" in text
    assert_no_secret(env.fakes, text)


async def test_second_run_changes_nothing(env: Env, output: Any) -> None:
    assert await env.run() == 0
    before = dict(env.fakes.secrets)
    env.fakes.requests.clear()

    assert await env.run() == 0

    assert [m for m, _ in env.fakes.calls("openai")] == ["GET"]
    assert [m for m, _ in env.fakes.calls("vault")] == ["GET"]
    assert env.fakes.calls("arm") == []
    assert env.fakes.secrets == before
    assert len(env.fakes.endpoints) == 1
    text = output()
    assert "unchanged" in text
    assert_no_secret(env.fakes, text)


async def test_existing_endpoint_found_by_url_is_updated_not_recreated(
    env: Env, output: Any
) -> None:
    assert await env.run() == 0
    [endpoint_id] = env.fakes.endpoints
    env.fakes.add_endpoint("https://elsewhere.example/hook", name="other app")
    env.fakes.requests.clear()

    assert await env.run("--name", "switchboard-prod") == 0

    assert env.fakes.endpoints[endpoint_id]["name"] == "switchboard-prod"
    assert ("POST", f"{WEBHOOKS}/{endpoint_id}") in env.fakes.calls("openai")
    assert [m for m, _ in env.fakes.calls("vault")] == ["GET"]
    assert len(env.fakes.issued_secrets) == 1
    assert env.fakes.endpoints[endpoint_id]["url"] == WEBHOOK_URL
    assert len(env.fakes.endpoints) == 2  # the other app's endpoint is left alone
    assert_no_secret(env.fakes, output())


async def test_endpoint_without_secret_in_vault_is_recreated(env: Env, output: Any) -> None:
    old = env.fakes.add_endpoint(WEBHOOK_URL)

    assert await env.run() == 0

    assert old["id"] not in env.fakes.endpoints
    [new] = env.fakes.endpoints.values()
    assert env.fakes.secrets["openai-webhook-secret"]["tags"]["webhook-endpoint-id"] == new["id"]
    text = output()
    assert "re-creating the endpoint" in text
    assert "re-created" in text
    assert_no_secret(env.fakes, text)


async def test_rotate_replaces_endpoint_and_secret(env: Env, output: Any) -> None:
    assert await env.run() == 0
    [old_id] = env.fakes.endpoints

    assert await env.run("--rotate") == 0

    [new_id] = env.fakes.endpoints
    assert new_id != old_id
    first, second = env.fakes.issued_secrets
    assert first != second
    assert env.fakes.secrets["openai-webhook-secret"]["value"] == second
    assert len(env.fakes.calls("arm")) == 2
    assert_no_secret(env.fakes, output())


async def test_delete_removes_only_matching_endpoints(env: Env, output: Any) -> None:
    assert await env.run() == 0
    other = env.fakes.add_endpoint("https://elsewhere.example/hook")

    assert await env.run("--delete") == 0

    assert list(env.fakes.endpoints) == [other["id"]]
    assert "deleted 1 webhook endpoint" in output()


async def test_list_pages_are_followed(env: Env, output: Any) -> None:
    for number in range(3):
        env.fakes.add_endpoint(f"https://other{number}.example/hook")
    assert await env.run() == 0
    env.fakes.page_size = 1
    env.fakes.requests.clear()

    assert await env.run() == 0

    assert len([m for m, _ in env.fakes.calls("openai") if m == "GET"]) == 4
    assert len(env.fakes.endpoints) == 4  # found on the last page: nothing re-created
    assert "unchanged" in output()


async def test_api_key_is_sent_instead_of_a_token(env: Env, output: Any) -> None:
    assert await env.run("--api-key", API_KEY) == 0

    assert register_webhook.OPENAI_SCOPE not in env.credential.scopes
    assert register_webhook.VAULT_SCOPE in env.credential.scopes
    assert_no_secret(env.fakes, output())


async def test_rejected_credentials_are_reported_clearly(env: Env, output: Any) -> None:
    assert await env.run("--api-key", "wrong") == 1

    text = output()
    assert "list webhook endpoints" in text
    assert "answered 401" in text
    assert "api-key was refused" in text
    assert "disableLocalAuth=false" in text
    assert env.fakes.endpoints == {}


async def test_vault_write_failure_is_reported_without_the_secret(env: Env, output: Any) -> None:
    env.fakes.vault_status = 403

    assert await env.run() == 1

    text = output()
    assert "write Key Vault secret" in text
    assert "answered 403" in text
    assert "Key Vault Secrets Officer" in text
    assert "[redacted]" in text
    assert_no_secret(env.fakes, text)


async def test_refresh_failure_is_a_warning_not_an_error(env: Env, output: Any) -> None:
    env.fakes.refresh_status = 403

    assert await env.run() == 0

    text = output()
    assert "refresh Key Vault references" in text
    assert "within 24 hours" in text
    assert env.fakes.secrets["openai-webhook-secret"]["value"] == env.fakes.issued_secrets[0]
    assert_no_secret(env.fakes, text)


async def test_no_refresh_without_app_id(env: Env, output: Any) -> None:
    assert await env.run(app_id=False) == 0
    assert env.fakes.calls("arm") == []
    assert_no_secret(env.fakes, output())


async def test_unreachable_endpoint_is_reported(env: Env, output: Any) -> None:
    argv = env.argv()
    argv[argv.index("--openai-endpoint") + 1] = "http://127.0.0.1:9"

    assert await register_webhook.main(argv, env.credential) == 1
    assert "list webhook endpoints: GET http://127.0.0.1:9" in output()


def test_missing_options_name_the_environment_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AZURE_OPENAI_ENDPOINT", "WEBHOOK_URL", "AZURE_KEY_VAULT_URI"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        register_webhook.parse_args([])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "AZURE_OPENAI_ENDPOINT" in err
    assert "WEBHOOK_URL" in err
    assert "AZURE_KEY_VAULT_URI" in err


def test_options_come_from_the_azd_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://oai.openai.azure.com")
    monkeypatch.setenv("WEBHOOK_URL", WEBHOOK_URL)
    monkeypatch.setenv("AZURE_KEY_VAULT_URI", "https://kv.vault.azure.net/")
    monkeypatch.setenv("WEBHOOK_SECRET_NAME", "hook-secret")
    monkeypatch.setenv("AZURE_FUNCTION_APP_ID", APP_ID)

    options = register_webhook.parse_args([])

    assert options.openai_endpoint == "https://oai.openai.azure.com"
    assert options.key_vault_uri == "https://kv.vault.azure.net/"
    assert options.secret_name == "hook-secret"
    assert options.app_resource_id == APP_ID
    assert options.action == "register"


def test_bad_secret_name_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        register_webhook.parse_args(
            ["--openai-endpoint", "https://a", "--webhook-url", WEBHOOK_URL,
             "--key-vault-uri", "https://kv", "--secret-name", "no_underscores"]
        )  # fmt: skip
    assert "--secret-name must be" in capsys.readouterr().err


SIP = "sip:proj_0123456789abcdef@swedencentral.sip.ai.azure.com;transport=tls"


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_entra_token_explains_the_key_path_without_failing(
    env: Env, output: Any, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg-switchboard")
    env.fakes.entra_status = status

    assert await env.run("--sip-uri", SIP) == 0  # azd up goes on: one documented step remains

    text = output()
    assert f"answered {status} to your Entra token" in text
    assert "The webhook is NOT registered yet" in text
    host = env.openai.split("//")[1].split(":")[0]  # the fake's account name is its host
    assert f"az resource update -g rg-switchboard -n {host.split('.')[0]}" in text
    assert "--set properties.disableLocalAuth=false" in text
    assert "az cognitiveservices account keys list" in text
    assert "--set properties.disableLocalAuth=true" in text
    assert f"SIP URI for your trunk: {SIP}" in text
    assert env.fakes.endpoints == {}
    assert env.fakes.calls("vault") == []

    # ... and the path it describes works: the same run with a key registers the webhook.
    assert await env.run("--api-key", API_KEY, "--sip-uri", SIP) == 0
    [endpoint] = env.fakes.endpoints.values()
    assert endpoint["url"] == WEBHOOK_URL
    stored = env.fakes.secrets["openai-webhook-secret"]
    assert stored["tags"] == {"webhook-endpoint-id": endpoint["id"]}
    assert f"SIP URI for your trunk: {SIP}" in output()
    assert_no_secret(env.fakes, output())


async def test_the_sip_uri_is_printed_after_registration(env: Env, output: Any) -> None:
    assert await env.run("--sip-uri", SIP) == 0
    text = output()
    assert f"SIP URI for your trunk: {SIP}" in text
    assert "WARNING" not in text


@pytest.mark.parametrize(
    ("sip_uri", "warning"),
    [
        ("sip:proj_@swedencentral.sip.ai.azure.com;transport=tls", "has no project id"),
        ("sip:proj_abc@westeurope.sip.ai.azure.com;transport=tls", "is in westeurope"),
    ],
)
async def test_a_suspicious_sip_uri_is_called_out(
    env: Env, output: Any, sip_uri: str, warning: str
) -> None:
    assert await env.run("--sip-uri", sip_uri) == 0
    text = output()
    assert f"SIP URI for your trunk: {sip_uri}" in text
    assert warning in text


async def test_an_existing_resource_outside_the_sip_regions_is_called_out(
    env: Env, output: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_LOCATION", "westus")
    assert await env.run("--sip-uri", SIP) == 0
    assert "the Azure OpenAI resource is in westus" in output()
