"""JSROOT JSON for histograms: what ``TBufferJSON::ToJSON(obj)`` writes, byte for meaning.

:func:`to_jsroot_json` lays out every member of ``TNamed``, ``TAttLine``,
``TAttFill``, ``TAttMarker``, ``TH1`` (and ``TH2``/``TH3``/profile members) and
each ``TAxis`` in ROOT's streaming order with ROOT's ``_typename`` tags, so JSROOT
draws the object exactly as ROOT would; the parsed structure equals ROOT's (only
whitespace and the spelling of numbers differ, e.g. ``1.0`` for ``1``).

Non-finite numbers are written as ROOT writes them: NaN as ``null`` and
infinities as ``±2e308``, a valid JSON number too large for a double, which
JavaScript (and Python's ``json``) read back as ±Infinity.  orjson cannot write
it, so infinities are serialised as the largest double and that token is
rewritten afterwards; a finite value of exactly ``DBL_MAX`` is written as
``2e308`` too, as ROOT's own 15-digit rounding of it (``1.79769313486232e+308``)
also reads back as Infinity.

Serialisation goes through orjson with numpy support; building the dict is the
only Python-level work per histogram.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.histograms.model import stat_names
from overwatch.processing.saved_points import with_saved_points

__all__ = ["dumps", "jsroot_dict", "to_jsroot_json"]

_DBL_MAX = float(np.finfo(np.float64).max)
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_PROFILE_MEMBERS = {
    "TProfile": ("fYmin", "fYmax"),
    "TProfile2D": ("fZmin", "fZmax"),
    "TProfile3D": ("fTmin", "fTmax"),
}
_EMPTY: NDArray[np.float64] = np.zeros(0)
_DBL_MAX_TOKEN = b"1.7976931348623157e"
# Whole numbers only: JSON strings are matched first and left as they are.
_DBL_MAX_NUMBER = re.compile(
    rb'("(?:[^"\\]|\\.)*")|(?<=[\[,:])(-?)1\.7976931348623157e\+?308(?=[,\]}])'
)


def _infinity(match: re.Match[bytes]) -> bytes:
    if match.group(1) is not None:
        return match.group(1)
    return match.group(2) + b"2e308"


def _referenced(value: Any, seen: dict[int, int], counter: list[int]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$ref" in value:
            return value
        index = seen.get(id(value))
        if index is not None:
            return {"$ref": index}
        seen[id(value)] = counter[0]
        counter[0] += 1
        return {key: _referenced(item, seen, counter) for key, item in value.items()}
    if isinstance(value, list):
        return [_referenced(item, seen, counter) for item in value]
    return value


def _number(value: float) -> float | None:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return None
    return math.copysign(_DBL_MAX, value)


def _array(array: NDArray[Any]) -> Any:
    """A flat, native, C-contiguous array in ROOT's cell order, made strict-JSON safe."""
    flat = np.ravel(array, order="F")
    if flat.dtype.kind == "f" and not np.isfinite(flat).all():
        flat = flat.astype(np.float64)
        flat[np.isposinf(flat)] = _DBL_MAX
        flat[np.isneginf(flat)] = -_DBL_MAX
        # orjson writes NaN as null, as ROOT does.
    if not flat.dtype.isnative:
        flat = flat.astype(flat.dtype.newbyteorder("="))
    return flat


def _labels(axis: Axis) -> dict[str, Any] | None:
    if not axis.labels:
        return None
    return {
        "_typename": "THashList",
        "name": "THashList",
        "arr": [
            {"_typename": "TObjString", "fUniqueID": bin_, "fBits": 0, "fString": text}
            for bin_, text in axis.labels.items()
        ],
        "opt": [None] * len(axis.labels),
    }


def _axis(axis: Axis) -> dict[str, Any]:
    out: dict[str, Any] = {
        "_typename": "TAxis",
        "fUniqueID": axis.unique_id,
        "fBits": axis.bits,
        "fName": axis.name,
        "fTitle": axis.title,
    }
    out.update(axis.attributes)
    out["fNbins"] = axis.nbins
    out["fXmin"] = _number(float(axis.edges[0]))
    out["fXmax"] = _number(float(axis.edges[-1]))
    out["fXbins"] = _array(axis.edges) if axis.variable else _EMPTY
    out["fFirst"] = axis.first
    out["fLast"] = axis.last
    out["fBits2"] = axis.bits2
    out["fTimeDisplay"] = axis.time_display
    out["fTimeFormat"] = axis.time_format
    out["fLabels"] = _labels(axis)
    out["fModLabs"] = axis.mod_labels
    return out


def jsroot_dict(hist: Histogram) -> dict[str, Any]:
    """The ``TBufferJSON`` structure of ``hist`` as an ordered dict (arrays as numpy)."""
    stats = {name: _number(value) for name, value in hist.stats.items()}
    xaxis, yaxis, zaxis = hist.all_axes
    out: dict[str, Any] = {"_typename": hist.class_name}
    attributes = hist.attributes
    out["fUniqueID"] = attributes["fUniqueID"]
    out["fBits"] = attributes["fBits"]
    out["fName"] = hist.object_name
    out["fTitle"] = hist.title
    for name in (
        "fLineColor", "fLineStyle", "fLineWidth", "fFillColor", "fFillStyle",
        "fMarkerColor", "fMarkerStyle", "fMarkerSize",
    ):  # fmt: skip
        out[name] = attributes[name]
    out["fNcells"] = hist.contents.size
    out["fXaxis"] = _axis(xaxis)
    out["fYaxis"] = _axis(yaxis)
    out["fZaxis"] = _axis(zaxis)
    out["fBarOffset"] = hist.bar_offset
    out["fBarWidth"] = hist.bar_width
    out["fEntries"] = _number(hist.entries)
    for name in ("fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2"):
        out[name] = stats[name]
    out["fMaximum"] = _number(hist.maximum)
    out["fMinimum"] = _number(hist.minimum)
    out["fNormFactor"] = _number(hist.norm_factor)
    out["fContour"] = _array(hist.contour)
    out["fSumw2"] = _EMPTY if hist.sumw2 is None else _array(hist.sumw2)
    out["fOption"] = hist.option
    out["fFunctions"] = hist.functions or {
        "_typename": "TList",
        "name": "TList",
        "arr": [],
        "opt": [],
    }
    out["fBufferSize"] = len(hist.buffer)
    out["fBuffer"] = _array(hist.buffer)
    out["fBinStatErrOpt"] = hist.bin_stat_err_opt
    out["fStatOverflows"] = hist.stat_overflows
    if hist.ndim == 2:
        out["fScalefactor"] = _number(hist.scale_factor)
    if hist.ndim >= 2:
        for name in ("fTsumwy", "fTsumwy2", "fTsumwxy"):
            out[name] = stats[name]
    if hist.ndim == 3:
        for name in ("fTsumwz", "fTsumwz2", "fTsumwxz", "fTsumwyz"):
            out[name] = stats[name]
    out["fArray"] = _array(hist.contents)
    profile = _PROFILE_MEMBERS.get(hist.class_name)
    if profile is not None:
        out["fBinEntries"] = _EMPTY if hist.bin_entries is None else _array(hist.bin_entries)
        out["fErrorMode"] = hist.error_mode
        out[profile[0]] = _number(hist.profile_range[0])
        out[profile[1]] = _number(hist.profile_range[1])
        for name in stat_names(hist.class_name)[-2:]:
            out[name] = stats[name]
        out["fBinSumw2"] = _EMPTY if hist.bin_sumw2 is None else _array(hist.bin_sumw2)
    return out


def to_jsroot_json(hist: Histogram, *, drawing: bool = False) -> bytes:
    """Serialise ``hist`` as ``TBufferJSON::ToJSON`` would (compact, UTF-8 bytes).

    With ``drawing``, the JSON stored for the run page: a ``TF1`` among its
    functions that ROOT saved without points gets them (:mod:`.saved_points`).
    """
    if hist.functions is None:
        return dumps(jsroot_dict(hist))
    tree = jsroot_dict(hist)
    # Functions may refer to each other and to the histogram: "$ref"s are needed then.
    return dumps(with_saved_points(tree) if drawing else tree, references=True)


def dumps(tree: Any, *, references: bool = False) -> bytes:
    """Compact JSON of a ``TBufferJSON`` structure, infinities written as ``±2e308``.

    With ``references``, a dict that occurs again in the tree is written as
    ``{"$ref": n}``, n counting the objects (dicts) in the order they are
    written, as ``TBufferJSON`` writes and JSROOT resolves them.
    """
    if references:
        tree = _referenced(tree, {}, [0])
    data = orjson.dumps(tree, option=_OPTIONS)
    if _DBL_MAX_TOKEN in data:
        data = _DBL_MAX_NUMBER.sub(_infinity, data)
    return data
