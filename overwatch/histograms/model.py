"""The histogram model shared by the reader, detector plugins, merging and JSON output.

A :class:`Histogram` is numpy arrays plus the metadata ROOT keeps in a ``TH1``:
enough to reproduce ``TBufferJSON`` output for JSROOT exactly and to merge or
subtract like ``hadd``.  Arrays use ROOT's layout with under- and overflow bins
and are indexed ``[x, y, z]``; :meth:`Histogram.values` and
:meth:`Histogram.errors` give the inner bins for plugin code.

Attribute names are Pythonic; where a field maps to a ROOT member the member name
is given in the comment, and the dictionaries (:attr:`Histogram.stats`,
:attr:`Histogram.attributes`, :attr:`Axis.attributes`) use ROOT's member names
as keys so no translation table is needed.
"""

from __future__ import annotations

import copy as _copy
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_AXIS_ATTRIBUTES",
    "DEFAULT_HISTOGRAM_ATTRIBUTES",
    "PROFILE_CLASSES",
    "Axis",
    "Histogram",
    "stat_names",
]

PROFILE_CLASSES = frozenset(["TProfile", "TProfile2D", "TProfile3D"])

#: ``TAttAxis`` members with the values ``TAxis`` gets from ROOT's default style.
DEFAULT_AXIS_ATTRIBUTES: dict[str, int | float] = {
    "fNdivisions": 510,
    "fAxisColor": 1,
    "fLabelColor": 1,
    "fLabelFont": 42,
    "fLabelOffset": 0.005,
    "fLabelSize": 0.035,
    "fTickLength": 0.03,
    "fTitleOffset": 1.0,
    "fTitleSize": 0.035,
    "fTitleColor": 1,
    "fTitleFont": 42,
}

#: ``TObject``/``TAttLine``/``TAttFill``/``TAttMarker`` members of a new ``TH1``.
DEFAULT_HISTOGRAM_ATTRIBUTES: dict[str, int | float] = {
    "fUniqueID": 0,
    "fBits": 8,
    "fLineColor": 602,
    "fLineStyle": 1,
    "fLineWidth": 1,
    "fFillColor": 0,
    "fFillStyle": 1001,
    "fMarkerColor": 1,
    "fMarkerStyle": 1,
    "fMarkerSize": 1.0,
}

# TProfile fErrorMode values (EErrorType): kERRORMEAN is 0.
_ERROR_SPREAD = 1
_ERROR_SPREAD_I = 2
_ERROR_SPREAD_G = 3

_BASE_STATS = ("fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2")
_STATS_2D = ("fTsumwy", "fTsumwy2", "fTsumwxy")
_STATS_3D = ("fTsumwz", "fTsumwz2", "fTsumwxz", "fTsumwyz")


def stat_names(class_name: str) -> tuple[str, ...]:
    """ROOT's running-sum members of ``class_name``, in streaming order.

    Profiles add the sums of the profiled variable (``fTsumwy``/``fTsumwy2`` for
    ``TProfile``, ``fTsumwz``/``fTsumwz2`` for ``TProfile2D``, ``fTsumwt``/
    ``fTsumwt2`` for ``TProfile3D``).
    """
    if class_name == "TProfile":
        return (*_BASE_STATS, "fTsumwy", "fTsumwy2")
    if class_name == "TProfile2D":
        return (*_BASE_STATS, *_STATS_2D, "fTsumwz", "fTsumwz2")
    if class_name == "TProfile3D":
        return (*_BASE_STATS, *_STATS_2D, *_STATS_3D, "fTsumwt", "fTsumwt2")
    if class_name.startswith("TH2"):
        return (*_BASE_STATS, *_STATS_2D)
    if class_name.startswith("TH3"):
        return (*_BASE_STATS, *_STATS_2D, *_STATS_3D)
    return _BASE_STATS


def _find_bins(axis: Axis, values: NDArray[np.float64]) -> NDArray[np.intp]:
    """``TAxis::FindBin`` for many values: 0 underflow, nbins+1 overflow."""
    if axis.variable:
        return np.searchsorted(axis.edges, values, side="right").astype(np.intp)
    low, high, nbins = axis.low, axis.high, axis.nbins
    with np.errstate(invalid="ignore"):
        bins = 1 + np.floor(nbins * (values - low) / (high - low))
    bins = np.where(values < low, 0, np.where(values >= high, nbins + 1, bins))
    return bins.astype(np.intp)


def _buffer_stats(
    weights: NDArray[np.float64], coordinates: list[NDArray[np.float64]]
) -> dict[str, float]:
    """The running sums ``TH1::DoFillN`` accumulates for these entries."""
    stats = {"fTsumw": weights.sum(), "fTsumw2": (weights * weights).sum()}
    names = "xyz"
    for index, values in enumerate(coordinates):
        axis = names[index]
        stats[f"fTsumw{axis}"] = (weights * values).sum()
        stats[f"fTsumw{axis}2"] = (weights * values * values).sum()
        for other in range(index):
            stats[f"fTsumw{names[other]}{axis}"] = (weights * coordinates[other] * values).sum()
    return {name: float(value) for name, value in stats.items()}


@dataclass(slots=True)
class Axis:
    """One ``TAxis``: bin edges plus what ROOT stores for display.

    ``variable`` records whether ROOT stored explicit edges (``fXbins``); JSROOT
    and ROOT write ``fXbins`` only then, so an equidistant axis stays empty there.
    ``labels`` maps 1-based bin numbers to alphanumeric labels in ROOT's list
    order (``fLabels``; the bin number is each ``TObjString``'s ``fUniqueID``).
    """

    edges: NDArray[np.float64]
    name: str = "xaxis"  # fName
    title: str = ""  # fTitle
    variable: bool = False
    labels: dict[int, str] | None = None  # fLabels
    first: int = 0  # fFirst: 0 means no range set
    last: int = 0  # fLast
    bits2: int = 0  # fBits2
    time_display: bool = False  # fTimeDisplay
    time_format: str = ""  # fTimeFormat
    unique_id: int = 0  # fUniqueID
    bits: int = 0  # fBits, without the in-memory-only kIsOnHeap/kNotDeleted
    mod_labels: Any = None  # fModLabs: TAxis::ChangeLabel edits, as TBufferJSON writes the TList
    attributes: dict[str, int | float] = field(
        default_factory=lambda: dict(DEFAULT_AXIS_ATTRIBUTES)
    )  # TAttAxis members

    @classmethod
    def regular(cls, nbins: int, low: float, high: float, **kwargs: Any) -> Axis:
        """An equidistant axis like ``TAxis(nbins, low, high)``."""
        return cls(np.linspace(low, high, nbins + 1), **kwargs)

    @classmethod
    def from_edges(cls, edges: Any, **kwargs: Any) -> Axis:
        """An axis with explicit (variable) bin edges."""
        return cls(np.asarray(edges, dtype=np.float64), variable=True, **kwargs)

    @property
    def nbins(self) -> int:
        return len(self.edges) - 1

    @property
    def low(self) -> float:
        return float(self.edges[0])

    @property
    def high(self) -> float:
        return float(self.edges[-1])

    @property
    def is_uniform(self) -> bool:
        """True when ROOT describes the axis by (nbins, xmin, xmax) only."""
        return not self.variable

    @property
    def centers(self) -> NDArray[np.float64]:
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def widths(self) -> NDArray[np.float64]:
        return np.diff(self.edges)

    def same_binning(self, other: Axis) -> bool:
        """Equal bin edges (to ROOT's relative precision), as ``TH1::CheckAxisLimits``."""
        if self.nbins != other.nbins:
            return False
        tolerance = 1e-10 * max(1.0, float(np.max(np.abs(self.edges), initial=0.0)))
        return bool(np.all(np.abs(self.edges - other.edges) <= tolerance))


@dataclass(slots=True)
class Histogram:
    """A ROOT histogram (``TH1``/``TH2``/``TH3`` of any type, or a profile).

    ``contents`` is ROOT's ``fArray`` including under/overflow, shaped
    ``(nx+2[, ny+2[, nz+2]])`` and indexed ``[x, y, z]``; its dtype follows the
    class (float32 for ``F``, int32 for ``I``, ...).  For profiles ``contents`` is
    the sum of w*y per bin, ``sumw2`` the sum of w*y², and ``bin_entries`` the sum
    of weights, exactly as ROOT stores them.

    ``draw_options`` is Overwatch's own drawing hint (e.g. ``"colz"``), passed by the
    web page to ``JSROOT.draw``; it is deliberately not written into ``fOption``
    (``option``) so the JSON stays what ROOT writes for the stored object.
    ``metadata`` is free-form for processing annotations and never serialised.
    """

    name: str  # full path in the file, "dir/sub/list/hist"
    class_name: str
    title: str
    axes: tuple[Axis, ...]  # the binned axes, len == ndim
    contents: NDArray[Any]
    sumw2: NDArray[np.float64] | None = None  # fSumw2, None when not stored
    entries: float = 0.0  # fEntries
    stats: dict[str, float] = field(default_factory=dict)  # fTsumw, fTsumw2, ... by ROOT name
    object_name: str = ""  # fName; defaults to the last component of ``name``
    spare_axes: tuple[Axis, ...] = ()  # fYaxis/fZaxis beyond ndim (titles, style)
    bin_entries: NDArray[np.float64] | None = None  # profiles: fBinEntries
    bin_sumw2: NDArray[np.float64] | None = None  # profiles: fBinSumw2, None when empty
    error_mode: int = 0  # profiles: fErrorMode
    profile_range: tuple[float, float] = (0.0, 0.0)  # fYmin/fYmax, fZmin/fZmax, fTmin/fTmax
    minimum: float = -1111.0  # fMinimum
    maximum: float = -1111.0  # fMaximum
    norm_factor: float = 0.0  # fNormFactor
    bar_offset: int = 0  # fBarOffset
    bar_width: int = 1000  # fBarWidth
    contour: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # fContour
    option: str = ""  # fOption
    buffer: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # fBuffer
    bin_stat_err_opt: int = 0  # fBinStatErrOpt
    stat_overflows: int = 2  # fStatOverflows (kNeutral)
    scale_factor: float = 1.0  # TH2 fScalefactor
    attributes: dict[str, int | float] = field(
        default_factory=lambda: dict(DEFAULT_HISTOGRAM_ATTRIBUTES)
    )  # TObject, TAttLine, TAttFill, TAttMarker members
    functions: Any = None  # fFunctions as TBufferJSON writes the TList (fits, stats, drawings)
    draw_options: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.object_name:
            self.object_name = self.name.rsplit("/", 1)[-1]
        expected = tuple(axis.nbins + 2 for axis in self.axes)
        if self.contents.shape != expected:
            raise ValueError(
                f"{self.name}: contents shape {self.contents.shape} does not match axes {expected}"
            )
        for name in stat_names(self.class_name):
            self.stats.setdefault(name, 0.0)

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def is_profile(self) -> bool:
        return self.class_name in PROFILE_CLASSES

    @property
    def all_axes(self) -> tuple[Axis, Axis, Axis]:
        """fXaxis, fYaxis, fZaxis as ROOT has them (unbinned ones with one bin on [0, 1])."""
        axes = list(self.axes) + list(self.spare_axes)
        for index in range(len(axes), 3):
            axes.append(Axis.regular(1, 0.0, 1.0, name="xyz"[index] + "axis"))
        return axes[0], axes[1], axes[2]

    def _inner(self, array: NDArray[Any]) -> NDArray[Any]:
        return array[(slice(1, -1),) * self.ndim]

    def values(self, flow: bool = False) -> NDArray[np.float64]:
        """Bin contents as float64; for profiles the bin means (0 where empty)."""
        contents = self.contents.astype(np.float64)
        if self.is_profile and self.bin_entries is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                contents = np.where(self.bin_entries != 0, contents / self.bin_entries, 0.0)
        return contents if flow else self._inner(contents)

    def variances(self, flow: bool = False) -> NDArray[np.float64]:
        """Squared errors: fSumw2, or the contents when no sum of squares is stored."""
        if self.is_profile:
            variances = self.errors(flow=True) ** 2
        elif self.sumw2 is not None:
            variances = self.sumw2.copy()
        else:
            variances = np.abs(self.contents.astype(np.float64))
        return variances if flow else self._inner(variances)

    def errors(self, flow: bool = False) -> NDArray[np.float64]:
        """Bin errors as ``TH1::GetBinError``.

        For profiles this follows ``fErrorMode`` as ROOT does: the error of the
        mean (0, the default), the spread (1, option "s"), the error of the mean
        with 1/sqrt(12 neff) where the spread is zero (2, option "i"), or
        1/sqrt(sum of weights) (3, option "g").  Bins whose spread is zero get
        error 0 in modes 0 and 1, as ROOT gives unless ``TProfile::Approximate``
        was switched on.
        """
        if not self.is_profile:
            return np.sqrt(self.variances(flow=flow))
        sumwy = self.contents.astype(np.float64)
        sumwy2 = self.sumw2 if self.sumw2 is not None else np.zeros_like(sumwy)
        sumw = self.bin_entries if self.bin_entries is not None else np.zeros_like(sumwy)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = sumwy / sumw
            spread = np.sqrt(np.abs(sumwy2 / sumw - mean**2))
            # Effective entries: (sum w)^2 / sum w^2, which is sum w for unit weights.
            neff = sumw if self.bin_sumw2 is None else sumw**2 / self.bin_sumw2
            if self.error_mode == _ERROR_SPREAD:
                error = spread
            elif self.error_mode == _ERROR_SPREAD_G:
                error = 1.0 / np.sqrt(sumw)
            elif self.error_mode == _ERROR_SPREAD_I:
                error = np.where(spread != 0, spread, 1.0 / np.sqrt(12.0)) / np.sqrt(neff)
            else:
                error = spread / np.sqrt(neff)
        error = np.where((sumw != 0) & np.isfinite(error), error, 0.0)
        return error if flow else self._inner(error)

    def flush_buffer(self) -> bool:
        """Fill the entries still waiting in ``fBuffer`` into the bins, as ``TH1::BufferEmpty()``.

        ROOT keeps the first fills of a histogram made with ``SetBuffer`` in
        ``fBuffer`` (count, then weight and coordinates per entry) and empties it
        when anything asks for the contents; a file written before that holds
        empty bins.  Like ROOT, contents, statistics and entries are rebuilt from
        the buffer and its count is negated to mark it as flushed.  Returns
        whether anything was filled; profiles and histograms whose axis range is
        still to be found from the buffer (``xmin >= xmax``) are left as they are.
        """
        if len(self.buffer) == 0 or self.is_profile:
            return False
        count = int(self.buffer[0])
        stride = self.ndim + 1
        if count <= 0 or len(self.buffer) < 1 + count * stride:
            return False
        if any(axis.low >= axis.high for axis in self.axes):
            return False
        entries = self.buffer[1 : 1 + count * stride].reshape(count, stride)
        weights = entries[:, 0]
        coordinates = [entries[:, 1 + index] for index in range(self.ndim)]
        bins = tuple(
            _find_bins(axis, values) for axis, values in zip(self.axes, coordinates, strict=True)
        )
        contents = np.zeros(self.contents.shape)
        np.add.at(contents, bins, weights)
        if self.sumw2 is not None or np.any(weights != 1.0):
            self.sumw2 = np.zeros(self.contents.shape)
            np.add.at(self.sumw2, bins, weights * weights)
        self.contents = contents.astype(self.contents.dtype)
        self.entries = float(count)
        inside = np.ones(count, dtype=bool)
        if self.stat_overflows != 1:  # kConsider: only then do overflows count
            for axis, index in zip(self.axes, bins, strict=True):
                inside &= (index >= 1) & (index <= axis.nbins)
        self.stats = dict.fromkeys(self.stats, 0.0)
        self.stats.update(_buffer_stats(weights[inside], [c[inside] for c in coordinates]))
        self.buffer = self.buffer.copy()
        self.buffer[0] = -count
        return True

    def add_line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        color: int = 1,
        style: int = 1,
        width: int = 1,
    ) -> None:
        """Draw a line over the histogram: a ``TLine`` appended to :attr:`functions`.

        Coordinates are in axis units, as ``hist->GetListOfFunctions()->Add(new
        TLine(...))`` would draw them; JSROOT draws it with the histogram. The
        object has exactly the members and values ``TBufferJSON`` writes for such
        a line read from a file (``fBits`` 0: the in-memory bits are never written).
        """
        if self.functions is None:
            self.functions = {"_typename": "TList", "name": "TList", "arr": [], "opt": []}
        self.functions["arr"].append(
            {
                "_typename": "TLine",
                "fUniqueID": 0,
                "fBits": 0,
                "fLineColor": int(color),
                "fLineStyle": int(style),
                "fLineWidth": int(width),
                "fX1": float(x1),
                "fY1": float(y1),
                "fX2": float(x2),
                "fY2": float(y2),
            }
        )
        self.functions["opt"].append(None)

    def copy(self) -> Histogram:
        """A deep copy: arrays, axes and dictionaries are not shared."""
        return _copy.deepcopy(self)

    def scale(self, factor: float) -> None:
        """Multiply in place like ``TH1::Scale(factor)`` (``TProfile::Scale`` for profiles).

        As in ROOT, a histogram without ``fSumw2`` gets one (from the unscaled
        contents) so that errors stay correct; the statistics are scaled along
        (sums of weights by ``factor``, sums of squared weights by ``factor**2``),
        ``fEntries`` is kept and ``fMinimum``/``fMaximum`` are reset.  Integer
        histograms truncate towards zero, as ROOT's ``SetBinContent`` does.
        """
        if self.is_profile:
            self._scale_profile(factor)
            return
        if self.sumw2 is None:
            self.sumw2 = (
                np.abs(self.contents.astype(np.float64))
                if self.entries
                else (np.zeros(self.contents.shape))
            )
        np.multiply(self.contents, factor, out=self.contents, casting="unsafe")
        self.sumw2 *= factor * factor
        for name in self.stats:
            self.stats[name] *= factor * factor if name == "fTsumw2" else factor
        self.minimum = self.maximum = -1111.0

    def _scale_profile(self, factor: float) -> None:
        # A profile's weights are not scaled, only the profiled values.
        np.multiply(self.contents, factor, out=self.contents, casting="unsafe")
        if self.sumw2 is not None:
            self.sumw2 *= factor * factor
        last_sum, last_sum2 = stat_names(self.class_name)[-2:]
        self.stats[last_sum] *= factor
        self.stats[last_sum2] *= factor * factor
