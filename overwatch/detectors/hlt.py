"""The HLT plugin: titles shown, cluster and track groups, and an axis-range check.

The HLT receiver's own histograms (``fHist*``) are global monitoring of the
data flow: event sizes, detector clusters, TPC tracks, trigger classes. As in the
original Overwatch the titles are shown (``display.show_title``; JSROOT draws a
histogram's title by default). The check flags histograms whose entries fall
outside the axis range: a shifted gain or a changed size pushes them into
under- and overflow, where nobody sees them on the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import GroupSpec
from overwatch.detectors.api import ProcessingContext
from overwatch.histograms.model import Histogram

__all__ = ["HLTPlugin", "out_of_range_fraction"]

GROUPS = (
    ("TPC tracks", r"TPCtracks|TrackPt"),
    ("Clusters", r"[Cc]luster"),
    ("TPC dE/dx", r"dEdx"),
    ("Data sizes", r"Size"),
    ("Forward detectors", r"ZN|VZERO|TZERO"),
    ("Trigger classes", r"Trigger"),
)


def out_of_range_fraction(hist: Histogram) -> tuple[float, float, float]:
    """(total counts, fraction in underflow, fraction in overflow) over all axes.

    Counts are the bin contents (for profiles the entries per bin). A cell is in
    the underflow if any of its coordinates is, in the overflow if any is above
    the range (and none below).
    """
    counts = hist.bin_entries if hist.is_profile and hist.bin_entries is not None else hist.contents
    array = np.abs(np.asarray(counts, dtype=np.float64))
    total = float(array.sum())
    if total <= 0:
        return total, 0.0, 0.0
    under_mask = np.zeros(array.shape, dtype=bool)
    over_mask = np.zeros(array.shape, dtype=bool)
    for axis_index, axis in enumerate(hist.axes):
        shape = [1] * hist.ndim
        shape[axis_index] = axis.nbins + 2
        positions = np.arange(axis.nbins + 2).reshape(shape)
        under_mask |= positions == 0
        over_mask |= positions == axis.nbins + 1
    over_mask &= ~under_mask
    return total, float(array[under_mask].sum()) / total, float(array[over_mask].sum()) / total


class HLTPlugin(DetectorPlugin):
    """HLT global monitoring: titles, groups, entries outside the axis range."""

    name: ClassVar[str] = "hlt"
    version: ClassVar[str] = "1"
    #: Fewer entries than this: too few to judge.
    MIN_ENTRIES: ClassVar[float] = 100.0
    #: Fraction of entries outside the axis range that makes a histogram medium / bad.
    MEDIUM_OUTSIDE: ClassVar[float] = 0.05
    BAD_OUTSIDE: ClassVar[float] = 0.20

    def prepare(self, hist: Histogram, context: ProcessingContext) -> None:
        super().prepare(hist, context)
        hist.metadata.setdefault("display", {})["show_title"] = True
        if hist.ndim == 2:
            hist.draw_options = "colz"

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        if any(axis.labels for axis in hist.axes):
            return None  # labelled bins (trigger classes, flags) have no meaningful range
        total, under, over = out_of_range_fraction(hist)
        if total < self.MIN_ENTRIES:
            return None
        outside = under + over
        axes = "; ".join(
            f"{axis.title or 'axis'} {axis.low:g} to {axis.high:g}" for axis in hist.axes
        )
        where = f"{outside:.0%} of the entries lie outside the axis range ({axes}): " + (
            f"{under:.0%} below, {over:.0%} above"
        )
        if outside > self.BAD_OUTSIDE:
            return CheckOutcome("bad", where)
        if outside > self.MEDIUM_OUTSIDE:
            return CheckOutcome("medium", where)
        return CheckOutcome("good", f"{outside:.1%} of the entries outside the axis range")

    def groups(self, names: Sequence[str], context: ProcessingContext) -> list[GroupSpec]:
        return [GroupSpec(title, pattern) for title, pattern in GROUPS]
