"""Searches over per-channel histograms: hot channels above a rate, outliers by n sigma.

Both work on the inner bins of a histogram whose bins are channels (a FastOR
per bin). Channel IDs are 0-based flat bin indices (ROOT bin number - 1 for a
1D histogram, ``(column, row)`` for a 2D map), as the experts quote them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["OutlierSearch", "hot_channels", "search_outliers"]


def hot_channels(values: NDArray[np.float64], events: float, threshold: float) -> list[int]:
    """IDs of the channels whose content per event exceeds ``threshold`` (1D, inner bins)."""
    if events <= 0:
        raise ValueError("the number of events must be positive")
    per_event = np.ravel(values) / events
    return [int(i) for i in np.flatnonzero(per_event > threshold)]


@dataclass(frozen=True)
class OutlierSearch:
    """Result of :func:`search_outliers`: flat indices and the statistics before and after."""

    outliers: tuple[int, ...]
    mean: float
    std: float
    clean_mean: float
    clean_std: float


def search_outliers(
    values: NDArray[np.float64], n_sigma: float, max_iterations: int = 10
) -> OutlierSearch:
    """Channels outside mean ± ``n_sigma`` sigma, iterated on the remaining channels.

    Each pass computes the mean and standard deviation of the channels not yet
    flagged and flags those outside the band; it stops when a pass flags nothing
    (or after ``max_iterations``). Empty channels count, as in the original
    Overwatch: a dead channel among live ones is an outlier too. A flat
    histogram (sigma = 0) has none.
    """
    flat = np.ravel(np.asarray(values, dtype=np.float64))
    if flat.size == 0:
        return OutlierSearch((), 0.0, 0.0, 0.0, 0.0)
    keep = np.isfinite(flat)
    mean, std = float(flat[keep].mean()), float(flat[keep].std())
    clean_mean, clean_std = mean, std
    for _ in range(max_iterations):
        if clean_std == 0.0 or keep.sum() < 2:
            break
        outside = keep & (np.abs(flat - clean_mean) > n_sigma * clean_std)
        if not outside.any():
            break
        keep &= ~outside
        clean_mean, clean_std = float(flat[keep].mean()), float(flat[keep].std())
    flagged = tuple(int(i) for i in np.flatnonzero(~keep & np.isfinite(flat)))
    return OutlierSearch(flagged, mean, std, clean_mean, clean_std)
