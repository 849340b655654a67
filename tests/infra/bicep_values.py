"""Values of the Bicep evaluator: deploy-time placeholders, functions, operators, decorators.

Split from ``bicep_eval`` (which walks the templates) so each module stays small. The function
table follows pycep's snake_case names (``to_lower``, ``unique_string``); ``uniqueString`` and
``guid`` are stable stand-in hashes of the real length and shape.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AZD_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:=([^}]*))?\}")


class Unsupported(Exception):
    """A construct the evaluator cannot evaluate (the message names it)."""


@dataclass(frozen=True)
class DeployTime:
    """A value only Azure knows while deploying (a resource id, an endpoint, a principal id)."""

    what: str


@dataclass(frozen=True)
class Context:
    """What the deployment's scope supplies: resourceGroup() and subscription()."""

    location: str = "swedencentral"
    resource_group: str = "rg-switchboard"
    subscription_id: str = "00000000-0000-0000-0000-000000000000"


def substitute_azd(value: Any, env: Mapping[str, str]) -> Any:
    """azd's substitution in a parameters file: ``${VAR}`` and ``${VAR=default}``."""
    if isinstance(value, str):
        return AZD_VARIABLE.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", value)
    if isinstance(value, dict):
        return {key: substitute_azd(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_azd(item, env) for item in value]
    return value


def load_parameters(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The values of an ARM parameters file, after azd's substitution."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: substitute_azd(p["value"], env) for name, p in data["parameters"].items()}


def runtime_of(values: list[Any]) -> DeployTime | None:
    return next((v for v in values if isinstance(v, DeployTime)), None)


def _stand_in(values: list[Any]) -> str:
    return hashlib.sha256("|".join(map(repr, values)).encode()).hexdigest()


def _unique_string(*values: Any) -> str:
    """uniqueString: 13 lowercase base-32 characters, stable for the same inputs."""
    digest = hashlib.sha256(_stand_in(list(values)).encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[b % 32] for b in digest[:13])


def _concat(*items: Any) -> Any:
    if all(isinstance(item, str) for item in items):
        return "".join(items)
    return [element for item in items for element in item]


def _union(*items: Any) -> Any:
    merged: dict[str, Any] = {}
    for item in items:
        merged.update(item)
    return merged


PURE: dict[str, Callable[..., Any]] = {
    "to_lower": lambda s: s.lower(),
    "to_upper": lambda s: s.upper(),
    "take": lambda v, n: v[: max(n, 0)],
    "skip": lambda v, n: v[max(n, 0) :],
    "replace": lambda s, old, new: s.replace(old, new),
    "substring": lambda s, start, length=None: s[start:][:length],
    "pad_left": lambda s, width, char=" ": str(s).rjust(width, char),
    "string": lambda v: str(v).lower() if isinstance(v, bool) else str(v),
    "int": int,
    "length": len,
    "empty": lambda v: v is None or len(v) == 0,
    "starts_with": lambda s, p: s.lower().startswith(p.lower()),
    "ends_with": lambda s, p: s.lower().endswith(p.lower()),
    "contains": lambda v, item: item in v,
    "concat": _concat,
    "union": _union,
    "min": min,
    "max": max,
    "unique_string": _unique_string,
    "guid": lambda *v: str(uuid.UUID(_stand_in(list(v))[:32])),
    "subscription_resource_id": lambda *v: "/subscriptions/sub/providers/" + "/".join(v),
}
OPERATORS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "minus": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: int(a / b),
    "modulo": lambda a, b: a % b,
    "equals": lambda a, b: a == b,
    "not_equals": lambda a, b: a != b,
    "greater_than": lambda a, b: a > b,
    "greater_than_or_equals": lambda a, b: a >= b,
    "less_than": lambda a, b: a < b,
    "less_than_or_equals": lambda a, b: a <= b,
    "not": lambda a: not a,
}
# Functions whose result has a known shape even when an input is known only at deployment.
SHAPED = {"unique_string", "guid"}


def walk(value: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(value, DeployTime):
            return DeployTime(f"{value.what}.{step}")
        value = value[step]
    return value


def text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def decorator_violation(kind: str, limit: Any, value: Any) -> str | None:
    if kind == "min_length" and len(value) < limit:
        return f"is {len(value)} long, under @minLength({limit})"
    if kind == "max_length" and len(value) > limit:
        return f"is {len(value)} long, over @maxLength({limit})"
    if kind == "min_value" and value < limit:
        return f"is under @minValue({limit})"
    if kind == "max_value" and value > limit:
        return f"is over @maxValue({limit})"
    if kind == "allowed":
        items = value if isinstance(value, list) else [value]
        if any(item not in limit for item in items):
            return f"is not in @allowed({limit})"
    return None


def scope_function(ctx: Context, kind: str, group: Any, prop: str | None) -> Any:
    """resourceGroup() / resourceGroup(name) / subscription(), or one of their properties."""
    if kind == "resource_group" and group is not None:
        scope = {"name": group, "id": f"/subscriptions/sub/resourceGroups/{group}"}
    elif kind == "resource_group":
        scope = {
            "name": ctx.resource_group,
            "location": ctx.location,
            "id": f"/subscriptions/{ctx.subscription_id}/resourceGroups/{ctx.resource_group}",
        }
    else:
        scope = {"id": f"/subscriptions/{ctx.subscription_id}", "tenantId": "tenant"}
    if prop is None:
        return scope
    if prop not in scope:
        raise Unsupported(f"{kind}().{prop}")
    return scope[prop]


FAILED = object()


def flatten(operator: dict[str, Any]) -> list[Any]:
    """pycep nests ``a.b.c`` as a(b(c)) and the interpolation parser as ((a.b).c): one path."""
    path: list[Any] = []
    for operand in operator["operands"].values():
        inner = operand.get("operator") if isinstance(operand, dict) else None
        is_chain = isinstance(inner, dict) and inner.get("type") == "property_accessor"
        path.extend(flatten(inner) if is_chain else [operand])  # type: ignore[arg-type]
    return path
