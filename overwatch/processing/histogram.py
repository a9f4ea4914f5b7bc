"""Compatibility alias: the histogram model now lives in :mod:`overwatch.histograms`.

Import :class:`~overwatch.histograms.model.Histogram` and friends from
``overwatch.histograms``; this module only re-exports them so code written
against the old location keeps working.
"""

from __future__ import annotations

from overwatch.histograms.model import DEFAULT_AXIS_ATTRIBUTES
from overwatch.histograms.model import DEFAULT_HISTOGRAM_ATTRIBUTES
from overwatch.histograms.model import PROFILE_CLASSES
from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.histograms.model import stat_names

__all__ = [
    "DEFAULT_AXIS_ATTRIBUTES",
    "DEFAULT_HISTOGRAM_ATTRIBUTES",
    "PROFILE_CLASSES",
    "Axis",
    "Histogram",
    "stat_names",
]
