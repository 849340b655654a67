"""Evaluate the Bicep templates' values the way Azure Resource Manager would, without a compiler.

From pycep's AST: every parameter value (default, or given in main.parameters.json after azd's
``${VAR}`` / ``${VAR=default}`` substitution) is checked against its type and decorators, every
resource name is computed and checked against Azure's rule for its type (``azure_names``), and
every module call must pass each required parameter and no unknown one; the module is then
evaluated with the values it was given. Values only Azure knows (ids, endpoints, principal ids)
are :class:`DeployTime`; ``uniqueString`` is a stable stand-in hash of the real length.

A construct the evaluator does not understand is a problem naming it, never a silent pass.
Variables and outputs are evaluated too, so an unknown function anywhere is reported.

pycep gives both a string literal and a symbol reference as a bare string: a bare string that
names a parameter, variable, resource or module of the file is read as that symbol, anything
else as a literal (a literal spelled like a symbol of the same file would be misread).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, cast

from pycep import BicepParser

from tests.infra import azure_names
from tests.infra.bicep_expr import split_interpolation
from tests.infra.bicep_values import (
    FAILED,
    OPERATORS,
    PURE,
    SHAPED,
    Context,
    DeployTime,
    Unsupported,
    decorator_violation,
    flatten,
    runtime_of,
    scope_function,
    text,
    walk,
)

__all__ = ["Context", "Report", "Template", "evaluate", "parsed"]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CHECKS = {"min_length", "max_length", "min_value", "max_value", "allowed"}
NOT_CHECKS = {"description", "secure", "metadata"}
TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "int": int,
    "bool": bool,
    "object": dict,
    "array": list,
}


@dataclass
class Report:
    """Everything found while evaluating a template and the modules it calls."""

    problems: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # "file:symbol" -> computed name
    deploy_time: set[str] = field(default_factory=set)  # "file:param" known only at deployment


@cache
def _parser() -> BicepParser:
    return BicepParser()


@cache
def parsed(path: Path) -> dict[str, Any]:
    """pycep's AST of one file (parsed once per process)."""
    return cast(dict[str, Any], _parser().parse(text=path.read_text(encoding="utf-8")))


class Template:
    """One Bicep file evaluated with given parameter values; modules become child Templates."""

    def __init__(self, path: Path, given: Mapping[str, Any], report: Report, ctx: Context) -> None:
        """Bind the file, the values passed to it and the shared report."""
        self.path, self.doc, self.report, self.ctx = path, parsed(path), report, ctx
        self.file = path.name
        self.given = dict(given)
        self.parameters = self.doc.get("parameters") or {}
        self.variables = self.doc.get("variables") or {}
        self.resources = self.doc.get("resources") or {}
        self.modules = self.doc.get("modules") or {}
        self.outputs = self.doc.get("outputs") or {}
        self._values: dict[str, Any] = {}
        self._children: dict[str, Template] = {}
        self.root = False  # the top template checks its own required parameters

    def problem(self, text: str) -> None:
        """Record a problem, prefixed with this file's name."""
        self.report.problems.append(f"{self.file}: {text}")

    # --- the checks ---------------------------------------------------------------------

    def check(self) -> Template:
        """Check parameters, resource names and module calls; recurse into modules."""
        for name in sorted(set(self.given) - set(self.parameters)) if self.root else ():
            self.problem(f"parameter {name} is given a value but not declared")
        for name, declared in self.parameters.items():
            self._check_parameter(name, declared)
        for symbol, resource in self.resources.items():
            self._guarded(f"resource {symbol}", partial(self._name, symbol, resource))
        for symbol in self.modules:
            self._guarded(f"module {symbol}", partial(self._call, symbol))
        for name in self.variables:
            self._guarded(f"variable {name}", partial(self.value, name))
        for name in self.outputs:
            self._guarded(f"output {name}", partial(self.output, name))
        return self

    def _guarded(self, where: str, step: Callable[[], Any]) -> Any:
        """Run one evaluation; a failure becomes a problem naming what and why."""
        try:
            return step()
        except (Unsupported, SyntaxError, KeyError, TypeError, ValueError) as error:
            self.problem(f"{where}: cannot evaluate ({type(error).__name__}: {error})")
            return FAILED

    def _check_parameter(self, name: str, declared: dict[str, Any]) -> None:
        if name not in self.given and declared.get("default") is None:
            if self.root:  # a module's required parameters are checked at its call
                self.problem(f"required parameter {name} has no value")
            return
        value = self._guarded(f"parameter {name}", lambda: self.value(name))
        if isinstance(value, DeployTime) or value is FAILED:
            self.report.deploy_time.add(f"{self.file}:{name}")
            return
        expected = TYPES.get(declared.get("type", ""))
        wrong_type = expected is None or not isinstance(value, expected)
        if wrong_type or (isinstance(value, bool) and declared.get("type") == "int"):
            self.problem(f"parameter {name} is {value!r}, not of type {declared.get('type')}")
            return
        for decorator in declared.get("decorators", []):
            kind, limit = decorator["type"], decorator.get("argument")
            if kind not in CHECKS | NOT_CHECKS:
                self.problem(f"parameter {name}: unsupported decorator @{kind}")
            elif failure := decorator_violation(kind, limit, value):
                self.problem(f"parameter {name} = {value!r} {failure}")

    def _name(self, symbol: str, resource: dict[str, Any]) -> None:
        config = self._body(symbol, resource["config"])
        if config is None:
            return
        kind = resource["type"].lower()
        name = self.eval(config.get("name"))
        if isinstance(name, DeployTime):
            self.problem(f"resource {symbol}: name is known only at deployment ({name.what})")
            return
        self.report.names[f"{self.file}:{symbol}"] = name
        if kind in azure_names.RULES and (why := azure_names.violation(kind, name)):
            self.problem(f"resource {symbol} ({resource['type']}) name {name!r}: {why}")
        elif kind not in azure_names.RULES and kind not in azure_names.FIXED_NAMES:
            self.problem(f"resource {symbol}: no naming rule known for {resource['type']}")
        subdomain = (config.get("properties") or {}).get("customSubDomainName")
        if kind == "microsoft.cognitiveservices/accounts" and subdomain is not None:
            value = self.eval(subdomain)
            if why := azure_names.CUSTOM_SUBDOMAIN.violation(value):
                self.problem(f"resource {symbol} customSubDomainName {value!r}: {why}")

    def _body(self, symbol: str, config: dict[str, Any]) -> dict[str, Any] | None:
        """The resource or module body; None when its condition is false."""
        if "loop_type" in config:
            raise Unsupported(f"{symbol} is declared with a for loop")
        if "condition" in config and "config" in config:
            condition = self.eval(config["condition"])
            return None if condition is False else cast(dict[str, Any], config["config"])
        return config

    def _call(self, symbol: str) -> None:
        module = self.modules[symbol]
        config = self._body(symbol, module["config"])
        if module.get("type") != "local":
            raise Unsupported(f"module source {module.get('detail')}")
        declared = parsed(self.path.parent / module["detail"]["path"])["parameters"] or {}
        passed = (config if config is not None else self._body_any(module))["params"] or {}
        missing = [n for n in declared if n not in passed and declared[n].get("default") is None]
        for name in missing:
            self.problem(f"module {symbol}: required parameter {name} is not passed")
        for name in sorted(set(passed) - set(declared)):
            self.problem(f"module {symbol}: passes {name}, which the module does not declare")
        if config is not None and not missing:  # a module without its inputs would only add noise
            self.child(symbol).check()

    def _body_any(self, module: dict[str, Any]) -> dict[str, Any]:
        config = module["config"]
        return cast(dict[str, Any], config.get("config", config))

    def child(self, symbol: str) -> Template:
        """The module called ``symbol``, evaluated with the values this file passes it."""
        if symbol not in self._children:
            module = self.modules[symbol]
            params = self._body_any(module)["params"] or {}
            given = {name: self.eval(node) for name, node in params.items()}
            path = self.path.parent / module["detail"]["path"]
            self._children[symbol] = Template(path, given, self.report, self.ctx)
        return self._children[symbol]

    # --- values ----------------------------------------------------------------------------

    def value(self, name: str) -> Any:
        """The value of a parameter or variable."""
        if name not in self._values:
            if name in self.parameters:
                declared = self.parameters[name]
                node = self.given[name] if name in self.given else declared.get("default")
                self._values[name] = node if name in self.given else self.eval(node)
            else:
                self._values[name] = self.eval(self.variables[name]["value"])
        return self._values[name]

    def output(self, name: str) -> Any:
        """The value of an output."""
        return self.eval(self.outputs[name]["value"])

    def eval(self, node: Any) -> Any:
        """Evaluate one pycep expression node."""
        if node is None or isinstance(node, bool | int | float):
            return node
        if isinstance(node, str):
            if IDENTIFIER.fullmatch(node) and self._is_symbol(node):
                return self._symbol(node, [])
            if "${" not in node:
                return node
            parts = [self.eval(part) for part in split_interpolation(node)]
            return runtime_of(parts) or "".join(map(text, parts))
        if isinstance(node, list):
            return [self.eval(item) for item in node]
        if "literal" in node and len(node) == 1:
            return node["literal"]
        if isinstance(node.get("function"), dict):
            return self._function(node["function"])
        if isinstance(node.get("operator"), dict):
            return self._operator(node["operator"])
        return {key: self.eval(item) for key, item in node.items()}

    def _is_symbol(self, name: str) -> bool:
        scopes = (self.parameters, self.variables, self.resources, self.modules)
        return any(name in scope for scope in scopes)

    def _symbol(self, name: str, path: list[Any]) -> Any:
        if name in self.resources:
            if path[:1] == ["name"]:
                config = self._body_any(self.resources[name])
                return walk(self.eval(config.get("name")), path[1:])
            return DeployTime(".".join([name, *map(str, path)]))
        if name in self.modules:
            if path[:1] == ["outputs"] and len(path) >= 2:
                return walk(self.child(name).output(str(path[1])), path[2:])
            raise Unsupported(f"module access {name}.{'.'.join(map(str, path))}")
        return walk(self.value(name), path)

    def _function(self, function: dict[str, Any]) -> Any:
        kind = function["type"]
        arguments = list((function.get("parameters") or {}).values())
        while arguments and arguments[-1] is None:
            arguments.pop()
        if kind in ("resource_group", "subscription"):
            group = self.eval(arguments[0]) if arguments else None
            return scope_function(self.ctx, kind, group, function.get("property_name"))
        if kind == "load_text_content":
            return (self.path.parent / self.eval(arguments[0])).read_text(encoding="utf-8")
        if kind not in PURE:
            raise Unsupported(f"function {kind}()")
        values = [self.eval(argument) for argument in arguments]
        runtime = runtime_of(values)
        if runtime is not None and kind not in SHAPED:
            return DeployTime(f"{kind}({runtime.what})")
        result = PURE[kind](*values)
        return walk(result, [function["property_name"]] if function.get("property_name") else [])

    def _operator(self, operator: dict[str, Any]) -> Any:
        kind, operands = operator["type"], list(operator["operands"].values())
        if kind == "property_accessor":
            path = flatten(operator)
            head = path[0]
            if isinstance(head, str) and IDENTIFIER.fullmatch(head) and self._is_symbol(head):
                return self._symbol(head, path[1:])
            return walk(self.eval(head), path[1:])
        if kind == "index_accessor":
            return walk(self.eval(operands[0]), [self.eval(operands[1])])
        if kind == "conditional":
            condition = self.eval(operands[0])
            if isinstance(condition, DeployTime):
                return condition
            return self.eval(operands[1] if condition else operands[2])
        if kind in ("and", "or"):
            left = self.eval(operands[0])
            if isinstance(left, DeployTime) or (bool(left) == (kind == "or")):
                return left
            return self.eval(operands[1])
        if kind not in OPERATORS:
            raise Unsupported(f"operator {kind}")
        values = [self.eval(operand) for operand in operands]
        return runtime_of(values) or OPERATORS[kind](*values)


def evaluate(path: Path, given: Mapping[str, Any], ctx: Context | None = None) -> Report:
    """Evaluate a template and every module it calls; the report lists what would fail."""
    report = Report()
    template = Template(path, given, report, ctx or Context())
    template.root = True
    template.check()
    return report
