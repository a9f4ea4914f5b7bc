"""TPC performance QA for the demo, in the ``TPCQA`` directory.

Names follow ALICE's ``AliPerformanceTPC``: ``h_tpc_event_recvertex_<i>`` are event
variables, ``h_tpc_track_<charge>_recvertex_<i>[_<j>[_<k>]]`` projections of the
track variables with those indices (three indices make a TH3D, as in ALICE), and
``_pfx`` marks a profile. The planted DCA_r drift shows up here.
"""

from __future__ import annotations

import numpy as np

from overwatch.demo.histograms import Axis
from overwatch.demo.simulation import DRIFT_PER_MINUTE
from overwatch.demo.simulation import Floats
from overwatch.demo.simulation import RunConditions
from overwatch.demo.simulation import RunSimulation

__all__ = ["TPCSimulation"]

_TWO_PI = 2 * np.pi

# ALICE's usual variable p_T binning: fine at low p_T where most tracks are.
_PT_EDGES = (0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0,
             2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0)  # fmt: skip

# AliPerformanceTPC track variables: index -> (what, fine 1D axis, coarse axis for 3D).
_TRACK_AXES: dict[int, tuple[str, Axis, Axis]] = {
    0: ("nClust", Axis.regular(160, 0, 160, "nClust"), Axis.regular(32, 0, 160, "nClust")),
    1: (
        "chi2PerClust",
        Axis.regular(100, 0, 10, "#chi^{2}/nClust"),
        Axis.regular(20, 0, 10, "#chi^{2}/nClust"),
    ),
    2: (
        "nClust/nFindableClust",
        Axis.regular(120, 0, 1.2, "nClust/nFindableClust"),
        Axis.regular(24, 0, 1.2, "nClust/nFindableClust"),
    ),
    3: ("DCA_r", Axis.regular(120, -3, 3, "DCA_{r} (cm)"), Axis.regular(30, -3, 3, "DCA_{r} (cm)")),
    4: ("DCA_z", Axis.regular(120, -3, 3, "DCA_{z} (cm)"), Axis.regular(30, -3, 3, "DCA_{z} (cm)")),
    # The 3D eta axis is the original's 30 bins: bins 0-14 the C side, 15-29 the A side.
    5: ("eta", Axis.regular(30, -1.5, 1.5, "#eta"), Axis.regular(30, -1.5, 1.5, "#eta")),
    6: (
        "phi",
        Axis.regular(90, 0, _TWO_PI, "#phi (rad)"),
        Axis.regular(18, 0, _TWO_PI, "#phi (rad)"),
    ),
    7: (
        "pt",
        Axis.variable(_PT_EDGES, "p_{T} (GeV/c)"),
        Axis.variable(_PT_EDGES[::3], "p_{T} (GeV/c)"),
    ),
}
_EVENT_AXES = {
    0: Axis.regular(100, -1, 1, "x_{v} (cm)"),
    1: Axis.regular(100, -1, 1, "y_{v} (cm)"),
    2: Axis.regular(60, -30, 30, "z_{v} (cm)"),
    3: Axis.regular(60, 0, 300, "multiplicity"),
    4: Axis.regular(60, 0, 150, "positive multiplicity"),
    5: Axis.regular(60, 0, 150, "negative multiplicity"),
}


class TPCSimulation(RunSimulation):
    """TPC performance QA in the ``TPCQA`` directory: event and track variables."""

    PREFIX = "TPCQA/h_tpc_"

    def __init__(self, rng: np.random.Generator, conditions: RunConditions) -> None:
        super().__init__(rng, conditions)
        p = self.PREFIX
        for index, axis in _EVENT_AXES.items():
            self.book(f"{p}event_recvertex_{index}", axis.title, axis)
        self.book(
            f"{p}event_recvertex_4_5",
            "positive vs negative multiplicity",
            _EVENT_AXES[4],
            _EVENT_AXES[5],
        )
        for index, (what, fine, _) in _TRACK_AXES.items():
            self.book(f"{p}track_all_recvertex_{index}", what, fine)
        for a, b in ((5, 6), (0, 5)):
            self.book(
                f"{p}track_all_recvertex_{a}_{b}",
                f"{_TRACK_AXES[b][0]} vs {_TRACK_AXES[a][0]}",
                _TRACK_AXES[a][1],
                _TRACK_AXES[b][1],
            )
        # The three-variable projections are TH3D in ALICE, so they are here too.
        for charge, (a, b, c) in (
            ("pos", (2, 5, 6)),
            ("neg", (2, 5, 6)),
            ("pos", (3, 5, 6)),
            ("neg", (3, 5, 6)),
            ("pos", (4, 5, 6)),
            ("neg", (4, 5, 6)),
            ("pos", (0, 5, 7)),
            ("neg", (0, 5, 7)),
            ("all", (0, 5, 7)),
        ):
            names = " vs ".join(_TRACK_AXES[i][0] for i in (c, b, a))
            self.book(
                f"{p}track_{charge}_recvertex_{a}_{b}_{c}",
                names,
                *(_TRACK_AXES[i][2] for i in (a, b, c)),
            )
        for a, b in ((0, 6), (3, 6), (0, 5)):
            self.book(
                f"{p}track_all_recvertex_{a}_{b}_pfx",
                f"mean {_TRACK_AXES[a][0]} vs {_TRACK_AXES[b][0]}",
                _TRACK_AXES[b][1],
                profile=True,
            )

    def advance(self, minute: int) -> None:
        rng, h, p = self.rng, self.histograms, self.PREFIX
        n = self.count(1500)
        vertex = (rng.normal(0.08, 0.01, n), rng.normal(0.35, 0.01, n), rng.normal(0, 6, n))
        mult = rng.gamma(2.5, 16.0, n)
        positive = rng.binomial(np.round(mult).astype(np.int64), 0.51)
        for index, values in enumerate((*vertex, mult, positive, np.round(mult) - positive)):
            h[f"{p}event_recvertex_{index}"].fill(values)
        h[f"{p}event_recvertex_4_5"].fill(positive, np.round(mult) - positive)
        drift = DRIFT_PER_MINUTE * minute if self.conditions.mean_drift else 0.0
        t = self._tracks(self.count(12000), drift)
        for index in _TRACK_AXES:
            h[f"{p}track_all_recvertex_{index}"].fill(t[index])
        for a, b in ((5, 6), (0, 5)):
            h[f"{p}track_all_recvertex_{a}_{b}"].fill(t[a], t[b])
        pos = t[8] > 0
        for charge, selected in (("pos", pos), ("neg", ~pos)):
            for a, b, c in ((2, 5, 6), (3, 5, 6), (4, 5, 6), (0, 5, 7)):
                h[f"{p}track_{charge}_recvertex_{a}_{b}_{c}"].fill(
                    t[a][selected], t[b][selected], t[c][selected]
                )
        h[f"{p}track_all_recvertex_0_5_7"].fill(t[0], t[5], t[7])
        for a, b in ((0, 6), (3, 6), (0, 5)):
            h[f"{p}track_all_recvertex_{a}_{b}_pfx"].fill(t[b], t[a])

    def _tracks(self, n: int, dcar_mean: float) -> dict[int, Floats]:
        """Track variables by AliPerformanceTPC index; 8 holds the charge sign."""
        rng = self.rng
        phi = rng.uniform(0, _TWO_PI, n)
        # Fewer tracks near the 18 sector boundaries, as in the real TPC.
        sector = _TWO_PI / 18
        fraction = (phi / sector) % 1.0
        to_edge = np.minimum(fraction, 1.0 - fraction) * sector
        keep = rng.random(n) > 0.5 * np.exp(-((to_edge / 0.02) ** 2))
        phi = phi[keep]
        m = phi.size
        core = rng.random(m) > 0.05  # 5 % secondaries with a wide DCA
        dcar = np.where(core, rng.normal(dcar_mean, 0.25, m), rng.normal(dcar_mean, 1.0, m))
        return {
            0: np.clip(159.5 - rng.gamma(2.0, 9.0, m), 20, 159.5),
            1: rng.gamma(4.0, 0.5, m),
            2: np.clip(rng.beta(20.0, 2.0, m) * 1.08, 0, 1.19),
            3: dcar,
            4: rng.normal(0, 0.4, m),
            5: rng.uniform(-0.9, 0.9, m),
            6: phi,
            7: 0.15 + rng.pareto(3.0, m) * 0.6,
            8: rng.choice(np.array([-1.0, 1.0]), m),
        }
