"""Add and subtract histograms: reset-mode sums and cumulative-mode time slices.

:func:`merge` follows ``TH1::Merge`` as ``hadd`` uses it for histograms with equal
binning: contents, ``fSumw2``, ``fEntries`` and the running sums (``fTsumw``...)
are added; profiles also add ``fBinEntries`` and ``fBinSumw2``.  Title, axes,
class and style come from the first histogram.  :func:`subtract` gives the
difference of two snapshots of the same cumulative histogram (a time slice).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from overwatch.histograms.model import Histogram

__all__ = ["IncompatibleHistogramsError", "merge", "subtract"]


class IncompatibleHistogramsError(ValueError):
    """The histograms cannot be added: different dimension, kind, binning or labels."""


def _check(first: Histogram, other: Histogram) -> None:
    if first.ndim != other.ndim or first.is_profile != other.is_profile:
        raise IncompatibleHistogramsError(
            f"{other.name}: cannot combine {other.class_name} with {first.class_name}"
        )
    for index, (mine, theirs) in enumerate(zip(first.axes, other.axes, strict=True)):
        axis = "xyz"[index]
        if not mine.same_binning(theirs):
            raise IncompatibleHistogramsError(
                f"{other.name}: {axis} axis has {theirs.nbins} bins on "
                f"[{theirs.low}, {theirs.high}], {first.name} has {mine.nbins} on "
                f"[{mine.low}, {mine.high}]"
            )
        if (mine.labels or None) != (theirs.labels or None):
            raise IncompatibleHistogramsError(f"{other.name}: {axis} axis labels differ")


def _variances(hist: Histogram) -> NDArray[np.float64]:
    # Without fSumw2 ROOT treats each entry as weight 1: variance = content.
    if hist.sumw2 is not None:
        return hist.sumw2
    return np.abs(hist.contents.astype(np.float64))


def _bin_sumw2(hist: Histogram) -> NDArray[np.float64]:
    # Without fBinSumw2 every fill had weight 1, so the sum of w² is the sum of w.
    if hist.bin_sumw2 is not None:
        return hist.bin_sumw2
    return _bin_entries(hist)


def _bin_entries(hist: Histogram) -> NDArray[np.float64]:
    if hist.bin_entries is None:
        raise IncompatibleHistogramsError(f"{hist.name}: profile without fBinEntries")
    return hist.bin_entries


def _store(target: Histogram, contents: NDArray[np.float64]) -> None:
    target.contents = contents.astype(target.contents.dtype)


def merge(hists: Sequence[Histogram]) -> Histogram:
    """The sum of ``hists`` as ``hadd`` would write it (a new object).

    Raises :class:`IncompatibleHistogramsError` when dimensions, profile-ness,
    binning or bin labels differ, ``ValueError`` for an empty sequence.
    """
    if not hists:
        raise ValueError("merge() needs at least one histogram")
    first = hists[0]
    for other in hists[1:]:
        _check(first, other)
    out = first.copy()
    if len(hists) == 1:
        return out
    _store(out, np.sum([h.contents.astype(np.float64) for h in hists], axis=0))
    if any(h.sumw2 is not None for h in hists) or first.is_profile:
        out.sumw2 = np.sum([_variances(h) for h in hists], axis=0)
    out.entries = float(sum(h.entries for h in hists))
    for name in out.stats:
        out.stats[name] = float(sum(h.stats.get(name, 0.0) for h in hists))
    if first.is_profile:
        out.bin_entries = np.sum([_bin_entries(h) for h in hists], axis=0)
        if any(h.bin_sumw2 is not None for h in hists):
            out.bin_sumw2 = np.sum([_bin_sumw2(h) for h in hists], axis=0)
    return out


def subtract(newer: Histogram, older: Histogram) -> Histogram:
    """``newer - older`` for two snapshots of one cumulative histogram (a new object).

    Sums of squares (``fSumw2``, ``fBinSumw2``) and ``fEntries`` are clipped at
    zero, since rounding can leave tiny negative values where nothing was added.
    """
    _check(newer, older)
    out = newer.copy()
    _store(out, newer.contents.astype(np.float64) - older.contents.astype(np.float64))
    if newer.sumw2 is not None or older.sumw2 is not None or newer.is_profile:
        out.sumw2 = np.clip(_variances(newer) - _variances(older), 0.0, None)
    out.entries = max(0.0, newer.entries - older.entries)
    for name in out.stats:
        out.stats[name] = newer.stats.get(name, 0.0) - older.stats.get(name, 0.0)
    if newer.is_profile:
        out.bin_entries = _bin_entries(newer) - _bin_entries(older)
        if newer.bin_sumw2 is not None or older.bin_sumw2 is not None:
            out.bin_sumw2 = np.clip(_bin_sumw2(newer) - _bin_sumw2(older), 0.0, None)
    return out
