"""Stored JSROOT JSON back to the histogram model, for comparing with a reference.

:func:`from_jsroot_json` reverses :func:`~overwatch.processing.jsroot.to_jsroot_json`
for what checks use: class, title, axes (edges), contents, ``fSumw2``,
``fEntries``, the running sums and, for profiles, ``fBinEntries``,
``fBinSumw2``, ``fErrorMode`` and the profiled range. Drawing attributes,
labels and functions are not restored (a reference is compared, not drawn,
from here). Contents come back as float64 whatever the class's type; NaN
(``null``) and infinities (``±2e308``) come back as such.

The stored JSON rather than a second copy of the arrays: it is already there
for every stored histogram, exact (numbers are written with enough digits to
read back the same double), and decoding it costs about what reading it from a
ROOT file does.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.histograms.model import stat_names

__all__ = ["JsrootDecodeError", "from_jsroot_json"]

_PROFILE_RANGE = {
    "TProfile": ("fYmin", "fYmax"),
    "TProfile2D": ("fZmin", "fZmax"),
    "TProfile3D": ("fTmin", "fTmax"),
}


class JsrootDecodeError(ValueError):
    """The JSON is not a histogram this module can read back."""


def _ndim(class_name: str) -> int:
    if class_name in {"TProfile2D", "TProfile3D"}:
        return int(class_name[-2])
    if class_name == "TProfile" or class_name.startswith("TH1"):
        return 1
    if class_name.startswith(("TH2", "TH3")):
        return int(class_name[2])
    raise JsrootDecodeError(f"not a histogram class: {class_name!r}")


def _float(value: Any) -> float:
    # NaN is written as null.
    return float("nan") if value is None else float(value)


def _array(values: Any) -> NDArray[np.float64]:
    if isinstance(values, np.ndarray):
        return values.astype(np.float64)
    if not values:
        return np.zeros(0)
    # None (NaN written as null) becomes nan.
    return np.array(values, dtype=np.float64)


def _axis(data: dict[str, Any]) -> Axis:
    nbins = int(data["fNbins"])
    variable = _array(data.get("fXbins") or [])
    if len(variable) == nbins + 1:
        return Axis.from_edges(
            variable, name=str(data.get("fName", "")), title=data.get("fTitle", "")
        )
    return Axis.regular(
        nbins,
        _float(data["fXmin"]),
        _float(data["fXmax"]),
        name=str(data.get("fName", "")),
        title=str(data.get("fTitle", "")),
    )


def _cells(values: Any, shape: tuple[int, ...], what: str) -> NDArray[np.float64]:
    flat = _array(values)
    if flat.size != int(np.prod(shape)):
        raise JsrootDecodeError(
            f"{what} has {flat.size} cells, the axes need {int(np.prod(shape))}"
        )
    # ROOT's cell order: x fastest (Fortran order over [x, y, z]).
    return flat.reshape(shape, order="F")


def _loads(data: bytes) -> dict[str, Any]:
    try:
        tree = orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses ±2e308, which ROOT writes for infinities; the standard parser reads them.
        tree = json.loads(data)
    if not isinstance(tree, dict):
        raise JsrootDecodeError("not a JSON object")
    return tree


def from_jsroot_json(data: bytes, name: str) -> Histogram:
    """The histogram ``name`` from its (uncompressed) JSROOT JSON."""
    tree = _loads(data)
    class_name = str(tree.get("_typename", ""))
    ndim = _ndim(class_name)
    try:
        axes = tuple(_axis(tree[key]) for key in ("fXaxis", "fYaxis", "fZaxis")[:ndim])
        shape = tuple(axis.nbins + 2 for axis in axes)
        contents = _cells(tree["fArray"], shape, "fArray")
        sumw2_values = tree.get("fSumw2") or []
        sumw2 = _cells(sumw2_values, shape, "fSumw2") if len(sumw2_values) else None
        stats = {key: _float(tree.get(key, 0.0)) for key in stat_names(class_name)}
        hist = Histogram(
            name=name,
            class_name=class_name,
            title=str(tree.get("fTitle", "")),
            axes=axes,
            contents=contents,
            sumw2=sumw2,
            entries=_float(tree.get("fEntries", 0.0)),
            stats=stats,
            object_name=str(tree.get("fName", "")),
        )
        if class_name in _PROFILE_RANGE:
            entries = tree.get("fBinEntries") or []
            hist.bin_entries = _cells(entries, shape, "fBinEntries") if len(entries) else None
            bin_sumw2 = tree.get("fBinSumw2") or []
            hist.bin_sumw2 = _cells(bin_sumw2, shape, "fBinSumw2") if len(bin_sumw2) else None
            hist.error_mode = int(tree.get("fErrorMode", 0))
            low, high = _PROFILE_RANGE[class_name]
            hist.profile_range = (_float(tree.get(low, 0.0)), _float(tree.get(high, 0.0)))
    except (KeyError, TypeError) as exc:
        raise JsrootDecodeError(f"{name}: incomplete histogram JSON ({exc!r})") from exc
    return hist
