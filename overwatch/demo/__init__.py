"""A realistic synthetic data set, to try Overwatch without a detector.

:func:`generate_demo_data` writes what the EMC, HLT and TPC receivers would have
written during a few consecutive runs (294832, 294833, ...): one cumulative
snapshot per subsystem and minute, HLT mode ``C``, each file holding everything
since the start of its run. It writes through the receivers' own atomic writer
straight into the data directory, where the scanner picks the files up. The
last run ends at ``now`` so it looks ongoing; earlier runs lie before it with
gaps of 5 to 25 minutes. Everything derives from ``seed``: the same arguments
give the same histograms.

Planted problems (:data:`PLANTED_PROBLEMS`), so that checks and alarms have
something to find:

* **hot channel** (first run): FastOR (column 13, row 7) of EMC supermodule 4
  fires 40 times as often as its neighbours, in ``EMCTRQA_histFastORL0_SM4``,
  its amplitude map and the per-channel ``EMCTRQA_histFastORL0``.
* **dead supermodule** (second run): EMC supermodule 15 delivers nothing, so
  ``EMCTRQA_histFastORL0_SM15`` and ``EMCTRQA_histFastORL0Amp_SM15`` stay empty.
* **mean drift** (last, ongoing run): the TPC DCA_r peak moves by +0.05 cm per
  minute, so the mean of ``TPCQA/h_tpc_track_all_recvertex_3`` (and of the
  DCA_r profile) climbs from snapshot to snapshot.
* **out of range** (second run): the HLT's ``fHistTPCdEdxMaxOROC2`` gets a gain
  2.6 times too high, so much of it lands in the overflow.

Each problem lists the received histograms that show it and the histograms the
built-in detector plugins derive that show it too; the plugins' checks flag
exactly those (``tests/detectors/test_demo_problems.py``).

With fewer than three runs the problems share runs (the run index wraps around).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from overwatch.demo.emc import EMCSimulation
from overwatch.demo.hlt import HLTSimulation
from overwatch.demo.simulation import DEAD_SUPERMODULE
from overwatch.demo.simulation import DRIFT_PER_MINUTE
from overwatch.demo.simulation import HOT_FACTOR
from overwatch.demo.simulation import HOT_FASTOR
from overwatch.demo.simulation import HOT_SUPERMODULE
from overwatch.demo.simulation import OUT_OF_RANGE_FACTOR
from overwatch.demo.simulation import OUT_OF_RANGE_HISTOGRAM
from overwatch.demo.simulation import RunConditions
from overwatch.demo.simulation import RunSimulation
from overwatch.demo.tpc import TPCSimulation
from overwatch.receivers.writer import write_receiver_file

__all__ = [
    "FIRST_RUN",
    "HLT_MODE",
    "PLANTED_PROBLEMS",
    "SIMULATIONS",
    "SUBSYSTEMS",
    "PlantedProblem",
    "ProblemKind",
    "generate_demo_data",
    "run_conditions",
]

#: Run number of the first demo run (a real ALICE run from October 2018).
FIRST_RUN = 294832
#: HLT mode of every demo file: normal data taking.
HLT_MODE = "C"
#: Simulation class per subsystem the demo can write.
SIMULATIONS: dict[str, type[RunSimulation]] = {
    "EMC": EMCSimulation,
    "HLT": HLTSimulation,
    "TPC": TPCSimulation,
}
SUBSYSTEMS = tuple(SIMULATIONS)

ProblemKind = Literal["hot channel", "dead supermodule", "mean drift", "out of range"]


@dataclass(frozen=True, slots=True)
class PlantedProblem:
    """A defect deliberately put into the demo data set."""

    kind: ProblemKind
    subsystem: str
    #: The histograms that show it, most telling first.
    histograms: tuple[str, ...]
    #: Which run of the data set has it, Python style: 0 the first, -1 the last.
    run_index: int
    description: str
    #: Histograms the built-in detector plugin derives that show it too.
    derived: tuple[str, ...] = ()

    def run_number(self, runs: int, first_run: int = FIRST_RUN) -> int:
        """The run that has the problem in a data set of ``runs`` runs."""
        return first_run + self.run_index % runs


PLANTED_PROBLEMS: tuple[PlantedProblem, ...] = (
    PlantedProblem(
        kind="hot channel",
        subsystem="EMC",
        histograms=(
            f"EMCTRQA_histFastORL0_SM{HOT_SUPERMODULE}",
            f"EMCTRQA_histFastORL0Amp_SM{HOT_SUPERMODULE}",
            "EMCTRQA_histFastORL0",
            "EMCTRQA_histFastORL0Amp",
            "EMCTRQA_histFastORL0PosMap",
        ),
        run_index=0,
        description=(
            f"FastOR (column {HOT_FASTOR[0]}, row {HOT_FASTOR[1]}) of supermodule "
            f"{HOT_SUPERMODULE} fires {HOT_FACTOR:g} times as often as its neighbours"
        ),
    ),
    PlantedProblem(
        kind="dead supermodule",
        subsystem="EMC",
        histograms=(
            f"EMCTRQA_histFastORL0_SM{DEAD_SUPERMODULE}",
            f"EMCTRQA_histFastORL0Amp_SM{DEAD_SUPERMODULE}",
        ),
        run_index=1,
        description=f"supermodule {DEAD_SUPERMODULE} delivers no FastOR L0 hits at all",
    ),
    PlantedProblem(
        kind="mean drift",
        subsystem="TPC",
        histograms=(
            "TPCQA/h_tpc_track_all_recvertex_3",
            "TPCQA/h_tpc_track_all_recvertex_3_6_pfx",
            "TPCQA/h_tpc_track_pos_recvertex_3_5_6",
            "TPCQA/h_tpc_track_neg_recvertex_3_5_6",
        ),
        run_index=-1,
        description=(
            f"the DCA_r peak moves by +{DRIFT_PER_MINUTE:g} cm per minute, "
            "so the cumulative mean grows with every snapshot"
        ),
        derived=tuple(
            f"TPCQA/DCAr_vs_Phi_{charge}tracks_{side}"
            for charge in ("pos", "neg")
            for side in ("aSide", "cSide")
        ),
    ),
    PlantedProblem(
        kind="out of range",
        subsystem="HLT",
        histograms=(OUT_OF_RANGE_HISTOGRAM,),
        run_index=1,
        description=(
            f"the dE/dx gain of {OUT_OF_RANGE_HISTOGRAM} is {OUT_OF_RANGE_FACTOR:g} times too "
            "high, so most entries fall beyond the axis"
        ),
    ),
)


def generate_demo_data(
    data_dir: Path,
    tz: ZoneInfo,
    *,
    runs: int = 3,
    minutes: int = 12,
    now: datetime | None = None,
    seed: int = 20181022,
    subsystems: Sequence[str] = SUBSYSTEMS,
    progress: Callable[[int, int], None] | None = None,
    first_run: int = FIRST_RUN,
) -> list[Path]:
    """Write the demo data set into ``data_dir`` and return the files in writing order.

    ``runs`` runs of ``minutes`` snapshots each per subsystem; file names carry local
    time in ``tz``. ``now`` (default: the current time) is when the last run's last
    snapshot is written. ``progress(done, total)`` is called after every file.
    Raises :class:`FileExistsError` if a file of the same name exists already.
    """
    if runs < 1 or minutes < 1:
        raise ValueError("runs and minutes must be at least 1")
    unknown = sorted(set(subsystems) - SIMULATIONS.keys())
    if unknown:
        raise ValueError(f"no demo for subsystem(s) {unknown}; known: {list(SIMULATIONS)}")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # File names have whole seconds; keeping them whole makes names and times agree.
    now = now.astimezone(UTC).replace(microsecond=0)
    chosen = list(dict.fromkeys(subsystems))
    total = runs * minutes * len(chosen)
    written: list[Path] = []
    for index, start in enumerate(_run_starts(runs, minutes, now, seed)):
        run_number = first_run + index
        conditions = run_conditions(seed, run_number, index, runs)
        simulations: dict[str, RunSimulation] = {}
        delays: dict[str, timedelta] = {}
        for subsystem in chosen:
            # One stream per run and subsystem: leaving a subsystem out, or adding
            # runs, does not change the others' histograms.
            rng = np.random.default_rng([seed, run_number, zlib.crc32(subsystem.encode())])
            # Receivers do not write in lockstep: each is a few seconds early.
            delays[subsystem] = timedelta(seconds=int(rng.integers(0, 30)))
            simulations[subsystem] = SIMULATIONS[subsystem](rng, conditions)
        for minute in range(1, minutes + 1):
            for subsystem, simulation in simulations.items():
                simulation.advance(minute)
                when = start + timedelta(minutes=minute) - delays[subsystem]
                path = write_receiver_file(
                    data_dir, subsystem, run_number, HLT_MODE, when, simulation.snapshot(), tz
                )
                written.append(path)
                if progress is not None:
                    progress(len(written), total)
    return written


def _run_starts(runs: int, minutes: int, now: datetime, seed: int) -> list[datetime]:
    """Start times of the runs, the last one ending at ``now``."""
    gaps = np.random.default_rng([seed]).integers(5, 26, size=runs)
    starts: list[datetime] = []
    end = now
    for gap in gaps:
        start = end - timedelta(minutes=minutes)
        starts.append(start)
        end = start - timedelta(minutes=int(gap))
    return starts[::-1]


def run_conditions(seed: int, run_number: int, index: int, runs: int) -> RunConditions:
    """The conditions (rate, planted problem) of run ``index`` of ``runs`` demo runs."""
    planted = {p.kind for p in PLANTED_PROBLEMS if p.run_index % runs == index}
    return RunConditions(
        seed=seed,
        rate=float(np.random.default_rng([seed, run_number]).uniform(0.7, 1.3)),
        hot_channel="hot channel" in planted,
        dead_supermodule="dead supermodule" in planted,
        mean_drift="mean drift" in planted,
        out_of_range="out of range" in planted,
    )
