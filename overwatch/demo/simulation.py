"""The frame every demo subsystem simulation fills: run conditions and a base class.

A simulation owns the cumulative histograms of one subsystem in one run and adds
one minute of data taking per :meth:`RunSimulation.advance`. The physics is only
plausible, not simulated: shapes and correlations look right to a shifter, and
the numbers come from one seeded random generator so a data set is reproducible.
The planted problems' parameters live here because both the simulations and the
description in :mod:`overwatch.demo` refer to them.
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from overwatch.demo.histograms import Axis
from overwatch.demo.histograms import CumulativeHistogram

__all__ = [
    "DEAD_SUPERMODULE",
    "DRIFT_PER_MINUTE",
    "HOT_FACTOR",
    "HOT_FASTOR",
    "HOT_SUPERMODULE",
    "OUT_OF_RANGE_FACTOR",
    "OUT_OF_RANGE_HISTOGRAM",
    "Floats",
    "RunConditions",
    "RunSimulation",
]

#: Supermodule with the hot FastOR, its (column, row) and how much hotter it is.
HOT_SUPERMODULE = 4
HOT_FASTOR = (13, 7)
HOT_FACTOR = 40.0
#: Supermodule that delivers nothing in the run with the dead-supermodule problem.
DEAD_SUPERMODULE = 15
#: How far (cm) the TPC DCA_r peak moves per minute in the drifting run.
DRIFT_PER_MINUTE = 0.05
#: HLT histogram whose values leave its axis range in the run with that problem,
#: and the factor its values are multiplied by (a wrong gain).
OUT_OF_RANGE_HISTOGRAM = "fHistTPCdEdxMaxOROC2"
OUT_OF_RANGE_FACTOR = 2.6

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RunConditions:
    """What a run looks like to every subsystem: luminosity and planted problems."""

    #: Data-set seed; detector properties (channel gains) derive from it alone.
    seed: int
    #: Interaction rate relative to nominal, so runs differ in statistics.
    rate: float
    hot_channel: bool = False
    dead_supermodule: bool = False
    mean_drift: bool = False
    out_of_range: bool = False


class RunSimulation(ABC):
    """The cumulative histograms of one subsystem during one run."""

    def __init__(self, rng: np.random.Generator, conditions: RunConditions) -> None:
        self.rng = rng
        self.conditions = conditions
        self.histograms: dict[str, CumulativeHistogram] = {}

    def book(
        self, name: str, title: str, *axes: Axis, profile: bool = False, single: bool = False
    ) -> CumulativeHistogram:
        """Create and register an empty histogram (``single``: TH*F rather than TH*D)."""
        histogram = CumulativeHistogram(name, title, axes, profile=profile, single_precision=single)
        self.histograms[name] = histogram
        return histogram

    def count(self, per_minute: float) -> int:
        """A Poisson number of entries for one minute at this run's rate."""
        return int(self.rng.poisson(per_minute * self.conditions.rate))

    @abstractmethod
    def advance(self, minute: int) -> None:
        """Add the data of minute ``minute`` (1, 2, ...) of the run."""

    def snapshot(self) -> dict[str, object]:
        """Everything since the start of the run, as writable ROOT objects by key."""
        return {name: histogram.to_root() for name, histogram in self.histograms.items()}
