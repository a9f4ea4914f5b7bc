"""EMCal trigger QA for the demo: FastOR L0 maps per supermodule and patch spectra.

Names follow the ALICE ``AliEmcalTriggerQA`` output (``EMCTRQA_*``); the hot
FastOR and the dead supermodule of the planted problems show up here.
"""

from __future__ import annotations

import zlib

import numpy as np

from overwatch.demo.histograms import Axis
from overwatch.demo.simulation import DEAD_SUPERMODULE
from overwatch.demo.simulation import HOT_FACTOR
from overwatch.demo.simulation import HOT_FASTOR
from overwatch.demo.simulation import HOT_SUPERMODULE
from overwatch.demo.simulation import Floats
from overwatch.demo.simulation import RunConditions
from overwatch.demo.simulation import RunSimulation

__all__ = ["EMCSimulation", "supermodule_shape"]


def supermodule_shape(supermodule: int) -> tuple[int, int]:
    """FastOR (columns, rows) of an EMCal/DCal supermodule: full, 2/3 or 1/3 size."""
    if supermodule in (10, 11, 18, 19):
        return 24, 4
    if 12 <= supermodule <= 17:
        return 16, 12
    return 24, 12


class EMCSimulation(RunSimulation):
    """EMCal trigger QA: FastOR L0 hit and amplitude maps per supermodule, patch spectra."""

    SUPERMODULES = 20
    AMPLITUDE_SCALE = 30.0  # mean ADC counts per FastOR L0 hit

    def __init__(self, rng: np.random.Generator, conditions: RunConditions) -> None:
        super().__init__(rng, conditions)
        # Gains are a property of the detector, the same in every run of the data set.
        gains_rng = np.random.default_rng([conditions.seed, 0, zlib.crc32(b"EMC gains")])
        self.expected: list[Floats] = []
        for sm in range(self.SUPERMODULES):
            shape = supermodule_shape(sm)
            gains = np.clip(gains_rng.normal(1.0, 0.12, shape), 0.5, 1.5)
            expected = 15.0 * conditions.rate * gains
            if conditions.hot_channel and sm == HOT_SUPERMODULE:
                expected[HOT_FASTOR] *= HOT_FACTOR
            if conditions.dead_supermodule and sm == DEAD_SUPERMODULE:
                expected[:] = 0.0
            self.expected.append(expected)
            cols, rows = shape
            col_axis = Axis.regular(cols, 0, cols, "col")
            row_axis = Axis.regular(rows, 0, rows, "row")
            self.book(
                f"EMCTRQA_histFastORL0_SM{sm}",
                f"FastOR L0 hits in SM{sm}",
                col_axis,
                row_axis,
                single=True,
            )
            self.book(
                f"EMCTRQA_histFastORL0Amp_SM{sm}",
                f"FastOR L0 amplitude in SM{sm}",
                col_axis,
                row_axis,
                single=True,
            )
        total = sum(expected.size for expected in self.expected)
        channels = Axis.regular(total, 0, total, "FastOR abs. ID")
        self.book("EMCTRQA_histFastORL0", "FastOR L0 hits per channel", channels, single=True)
        self.book(
            "EMCTRQA_histFastORL0Amp", "FastOR L0 amplitude per channel", channels, single=True
        )
        for calo, kinds in (("EMCal", ("EMCL0", "EMCGA", "EMCJE")), ("DCal", ("DMCGA", "DMCJE"))):
            for kind in kinds:
                top = 1500 if kind.endswith("JE") else 500
                amplitude = Axis.regular(top // 5, 0, top, "amplitude (ADC counts)")
                self.book(
                    f"EMCTRQA_hist{calo}PatchAmp{kind}",
                    f"{kind} patch amplitude",
                    amplitude,
                    single=True,
                )
                self.book(
                    f"EMCTRQA_hist{calo}MaxPatchAmp{kind}",
                    f"{kind} max patch amplitude",
                    amplitude,
                    single=True,
                )
        self.book(
            "EMCTRQA_histCellAmp",
            "Cell amplitude",
            Axis.regular(200, 0, 20, "E (GeV)"),
            single=True,
        )

    def advance(self, minute: int) -> None:
        rng = self.rng
        hits_per_sm = []
        amps_per_sm = []
        for sm, expected in enumerate(self.expected):
            hits = rng.poisson(expected)
            # The sum of `hits` exponential amplitudes is gamma distributed.
            amps = rng.gamma(hits, self.AMPLITUDE_SCALE)
            self.histograms[f"EMCTRQA_histFastORL0_SM{sm}"].add_bins(hits)
            self.histograms[f"EMCTRQA_histFastORL0Amp_SM{sm}"].add_bins(
                amps, sumw2=2 * self.AMPLITUDE_SCALE**2 * hits, entries=float(hits.sum())
            )
            # Absolute IDs run along a row first, supermodule after supermodule.
            hits_per_sm.append(hits.T.reshape(-1))
            amps_per_sm.append(amps.T.reshape(-1))
        all_hits = np.concatenate(hits_per_sm)
        self.histograms["EMCTRQA_histFastORL0"].add_bins(all_hits)
        self.histograms["EMCTRQA_histFastORL0Amp"].add_bins(
            np.concatenate(amps_per_sm),
            sumw2=2 * self.AMPLITUDE_SCALE**2 * all_hits,
            entries=float(all_hits.sum()),
        )
        # A dead DCal supermodule costs DCal patches its share of the acceptance.
        dcal_live = 1.0 - (1 / 8 if self.conditions.dead_supermodule else 0.0)
        for name, threshold, slope, rate in (
            ("EMCalPatchAmpEMCL0", 60.0, 25.0, 4000),
            ("EMCalPatchAmpEMCGA", 110.0, 35.0, 2500),
            ("EMCalPatchAmpEMCJE", 260.0, 120.0, 1500),
            ("DCalPatchAmpDMCGA", 110.0, 35.0, 1600 * dcal_live),
            ("DCalPatchAmpDMCJE", 260.0, 120.0, 900 * dcal_live),
        ):
            for prefix, extra in (("", 0.0), ("Max", 0.6)):
                n = self.count(rate / (3 if prefix else 1))
                # A smeared trigger threshold followed by a falling spectrum.
                amplitude = threshold * (1 + extra) * rng.lognormal(0, 0.08, n)
                amplitude += rng.exponential(slope, n)
                calo, kind = name.split("PatchAmp")
                self.histograms[f"EMCTRQA_hist{calo}{prefix}PatchAmp{kind}"].fill(amplitude)
        self.histograms["EMCTRQA_histCellAmp"].fill(rng.exponential(0.5, self.count(20000)))
