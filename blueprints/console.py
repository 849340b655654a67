"""The operator console: a static page (anonymous, it holds no data) and the agent's departments.

The page, its script and its style sheet are files under ``console/`` at the app root, served as
they are (no build step) with a Content-Security-Policy that allows only this origin's own script,
style and API: untrusted text (transcripts, caller headers) reaches the page only as data the
script inserts as text. Every call the page makes for data goes to the operator API with the
function key the operator typed in; ``GET /api/agent`` (function key) tells it where a transfer
to each department goes.
"""

import logging
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

from blueprints._http import error_response, json_response
from switchboard.settings import get_settings

logger = logging.getLogger(__name__)
bp = df.Blueprint()

STATIC_DIR = Path(__file__).resolve().parent.parent / "console"
ASSETS = {
    "console.js": "text/javascript",
    "console.css": "text/css",
}
"""The files served under ``/api/console/<name>``: a fixed list, so no path reaches the disk."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@bp.route(route="console", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    """The console's page: static HTML, no data (the data calls carry the function key)."""
    return _static("index.html", "text/html")


@bp.route(route="console/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    """The console's script and style sheet; any other name is 404."""
    name = req.route_params.get("name", "")
    mimetype = ASSETS.get(name)
    if mimetype is None:
        logger.info("console asset refused: %r", name[:100])
        return error_response(404, "no such file")
    return _static(name, mimetype)


@bp.route(route="agent", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def agent_departments(req: func.HttpRequest) -> func.HttpResponse:
    """The agent's departments with the target a transfer to each goes to, and the default."""
    settings = get_settings()
    plan = settings.plan()
    departments = [
        {"name": name, "about": about, "target": plan.target_for(name)}
        for name, about in sorted(settings.agent.departments.items())
    ]
    return json_response(
        200, {"departments": departments, "default_target": settings.transfer_target}
    )


def _static(name: str, mimetype: str) -> func.HttpResponse:
    body = (STATIC_DIR / name).read_bytes()
    return func.HttpResponse(
        body, status_code=200, mimetype=mimetype, charset="utf-8", headers=SECURITY_HEADERS
    )
