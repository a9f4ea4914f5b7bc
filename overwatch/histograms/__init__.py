"""The histogram model every part shares: numpy arrays plus ROOT's metadata.

It sits below processing, detectors and monitoring and imports none of them:
:mod:`~overwatch.histograms.model` defines :class:`Histogram` and :class:`Axis`,
:mod:`~overwatch.histograms.combine` adds and subtracts histograms as ``hadd`` and
time slices need.  Reading ROOT files and writing JSROOT JSON live in
:mod:`overwatch.processing`, which builds on this package.
"""

from __future__ import annotations

from overwatch.histograms.combine import IncompatibleHistogramsError
from overwatch.histograms.combine import merge
from overwatch.histograms.combine import subtract
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
    "IncompatibleHistogramsError",
    "merge",
    "stat_names",
    "subtract",
]
