"""The console's page, assets and departments route, through the real functions."""

from __future__ import annotations

import json
import re

import azure.functions as func
import pytest

from blueprints.console import CONTENT_SECURITY_POLICY, STATIC_DIR
from devhost.durable_host import DurableTestHost
from tests.conftest import TRANSFER_TARGET, CallEnv

SALES = "tel:+14155550111"
SUPPORT = "sip:help@pbx.example.com"


async def get(host: DurableTestHost, function: str, route: str, **params: str) -> func.HttpResponse:
    req = func.HttpRequest(
        method="GET", url=f"http://127.0.0.1/api/{route}", body=b"", route_params=params
    )
    return await host.call_http(function, req)


async def test_the_page_is_static_html_with_a_strict_content_security_policy(
    app_host: DurableTestHost,
) -> None:
    response = await get(app_host, "console_page", "console")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_body().decode()
    assert re.findall(r"<script[^>]*>", html) == ['<script src="console/console.js" defer>']
    assert re.search(r"\son[a-z]+\s*=", html) is None  # no inline handlers
    assert re.search(r"\sstyle\s*=", html) is None  # no inline style (style-src 'self')


@pytest.mark.parametrize(
    ("name", "mimetype"), [("console.js", "text/javascript"), ("console.css", "text/css")]
)
async def test_assets_are_served_from_a_fixed_list(
    app_host: DurableTestHost, name: str, mimetype: str
) -> None:
    response = await get(app_host, "console_asset", f"console/{name}", name=name)
    assert (response.status_code, response.mimetype) == (200, mimetype)
    assert response.get_body() == (STATIC_DIR / name).read_bytes()
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("name", ["index.html", "..%2Ffunction_app.py", "../host.json", ""])
async def test_any_other_asset_is_404(app_host: DurableTestHost, name: str) -> None:
    response = await get(app_host, "console_asset", f"console/{name}", name=name)
    assert response.status_code == 404
    assert json.loads(response.get_body()) == {"error": "no such file"}


def test_the_script_inserts_text_only() -> None:
    script = (STATIC_DIR / "console.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert "textContent" in script


async def test_agent_route_gives_departments_and_where_each_transfer_goes(
    app_host: DurableTestHost, call_env: CallEnv
) -> None:
    call_env.set(
        AGENT_DEFINITION="agents/front_desk.toml",
        TRANSFER_TARGETS=f"sales={SALES},support={SUPPORT}",
    )
    response = await get(app_host, "agent_departments", "agent")
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {
        "departments": [
            {"name": "sales", "about": "new orders, quotes and pricing", "target": SALES},
            {
                "name": "support",
                "about": "existing orders, deliveries and product problems",
                "target": SUPPORT,
            },
        ],
        "default_target": TRANSFER_TARGET,
    }


async def test_agent_route_without_departments(app_host: DurableTestHost) -> None:
    response = await get(app_host, "agent_departments", "agent")
    assert json.loads(response.get_body()) == {
        "departments": [],
        "default_target": TRANSFER_TARGET,
    }
