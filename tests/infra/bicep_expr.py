"""Parse the expressions inside Bicep string interpolation (``'st${take(token, 8)}'``).

pycep-parser keeps an interpolated string as raw text, so ``'${x}'`` reaches the evaluator as the
string ``"${x}"``. This module splits such a string into literal parts and expressions and parses
each expression into the same dict shape pycep gives for top-level expressions
(``{"function": ...}``, ``{"operator": ...}``), so one evaluator handles both. String literals
come back as ``{"literal": ...}``: in pycep's output a bare string is either a literal or a
symbol, and inside an interpolation the two must stay apart.

Grammar (enough for templates; anything else raises :class:`SyntaxError` naming the text):
ternary ``?:``, ``||``, ``&&``, comparisons, ``+ -``, ``* / %``, unary ``!`` and ``-``, calls,
``.name`` and ``[index]`` access, identifiers, integers, ``true``/``false``/``null`` and
``'strings'`` with Bicep's escapes.
"""

from __future__ import annotations

import re
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+)|(?P<str>'(?:[^'\\]|\\.)*')|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\?\?|&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]]))"
)
BINARY = [  # lowest precedence first
    {"||": "or"},
    {"&&": "and"},
    {
        "==": "equals",
        "!=": "not_equals",
        "<": "less_than",
        "<=": "less_than_or_equals",
        ">": "greater_than",
        ">=": "greater_than_or_equals",
    },
    {"+": "add", "-": "minus"},
    {"*": "multiply", "/": "divide", "%": "modulo"},
]
ESCAPES = {"\\'": "'", "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$"}


def snake(name: str) -> str:
    """``padLeft`` -> ``pad_left``: pycep's spelling of function types."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def split_interpolation(text: str) -> list[Any]:
    """The parts of ``text`` in order: ``{"literal": ...}`` text and parsed ``${...}`` nodes."""
    parts: list[Any] = []
    position = 0
    while (start := text.find("${", position)) != -1:
        if start > position:
            parts.append({"literal": text[position:start]})
        depth, end = 0, start + 2
        while end < len(text):
            char = text[end]
            if char == "'":
                end = text.index("'", end + 1) if "'" in text[end + 1 :] else len(text)
            elif char in "([{":
                depth += 1
            elif char in ")]}":
                if depth == 0:
                    break
                depth -= 1
            end += 1
        if end >= len(text):
            raise SyntaxError(f"unclosed interpolation in {text!r}")
        parts.append(parse(text[start + 2 : end]))
        position = end + 1
    if position < len(text):
        parts.append({"literal": text[position:]})
    return parts


def parse(expression: str) -> dict[str, Any]:
    """Parse one expression; raises SyntaxError naming what it could not read."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expression.rstrip()):
        match = TOKEN.match(expression, position)
        if not match or match.end() == position:
            raise SyntaxError(f"cannot read {expression[position:]!r} in {expression!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    parser = _Parser(tokens, expression)
    node: dict[str, Any] = parser.ternary()
    if parser.index != len(tokens):
        raise SyntaxError(f"unexpected {tokens[parser.index][1]!r} in {expression!r}")
    return node


def _operator(kind: str, *operands: Any) -> dict[str, Any]:
    names = {f"operand_{n}": operand for n, operand in enumerate(operands, 1)}
    return {"operator": {"type": kind, "operands": names}}


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens, self.text, self.index = tokens, text, 0

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise SyntaxError(f"unexpected end of {self.text!r}")
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise SyntaxError(f"expected {expected!r}, got {token[1]!r} in {self.text!r}")
        self.index += 1
        return token

    def ternary(self) -> Any:
        condition = self.binary(0)
        if self.peek() != "?":
            return condition
        self.take("?")
        when_true = self.ternary()
        self.take(":")
        return {
            "operator": {
                "type": "conditional",
                "operands": {
                    "condition": condition,
                    "true_value": when_true,
                    "false_value": self.ternary(),
                },
            }
        }

    def binary(self, level: int) -> Any:
        if level == len(BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while (symbol := self.peek()) in BINARY[level] and self.tokens[self.index][0] == "op":
            self.take()
            left = _operator(BINARY[level][str(symbol)], left, self.binary(level + 1))
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return _operator("not", self.unary())
        if self.peek() == "-":
            self.take()
            return _operator("minus", 0, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Any) -> Any:
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                node = _operator("property_accessor", node, self.take()[1])
            else:
                node = _operator("index_accessor", node, self.ternary())
                self.take("]")
        return node

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return int(text)
        if kind == "str":
            body = re.sub(r"\\.", lambda m: ESCAPES.get(m.group(0), m.group(0)), text[1:-1])
            return {"literal": body}
        if text == "(":
            node = self.ternary()
            self.take(")")
            return node
        if kind != "name":
            raise SyntaxError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self.peek() != "(":
            return text
        self.take("(")
        arguments: list[Any] = []
        while self.peek() != ")":
            arguments.append(self.ternary())
            if self.peek() == ",":
                self.take(",")
        self.take(")")
        parameters = {f"arg_{n}": value for n, value in enumerate(arguments, 1)}
        return {"function": {"type": snake(text), "parameters": parameters}}
