"""Turn decoded ROOT member dictionaries into :class:`~.histogram.Histogram` objects.

The input is the dict :mod:`.rootio` produces (ROOT member names, bases flattened,
``"_typename"`` set).  :func:`members_from_model` builds the same dict from an
uproot model object, for the rare key the fast decoder cannot handle, so both
paths share one conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from overwatch.histograms.model import DEFAULT_AXIS_ATTRIBUTES
from overwatch.histograms.model import DEFAULT_HISTOGRAM_ATTRIBUTES
from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.histograms.model import stat_names
from overwatch.processing.names import clean_text
from overwatch.processing.objects import json_tree
from overwatch.processing.rootio import HISTOGRAM_CLASSES

__all__ = ["ConversionError", "histogram_from_members", "members_from_model"]

# In-memory TObject bits that TBufferJSON never shows (kIsOnHeap | kNotDeleted).
_MEMORY_BITS = 0x01000000 | 0x02000000
# kMustCleanup: ROOT sets it on histograms it attaches to a directory when reading
# (TDirectory::Append) and not on objects inside containers, whatever the stored bits.
_MUST_CLEANUP = 0x8
_PROFILE_RANGE = {
    "TProfile": ("fYmin", "fYmax"),
    "TProfile2D": ("fZmin", "fZmax"),
    "TProfile3D": ("fTmin", "fTmax"),
}
_NDIM = {"TProfile": 1, "TProfile2D": 2, "TProfile3D": 3}
# Equidistant edges are shared between histograms (read-only) because linspace
# per axis per histogram is a measurable part of reading a file.
_EDGES_CACHE: dict[tuple[int, float, float], NDArray[np.float64]] = {}


class ConversionError(ValueError):
    """A decoded object is inconsistent (e.g. array sizes do not match its axes)."""


# Conversions of the decoder's shared axis dicts: id -> (dict, fields...), see _axis.
_AXES: dict[int, tuple[Any, ...]] = {}
_AXES_CACHE_SIZE = 4096


def _edges(nbins: int, low: float, high: float) -> NDArray[np.float64]:
    key = (nbins, low, high)
    edges = _EDGES_CACHE.get(key)
    if edges is None:
        edges = np.linspace(low, high, nbins + 1)
        edges.flags.writeable = False
        if len(_EDGES_CACHE) < 1024:
            _EDGES_CACHE[key] = edges
    return edges


def _axis(members: dict[str, Any]) -> Axis:
    """A new :class:`Axis` for decoded ``TAxis`` members.

    The decoder hands out one shared, read-only members dict for axes that are
    the same byte for byte (most histograms of a file share theirs), so the
    conversion of such a dict is remembered and each histogram gets a fresh
    :class:`Axis` made from it (plugins may change their histograms' axes).
    """
    cached = _AXES.get(id(members))
    if cached is not None and cached[0] is members:
        _, (edges, name, title, variable), labels, tail, attributes = cached
        first, last, bits2, time_display, time_format, unique_id, bits = tail
        return Axis(
            edges, name, title, variable, None if labels is None else dict(labels),
            first, last, bits2, time_display, time_format, unique_id, bits, None,
            dict(attributes),
        )  # fmt: skip
    axis = _new_axis(members)
    xbins = members.get("fXbins")
    # Read-only arrays mark the decoder's shared dicts, which live as long as it
    # does; a transient dict (uproot's models, an axis with labels) is not kept,
    # as its id could be reused.
    if axis.mod_labels is None and isinstance(xbins, np.ndarray) and not xbins.flags.writeable:
        if len(_AXES) >= _AXES_CACHE_SIZE:
            _AXES.clear()
        head = (axis.edges, axis.name, axis.title, axis.variable)
        tail = (
            axis.first, axis.last, axis.bits2, axis.time_display, axis.time_format,
            axis.unique_id, axis.bits,
        )  # fmt: skip
        _AXES[id(members)] = (members, head, axis.labels, tail, dict(axis.attributes))
    return axis


def _new_axis(members: dict[str, Any]) -> Axis:
    nbins = int(members["fNbins"])
    xbins = members.get("fXbins")
    variable = xbins is not None and len(xbins) == nbins + 1
    if variable:
        edges = np.asarray(xbins, dtype=np.float64)
    else:
        edges = _edges(nbins, float(members["fXmin"]), float(members["fXmax"]))
    labels = None
    label_list = members.get("fLabels")
    if label_list is not None and label_list.get("arr"):
        labels = {
            int(item["fUniqueID"]): _text(item["fString"])
            for item in label_list["arr"]
            if item is not None and "fString" in item
        }
    return Axis(
        edges,
        name=_text(members.get("fName", "")),
        title=_text(members.get("fTitle", "")),
        variable=variable,
        labels=labels,
        first=int(members.get("fFirst", 0)),
        last=int(members.get("fLast", 0)),
        bits2=int(members.get("fBits2", 0)),
        time_display=bool(members.get("fTimeDisplay", False)),
        time_format=_text(members.get("fTimeFormat", "")),
        unique_id=int(members.get("fUniqueID", 0)),
        bits=int(members.get("fBits", 0)) & ~_MEMORY_BITS,
        mod_labels=json_tree(members["fModLabs"]) if members.get("fModLabs") else None,
        attributes={
            name: members.get(name, value) for name, value in DEFAULT_AXIS_ATTRIBUTES.items()
        },
    )


def _text(value: Any) -> str:
    # Strings from the file end up in JSON and text columns: no NUL, no undecodable bytes.
    return clean_text(str(value))


def _shaped(array: Any, shape: tuple[int, ...]) -> NDArray[Any]:
    # ROOT's global bin number runs fastest in x: reversed C order, transposed.
    return np.asarray(array).reshape(shape[::-1]).T


def histogram_from_members(
    path: str, members: dict[str, Any], in_directory: bool = True
) -> Histogram:
    """Build a :class:`Histogram` named ``path`` from decoded ROOT members.

    ``in_directory`` tells whether the object is a directory entry (not inside a
    container), which decides its ``fBits`` as ROOT shows them after reading.
    """
    class_name = members["_typename"]
    ndim = _NDIM.get(class_name) or int(class_name[2])
    all_axes = [_axis(members[name]) for name in ("fXaxis", "fYaxis", "fZaxis")]
    axes = tuple(all_axes[:ndim])
    shape = tuple(axis.nbins + 2 for axis in axes)
    ncells = int(np.prod(shape))
    array = members["fArray"]
    if len(array) != ncells:
        raise ConversionError(f"{path}: fArray has {len(array)} cells, axes need {ncells}")
    sumw2 = members.get("fSumw2")
    stats = {name: float(members.get(name, 0.0)) for name in stat_names(class_name)}
    metadata: dict[str, Any] = {}
    functions = members.get("fFunctions")
    kept = None
    if functions and functions.get("arr"):
        # Fits, their stats box (whose fParent is this histogram) and drawings, as ROOT keeps them.
        dropped: list[str] = []
        kept = json_tree(functions, parent=members, skipped=dropped)
        if dropped:
            metadata["dropped_functions"] = dropped
    histogram = Histogram(
        name=path,
        class_name=class_name,
        title=_text(members.get("fTitle", "")),
        axes=axes,
        contents=_shaped(array, shape),
        sumw2=_shaped(sumw2, shape).astype(np.float64) if _sized(sumw2, ncells) else None,
        entries=float(members.get("fEntries", 0.0)),
        stats=stats,
        object_name=_text(members.get("fName", "")),
        spare_axes=tuple(all_axes[ndim:]),
        minimum=float(members.get("fMinimum", -1111.0)),
        maximum=float(members.get("fMaximum", -1111.0)),
        norm_factor=float(members.get("fNormFactor", 0.0)),
        bar_offset=int(members.get("fBarOffset", 0)),
        bar_width=int(members.get("fBarWidth", 1000)),
        contour=np.asarray(members.get("fContour", np.zeros(0)), dtype=np.float64),
        option=_text(members.get("fOption", "")),
        buffer=np.asarray(members.get("fBuffer", np.zeros(0)), dtype=np.float64),
        bin_stat_err_opt=int(members.get("fBinStatErrOpt", 0)),
        stat_overflows=int(members.get("fStatOverflows", 2)),
        scale_factor=float(members.get("fScalefactor", 1.0)),
        attributes={
            name: members.get(name, value) for name, value in DEFAULT_HISTOGRAM_ATTRIBUTES.items()
        },
        functions=kept,
        metadata=metadata,
    )
    # ROOT empties a fill buffer before anything reads the bins; so do we.
    histogram.flush_buffer()
    bits = int(histogram.attributes["fBits"]) & ~(_MEMORY_BITS | _MUST_CLEANUP)
    histogram.attributes["fBits"] = bits | (_MUST_CLEANUP if in_directory else 0)
    if class_name in _PROFILE_RANGE:
        entries = members.get("fBinEntries")
        if not _sized(entries, ncells):
            raise ConversionError(f"{path}: fBinEntries does not match the axes")
        histogram.bin_entries = _shaped(entries, shape).astype(np.float64)
        bin_sumw2 = members.get("fBinSumw2")
        if _sized(bin_sumw2, ncells):
            histogram.bin_sumw2 = _shaped(bin_sumw2, shape).astype(np.float64)
        histogram.error_mode = int(members.get("fErrorMode", 0))
        low, high = _PROFILE_RANGE[class_name]
        histogram.profile_range = (float(members.get(low, 0.0)), float(members.get(high, 0.0)))
    return histogram


def _sized(array: Any, size: int) -> bool:
    return array is not None and len(array) == size


def _array_base(model: Any) -> Any:
    import uproot  # noqa: PLC0415 - the slow path only; a job reads most files without uproot

    for base in model.bases:
        if isinstance(base, uproot.models.TArray.Model_TArray):
            return base
        found = _array_base(base)
        if found is not None:
            return found
    return None


def members_from_model(model: Any) -> Any:  # noqa: PLR0911 - one case per kind
    """Rebuild the :mod:`.rootio` member dict from an uproot model (slow path)."""
    import uproot  # noqa: PLC0415 - the slow path only; a job reads most files without uproot

    if model is None:
        return None
    if isinstance(model, uproot.models.TObjString.Model_TObjString):
        return {
            "_typename": "TObjString",
            "fUniqueID": model.member("@fUniqueID"),
            "fBits": model.member("@fBits"),
            "fString": str(model),
        }
    if isinstance(model, uproot.models.TList.Model_TList | uproot.models.TObjArray.Model_TObjArray):
        items = list(model)
        return {
            "_typename": model.classname,
            "name": model.member("fName") if model.has_member("fName") else "",
            "arr": [members_from_model(item) for item in items],
            "opt": [""] * len(items),
        }
    if isinstance(model, uproot.models.TArray.Model_TArray):
        return np.asarray(model).astype(np.asarray(model).dtype.newbyteorder("="))
    if not isinstance(model, uproot.model.Model):
        return model
    if model.classname not in HISTOGRAM_CLASSES and model.classname != "TAxis":
        # Like the fast decoder: other objects (fit functions, stats boxes) are only named.
        return {"_typename": model.classname, "_skipped": True}
    out: dict[str, Any] = {"_typename": model.classname}
    for name, value in model.all_members.items():
        out[name.lstrip("@")] = members_from_model(value)
    array = _array_base(model)
    if array is not None:
        out["fArray"] = members_from_model(array)
    return out
