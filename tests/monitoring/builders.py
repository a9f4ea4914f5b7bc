"""Histograms for the check tests: built with the model, or written with uproot and read back."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.processing.reader import read_file
from tests import rootfiles


def model_th1(
    values: Sequence[float] | np.ndarray[Any, Any],
    *,
    name: str = "h",
    low: float = 0.0,
    high: float | None = None,
    entries: float | None = None,
    sumw2: Sequence[float] | None = None,
) -> Histogram:
    """A TH1D built directly with the model (no running sums: statistics come from bins)."""
    inner = np.asarray(values, dtype=np.float64)
    axis = Axis.regular(len(inner), low, float(len(inner)) if high is None else high)
    return Histogram(
        name,
        "TH1D",
        name,
        (axis,),
        np.pad(inner, 1),
        sumw2=None if sumw2 is None else np.pad(np.asarray(sumw2, dtype=np.float64), 1),
        entries=float(np.nansum(inner)) if entries is None else entries,
    )


def read_back(directory: Path, objects: Mapping[str, Any]) -> dict[str, Histogram]:
    """Write ``objects`` (uproot-writable, see tests/rootfiles.py) and read them with overwatch."""
    path = rootfiles.write_file(directory / "checks.root", objects)
    return read_file(path).by_name()


def sampled(
    rng: np.random.Generator,
    count: int,
    *,
    mean: float = 50.0,
    sigma: float = 10.0,
    bins: int = 100,
) -> np.ndarray[Any, Any]:
    """Counts of ``count`` normal draws in ``bins`` bins on [0, 100]."""
    return np.histogram(rng.normal(mean, sigma, count), bins=bins, range=(0.0, 100.0))[0]
