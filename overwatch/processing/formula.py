"""A safe evaluator for the one-dimensional ``TFormula`` expressions ROOT writes.

ROOT stores a ``TF1``'s formula expanded (``gaus`` becomes
``[Constant]*exp(-0.5*((x-[Mean])/[Sigma])*((x-[Mean])/[Sigma]))``, ``pol2``
becomes ``([p0]+[p1]*x+[p2]*TMath::Sq(x))``) with the parameter values beside
it.  :func:`evaluate` computes such a formula at many ``x`` at once with numpy.

It never hands the text to Python, C++ or JavaScript: the text is tokenised
and parsed here into a tree whose only leaves are numbers, ``x``, named
parameters and ``pi``, and whose only operations are ``+ - * / ^`` and the
functions in :data:`FUNCTIONS`.  Anything else (other variables, ``x[1]``,
C++ lambdas, user functions, ``TMath::Landau``, comparison operators) raises
:class:`UnsupportedFormulaError`, and the caller leaves the function undrawn.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["FUNCTIONS", "UnsupportedFormulaError", "evaluate"]

Array = NDArray[np.float64]

#: Functions a formula may call, by the names ROOT writes, with their argument count.
FUNCTIONS: dict[str, tuple[int, Callable[..., Array]]] = {
    "exp": (1, np.exp),
    "log": (1, np.log),
    "log10": (1, np.log10),
    "sqrt": (1, np.sqrt),
    "abs": (1, np.abs),
    "sin": (1, np.sin),
    "cos": (1, np.cos),
    "tan": (1, np.tan),
    "pow": (2, np.power),
    "TMath::Exp": (1, np.exp),
    "TMath::Log": (1, np.log),
    "TMath::Log10": (1, np.log10),
    "TMath::Sqrt": (1, np.sqrt),
    "TMath::Abs": (1, np.abs),
    "TMath::Sin": (1, np.sin),
    "TMath::Cos": (1, np.cos),
    "TMath::Tan": (1, np.tan),
    "TMath::Sq": (1, np.square),
    "TMath::Power": (2, np.power),
}
_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_CONSTANTS = {"pi": np.pi, "TMath::Pi()": np.pi}
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<parameter>\[[A-Za-z0-9_]+\])"
    r"|(?P<name>TMath::Pi\(\)|[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)?)"
    r"|(?P<operator>[-+*/^(),])"
    r")"
)
#: Longest formula parsed: a guard against pathological input, far above real fits.
MAX_LENGTH = 2000


class UnsupportedFormulaError(ValueError):
    """The formula uses something :func:`evaluate` does not evaluate."""


def evaluate(formula: str, parameters: Mapping[str, float], x: Array) -> Array:
    """``formula`` at every ``x``, its ``[name]`` parameters taken from ``parameters``."""
    if len(formula) > MAX_LENGTH:
        raise UnsupportedFormulaError(f"formula longer than {MAX_LENGTH} characters")
    parser = _Parser(_tokens(formula), parameters, x)
    with np.errstate(all="ignore"):
        value = parser.expression()
        if parser.position != len(parser.tokens):
            raise UnsupportedFormulaError(f"unexpected {parser.tokens[parser.position][1]!r}")
        return np.broadcast_to(np.asarray(value, dtype=np.float64), x.shape).copy()


def _tokens(formula: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = formula.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise UnsupportedFormulaError(f"cannot read {text[position : position + 10]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over ``+ -``, ``* /``, unary sign, ``^`` (right-associative), calls."""

    def __init__(self, tokens: list[tuple[str, str]], parameters: Mapping[str, float], x: Array):
        self.tokens = tokens
        self.parameters = parameters
        self.x = x
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise UnsupportedFormulaError("formula ends too early")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise UnsupportedFormulaError(f"expected {expected!r}, found {token[1]!r}")
        self.position += 1
        return token

    def expression(self) -> Any:
        value = self.term()
        while self._peek() in ("+", "-"):
            value = _BINARY[self._take()[1]](value, self.term())
        return value

    def term(self) -> Any:
        value = self.unary()
        while self._peek() in ("*", "/"):
            value = _BINARY[self._take()[1]](value, self.unary())
        return value

    def unary(self) -> Any:
        if self._peek() == "-":
            self._take()
            return -self.unary()
        if self._peek() == "+":
            self._take()
            return self.unary()
        return self.power()

    def power(self) -> Any:
        base = self.primary()
        if self._peek() == "^":
            self._take()
            return np.power(base, self.unary())
        return base

    def primary(self) -> Any:
        kind, text = self._take()
        if kind == "number":
            return float(text)
        if kind == "parameter":
            name = text[1:-1]
            if name not in self.parameters:
                raise UnsupportedFormulaError(f"no value for parameter [{name}]")
            return float(self.parameters[name])
        if text == "(":
            value = self.expression()
            self._take(")")
            return value
        if kind != "name":
            raise UnsupportedFormulaError(f"unexpected {text!r}")
        if text == "x":
            return self.x
        if text in _CONSTANTS:
            return _CONSTANTS[text]
        if text not in FUNCTIONS:
            raise UnsupportedFormulaError(f"{text} is not evaluated here")
        count, function = FUNCTIONS[text]
        self._take("(")
        arguments = [self.expression()]
        while self._peek() == ",":
            self._take()
            arguments.append(self.expression())
        self._take(")")
        if len(arguments) != count:
            raise UnsupportedFormulaError(f"{text} takes {count} argument(s)")
        return function(*arguments)
