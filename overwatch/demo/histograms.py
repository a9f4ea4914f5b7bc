"""Cumulative histograms for the synthetic demo data set, turned into ROOT objects.

The demo fills histograms minute by minute and writes a snapshot after every
minute, like a receiver in cumulative mode. :class:`CumulativeHistogram` keeps
the running sums in ROOT's own layout (flat array, under- and overflow bins,
x fastest) so a snapshot is a cheap copy, and builds TH1/TH2/TH3 and TProfile
objects with uproot's writing helpers, including variable binning, bin labels
and the statistics (``fTsumw``, ``fTsumwx``, ...) ROOT uses for means and RMS.
It is deliberately small: general histogramming belongs to ``hist``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike
from numpy.typing import NDArray
from uproot.writing import identify

__all__ = ["Axis", "CumulativeHistogram"]

Floats = NDArray[np.float64]

_AXIS_NAMES = ("xaxis", "yaxis", "zaxis")


@dataclass(frozen=True, slots=True)
class Axis:
    """One histogram axis: bin edges, a title, and optional bin labels."""

    edges: Floats
    title: str = ""
    labels: tuple[str, ...] = ()
    #: Whether the bins are equally wide (ROOT then stores no edge array).
    uniform: bool = True

    @classmethod
    def regular(cls, bins: int, low: float, high: float, title: str = "") -> Axis:
        """``bins`` equal bins from ``low`` to ``high``."""
        return cls(np.linspace(low, high, bins + 1), title)

    @classmethod
    def variable(cls, edges: ArrayLike, title: str = "") -> Axis:
        """Bins with the given (increasing) edges."""
        array = np.asarray(edges, dtype=np.float64)
        if array.ndim != 1 or array.size < 2 or np.any(np.diff(array) <= 0):
            raise ValueError("variable bin edges must be at least two increasing numbers")
        return cls(array, title, uniform=False)

    @classmethod
    def labelled(cls, labels: Sequence[str], title: str = "") -> Axis:
        """One unit-wide bin per label; bin ``i`` (from 1) holds value ``i - 0.5``."""
        return cls(np.arange(len(labels) + 1, dtype=np.float64), title, tuple(labels))

    @property
    def bins(self) -> int:
        """Number of bins without under- and overflow."""
        return self.edges.size - 1

    @property
    def centres(self) -> Floats:
        """Bin centres, without under- and overflow."""
        return (self.edges[:-1] + self.edges[1:]) / 2

    def bin_numbers(self, values: Floats) -> NDArray[np.intp]:
        """ROOT bin numbers: 0 underflow, 1..bins, bins + 1 overflow (upper edge included)."""
        if not self.uniform:
            return np.searchsorted(self.edges, values, side="right")
        # TAxis::FindBin's arithmetic: several times faster than a binary search.
        low, high = self.edges[0], self.edges[-1]
        numbers: Floats = np.floor(self.bins * (values - low) / (high - low)) + 1
        np.clip(numbers, 0, self.bins + 1, out=numbers)
        numbers[np.isnan(numbers)] = self.bins + 1  # where searchsorted puts NaN too
        return numbers.astype(np.intp)

    def to_root(self, name: str) -> object:
        """The axis as an uproot ``TAxis`` model."""
        labels = None
        if self.labels:
            labels = identify.to_THashList([identify.to_TObjString(s) for s in self.labels])
            # ROOT's TAxis::SetBinLabel keeps the bin number in each label's fUniqueID.
            for number, label in enumerate(labels, start=1):
                label._bases[0]._members["@fUniqueID"] = number
        return identify.to_TAxis(
            fName=name,
            fTitle=self.title,
            fNbins=self.bins,
            fXmin=float(self.edges[0]),
            fXmax=float(self.edges[-1]),
            fXbins=None if self.uniform else self.edges,
            fLabels=labels,
        )


@dataclass(eq=False)
class CumulativeHistogram:
    """Running sums of a histogram or profile that can be snapshotted as a ROOT object.

    ``profile=True`` makes a TProfile over one axis: :meth:`fill` then takes the
    x values and the y values to average. ``single_precision`` writes TH*F
    instead of TH*D, like most detector QA tasks do.
    """

    name: str
    title: str
    axes: tuple[Axis, ...]
    profile: bool = False
    single_precision: bool = False
    entries: float = 0.0
    _sumw: Floats = field(init=False, repr=False)
    _sumw2: Floats | None = field(init=False, repr=False, default=None)
    # Profiles only: sums of w*y and w*y*y per bin (empty for plain histograms).
    _sumwy: Floats = field(init=False, repr=False)
    _sumwy2: Floats = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.axes) <= 3:
            raise ValueError("histograms have one, two or three axes")
        if self.profile and len(self.axes) != 1:
            raise ValueError("only one-dimensional profiles are supported")
        self._sumw = np.zeros(self._cells, dtype=np.float64)
        self._sumwy = np.zeros(self._cells if self.profile else 0, dtype=np.float64)
        self._sumwy2 = np.zeros_like(self._sumwy)

    @property
    def _cells(self) -> int:
        return int(np.prod([axis.bins + 2 for axis in self.axes]))

    @property
    def _shape(self) -> tuple[int, ...]:
        """Shape of the flat arrays seen as numpy arrays (z, y, x) in ROOT's order."""
        return tuple(axis.bins + 2 for axis in reversed(self.axes))

    def fill(self, *coordinates: ArrayLike, weights: ArrayLike | None = None) -> None:
        """Fill one entry per element of the coordinate arrays (x, then y, then z).

        For a profile pass ``x`` and the values ``y`` to average.
        """
        if self.profile:
            x, y = (np.asarray(c, dtype=np.float64) for c in coordinates)
            cells = self.axes[0].bin_numbers(x)
        else:
            if len(coordinates) != len(self.axes):
                raise ValueError(f"{self.name}: need {len(self.axes)} coordinate arrays")
            cells = np.zeros(np.shape(coordinates[0]), dtype=np.intp)
            stride = 1
            for axis, values in zip(self.axes, coordinates, strict=True):
                cells += stride * axis.bin_numbers(np.asarray(values, dtype=np.float64))
                stride *= axis.bins + 2
        w = None if weights is None else np.asarray(weights, dtype=np.float64)
        if w is not None:
            sumw2 = self._track_sumw2()  # before adding: earlier entries had weight one
            sumw2 += np.bincount(cells, weights=w * w, minlength=self._cells)
        self._sumw += np.bincount(cells, weights=w, minlength=self._cells)
        if self.profile:
            wy = y if w is None else w * y
            self._sumwy += np.bincount(cells, weights=wy, minlength=self._cells)
            self._sumwy2 += np.bincount(cells, weights=wy * y, minlength=self._cells)
        self.entries += cells.size

    def add_bins(
        self, contents: ArrayLike, *, sumw2: ArrayLike | None = None, entries: float | None = None
    ) -> None:
        """Add to the in-range bins directly, ``contents`` indexed ``[x, y, z]``.

        For maps whose expected contents are known per bin, adding Poisson numbers
        is much faster than drawing single entries. ``entries`` defaults to the
        sum of ``contents``.
        """
        if self.profile:
            raise TypeError("profiles are filled entry by entry")
        core = tuple(slice(1, -1) for _ in self.axes)
        values = np.asarray(contents, dtype=np.float64)
        if sumw2 is not None:
            squares = np.asarray(sumw2, dtype=np.float64)
            self._track_sumw2().reshape(self._shape)[core] += squares.T
        self._sumw.reshape(self._shape)[core] += values.T
        self.entries += float(values.sum()) if entries is None else entries

    def _track_sumw2(self) -> Floats:
        """The sums of squared weights, started on the first weighted fill."""
        if self._sumw2 is None:
            # Every entry so far had weight one, so its squared weight is its weight.
            self._sumw2 = self._sumw.copy()
        return self._sumw2

    def values(self) -> Floats:
        """Bin contents (profiles: mean y), indexed ``[x, y, z]``, without flow bins."""
        core = tuple(slice(1, -1) for _ in self.axes)
        sums = self._sumwy if self.profile else self._sumw
        array = sums.reshape(self._shape)[core].T
        if self.profile:
            counts = self._sumw.reshape(self._shape)[core].T
            return np.divide(array, counts, out=np.zeros_like(array), where=counts > 0)
        return array.copy()

    @cached_property
    def _in_range(self) -> NDArray[np.bool_]:
        mask = np.zeros(self._shape, dtype=bool)
        mask[tuple(slice(1, -1) for _ in self.axes)] = True
        return mask.reshape(-1)

    @cached_property
    def _centres(self) -> list[Floats]:
        """Per flat cell, the bin centre along each axis (0 in flow bins, masked anyway)."""
        result = []
        for index, axis in enumerate(self.axes):
            padded = np.concatenate([[0.0], axis.centres, [0.0]])
            shape = [1] * len(self.axes)
            shape[len(self.axes) - 1 - index] = axis.bins + 2
            result.append(np.broadcast_to(padded.reshape(shape), self._shape).reshape(-1))
        return result

    def to_root(self) -> object:
        """A snapshot of the current sums as an uproot TH1/TH2/TH3/TProfile model."""
        mask = self._in_range
        w = self._sumw[mask]
        w2 = w if self._sumw2 is None else self._sumw2[mask]
        stats: dict[str, object] = {
            "fEntries": self.entries,
            "fTsumw": float(w.sum()),
            "fTsumw2": float(w2.sum()),
        }
        centres = [c[mask] for c in self._centres]
        for letter, c in zip("xyz", centres, strict=False):
            stats[f"fTsumw{letter}"] = float((w * c).sum())
            stats[f"fTsumw{letter}2"] = float((w * c * c).sum())
        if len(self.axes) >= 2:
            stats["fTsumwxy"] = float((w * centres[0] * centres[1]).sum())
        if len(self.axes) == 3:
            stats["fTsumwxz"] = float((w * centres[0] * centres[2]).sum())
            stats["fTsumwyz"] = float((w * centres[1] * centres[2]).sum())
        axes = {
            f"f{name[0].upper()}axis": axis.to_root(name)
            for name, axis in zip(_AXIS_NAMES, self.axes, strict=False)
        }
        common = {"fName": self.name.rsplit("/", 1)[-1], "fTitle": self.title, **axes}
        sumw2 = None if self._sumw2 is None else self._sumw2.copy()
        if self.profile:
            return identify.to_TProfile(
                **common,
                **stats,
                data=self._sumwy.copy(),
                fTsumwy=float(self._sumwy[mask].sum()),
                fTsumwy2=float(self._sumwy2[mask].sum()),
                fSumw2=self._sumwy2.copy(),
                fBinEntries=self._sumw.copy(),
                fBinSumw2=np.array([]) if sumw2 is None else sumw2,
            )
        data = self._sumw.astype(np.float32 if self.single_precision else np.float64)
        make = (identify.to_TH1x, identify.to_TH2x, identify.to_TH3x)[len(self.axes) - 1]
        return make(**common, **stats, data=data, fSumw2=sumw2)
