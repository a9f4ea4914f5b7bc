"""Projections of TH3 histograms onto one or two of their axes, like ``TH3::Project3D``.

:func:`project` sums the bins of the axes projected out — over a selected range
of inner bins, or, without a range, over all bins including under- and overflow
as ROOT does — and keeps the flow bins of the axes that remain. The result is a
``TH1D``/``TH2D`` with its statistics recomputed from the bin contents (ROOT's
``ResetStats``), so means and RMS on the page describe the projection.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram

__all__ = ["project"]

_AXIS_NAMES = ("xaxis", "yaxis", "zaxis")


def _copy_axis(axis: Axis, index: int, title: str | None = None) -> Axis:
    return Axis(
        axis.edges.copy(),
        name=_AXIS_NAMES[index],
        title=axis.title if title is None else title,
        variable=axis.variable,
        labels=dict(axis.labels) if axis.labels else None,
        attributes=dict(axis.attributes),
    )


def project(
    hist: Histogram,
    keep: tuple[int, ...],
    *,
    name: str,
    title: str,
    ranges: Mapping[int, tuple[int, int]] | None = None,
    axis_titles: Mapping[int, str] | None = None,
) -> Histogram:
    """Project ``hist`` (3D) onto the axes ``keep``, in that order (new x first).

    ``keep=(2, 0)`` is ``Project3D("xz")``: the new x axis is the old z, the new y
    the old x. ``ranges`` maps a projected-out axis to an inclusive range of
    0-based inner bin indices (ROOT bin numbers minus one); other projected-out
    axes are summed over all their bins, flow included. ``axis_titles`` overrides
    titles of the new axes by their new index.
    """
    if hist.ndim != 3 or hist.is_profile:
        raise ValueError(f"{hist.name}: only TH3 histograms can be projected here")
    if not 1 <= len(keep) <= 2 or len(set(keep)) != len(keep) or not set(keep) <= {0, 1, 2}:
        raise ValueError(f"cannot keep axes {keep} of a 3D histogram")
    ranges = dict(ranges or {})
    selection: list[slice] = []
    for index, axis in enumerate(hist.axes):
        if index in keep or index not in ranges:
            selection.append(slice(None))
            continue
        first, last = ranges[index]
        if not 0 <= first <= last < axis.nbins:
            raise ValueError(
                f"bin range {first}-{last} outside the {axis.nbins} bins of axis {index}"
            )
        selection.append(slice(first + 1, last + 2))  # flow layout: inner bin i sits at i + 1
    summed = tuple(index for index in range(3) if index not in keep)
    contents = hist.contents.astype(np.float64)[tuple(selection)].sum(axis=summed)
    # After summing, the remaining axes are in their original order; reorder to ``keep``.
    remaining = sorted(keep)
    order = [remaining.index(index) for index in keep]
    contents = np.ascontiguousarray(np.transpose(contents, order))
    sumw2 = None
    if hist.sumw2 is not None:
        sumw2 = np.ascontiguousarray(
            np.transpose(hist.sumw2[tuple(selection)].sum(axis=summed), order)
        )
    titles = dict(axis_titles or {})
    axes = tuple(_copy_axis(hist.axes[old], new, titles.get(new)) for new, old in enumerate(keep))
    result = Histogram(
        name=name,
        class_name="TH1D" if len(keep) == 1 else "TH2D",
        title=title,
        axes=axes,
        contents=contents,
        sumw2=sumw2,
        entries=float(contents.sum()),
    )
    _reset_stats(result)
    return result


def _reset_stats(hist: Histogram) -> None:
    """ROOT's statistics from the inner bin contents (what ``TH1::ResetStats`` computes)."""
    inner = hist.values()
    variances = hist.variances()
    hist.stats["fTsumw"] = float(inner.sum())
    hist.stats["fTsumw2"] = float(variances.sum())
    centres = np.meshgrid(*(axis.centers for axis in hist.axes), indexing="ij")
    for letter, centre in zip("xyz", centres, strict=False):
        hist.stats[f"fTsumw{letter}"] = float((inner * centre).sum())
        hist.stats[f"fTsumw{letter}2"] = float((inner * centre * centre).sum())
    if hist.ndim == 2:
        hist.stats["fTsumwxy"] = float((inner * centres[0] * centres[1]).sum())
