"""Saved points for ``TF1``s that have none, so JSROOT draws them without ``eval``.

JSROOT draws a ``TF1`` either from the points saved in its ``fSave`` member or
by turning its formula into JavaScript with ``new Function``, which the web
app's Content-Security-Policy forbids.  ROOT saves points for fitted functions
(``TH1::Fit``) but not for a formula ``TF1`` written on its own, so such a
function, and a formula fitted by hand and attached to a histogram, would not
be drawn.

:func:`with_saved_points` returns the ``TBufferJSON`` structure of an object
with ``fSave`` filled, as ``TF1::Save(fXmin, fXmax)`` fills it (``fNpx + 1``
values at ``fXmin + i * dx``, then ``fXmin`` and ``fXmax``), in every
one-dimensional ``TF1`` whose ``fSave`` is empty and whose formula
:mod:`.formula` evaluates safely with finite values.  This is the one
documented way the stored (drawing) JSON differs from ``TBufferJSON``; the
JSON of :func:`.jsroot.to_jsroot_json` and :func:`.objects.to_object_json`
stays exactly ROOT's.  The input is never changed: dicts on the way to a
changed function are copied, shared ones once (so ``$ref``s stay right).
Functions left without points are not drawn by the run page, which says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from overwatch.processing.formula import UnsupportedFormulaError
from overwatch.processing.formula import evaluate

__all__ = ["saved_points", "with_saved_points"]

#: Most points computed for one function (ROOT's own ceiling for fNpx is 10^7).
MAX_POINTS = 100_000


def saved_points(function: dict[str, Any]) -> list[float] | None:
    """``fSave`` for the ``TF1`` ``function`` as ``TF1::Save`` writes it, or None if not computed."""
    formula = function.get("fFormula")
    if not isinstance(formula, dict) or function.get("fType", 0) != 0:
        return None  # a C++ or composed function: nothing to evaluate here
    text = formula.get("fFormula")
    parameters = _parameters(formula)
    span = _span(function)
    if not isinstance(text, str) or parameters is None or span is None:
        return None
    xmin, xmax, npx = span
    x = xmin + (xmax - xmin) / npx * np.arange(npx + 1, dtype=np.float64)
    try:
        y = evaluate(text, parameters, x)
    except UnsupportedFormulaError:
        return None
    return [*y.tolist(), xmin, xmax] if np.isfinite(y).all() else None


def _parameters(formula: dict[str, Any]) -> dict[str, float] | None:
    """The formula's parameter values by name (``[name]`` in its text)."""
    values = formula.get("fClingParameters")
    names = formula.get("fParams")
    if values is None or not isinstance(names, list) or formula.get("fNdim", 1) != 1:
        return None
    try:
        values = [float(value) for value in values]
    except (TypeError, ValueError):
        return None
    parameters: dict[str, float] = {}
    for pair in names:
        index = pair.get("second") if isinstance(pair, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(values):
            return None
        parameters[str(pair.get("first"))] = values[index]
    return parameters


def _span(function: dict[str, Any]) -> tuple[float, float, int] | None:
    """``(fXmin, fXmax, fNpx)`` of a one-dimensional function with a usable range."""
    try:
        npx = int(function.get("fNpx", 100))
        xmin = float(function["fXmin"])
        xmax = float(function["fXmax"])
    except (KeyError, TypeError, ValueError):
        return None
    if function.get("fNdim", 1) != 1 or not 0 < npx <= MAX_POINTS:
        return None
    if not (np.isfinite(xmin) and np.isfinite(xmax) and xmin < xmax):
        return None
    return xmin, xmax, npx


def with_saved_points(tree: Any) -> Any:
    """``tree`` with saved points added to its ``TF1``s that lack them (see the module docs)."""
    return _Filler().fill(tree)


class _Filler:
    def __init__(self) -> None:
        # id of a dict seen -> its result; the input dict itself while it is being walked.
        self.done: dict[int, Any] = {}

    def fill(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.fill(item) for item in value]
            same = all(new is old for new, old in zip(items, value, strict=True))
            return value if same else items
        if not isinstance(value, dict):
            return value
        known = self.done.get(id(value))
        if known is not None:
            return known
        self.done[id(value)] = value  # an object referring back to an owner keeps the owner
        changed = {}
        for key, member in value.items():
            new = self.fill(member)
            if new is not member:
                changed[key] = new
        if value.get("_typename") == "TF1" and _empty(value.get("fSave")):
            points = saved_points(value)
            if points is not None:
                changed["fSave"] = points
        if not changed:
            return value
        out = {key: changed.get(key, member) for key, member in value.items()}
        self.done[id(value)] = out
        return out


def _empty(save: Any) -> bool:
    return save is None or len(save) == 0
