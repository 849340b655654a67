"""JSON responses, shaped the same on every route."""

import json
from typing import Any

import azure.functions as func


def json_response(status: int, body: dict[str, Any]) -> func.HttpResponse:
    """A JSON response with ``status``."""
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def error_response(status: int, message: str) -> func.HttpResponse:
    """A plain error: ``{"error": message}``, nothing that helps an attacker."""
    return json_response(status, {"error": message})
