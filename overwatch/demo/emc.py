"""EMCal trigger QA for the demo: FastOR L0 maps per supermodule and patch spectra.

Names follow the ALICE ``AliEmcalTriggerQA`` output (``EMCTRQA_*``) as the EMC
plugin expects them: an events histogram (bin 1: number of events) to scale by,
per-supermodule FastOR L0 maps, the per-channel summaries ``EMCTRQA_histFastORL0``
and ``...Amp`` for the hot-channel search, a whole-detector FastOR map for the TRU
grid, and EMCal/DCal pairs of patch amplitude spectra per trigger class; and a
``TGraph`` of the events recorded in each minute (a receiver's own drawing, stored
and drawn as it is). The hot FastOR and the dead supermodule of the planted
problems show up here.
"""

from __future__ import annotations

import zlib

import numpy as np

from overwatch.demo.graphs import to_tgraph
from overwatch.demo.histograms import Axis
from overwatch.demo.simulation import DEAD_SUPERMODULE
from overwatch.demo.simulation import HOT_FACTOR
from overwatch.demo.simulation import HOT_FASTOR
from overwatch.demo.simulation import HOT_SUPERMODULE
from overwatch.demo.simulation import Floats
from overwatch.demo.simulation import RunConditions
from overwatch.demo.simulation import RunSimulation
from overwatch.detectors.emc_geometry import supermodule_shape

__all__ = ["EMCSimulation", "supermodule_origin", "supermodule_shape"]

#: Trigger classes of the patch spectra: (name, threshold, slope, patches per minute).
PATCH_KINDS = (
    ("EMCL0", 60.0, 25.0, 4000.0),
    ("EMCGAL", 90.0, 30.0, 2500.0),
    ("EMCGAH", 130.0, 35.0, 1200.0),
    ("EMCJEL", 220.0, 110.0, 1500.0),
    ("EMCJEH", 300.0, 130.0, 700.0),
)
#: DCal's patch rate relative to EMCal's (a smaller acceptance).
DCAL_SHARE = 0.6
#: Events per minute at nominal rate: a normal FastOR fires in ~0.25 % of them.
EVENTS_PER_MINUTE = 6000


def supermodule_origin(supermodule: int) -> tuple[int, int]:
    """(column, row) of an SM's first FastOR on the 48 x 104 whole-detector map."""
    if supermodule < 10:
        return 24 * (supermodule % 2), 12 * (supermodule // 2)
    if supermodule < 12:
        return 24 * (supermodule % 2), 60
    if supermodule < 18:
        return 32 * (supermodule % 2), 64 + 12 * ((supermodule - 12) // 2)
    return 24 * (supermodule % 2), 100


class EMCSimulation(RunSimulation):
    """EMCal trigger QA: FastOR L0 hit and amplitude maps per supermodule, patch spectra."""

    SUPERMODULES = 20
    AMPLITUDE_SCALE = 30.0  # mean ADC counts per FastOR L0 hit

    def __init__(self, rng: np.random.Generator, conditions: RunConditions) -> None:
        super().__init__(rng, conditions)
        self.events_per_minute: list[int] = []
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
        self.book("EMCTRQA_histEvents", "Number of events", Axis.regular(1, 0, 1), single=True)
        total = sum(expected.size for expected in self.expected)
        channels = Axis.regular(total, 0, total, "FastOR abs. ID")
        self.book("EMCTRQA_histFastORL0", "FastOR L0 hits per channel", channels, single=True)
        self.book(
            "EMCTRQA_histFastORL0Amp", "FastOR L0 amplitude per channel", channels, single=True
        )
        self.book(
            "EMCTRQA_histFastORL0PosMap",
            "FastOR L0 hits",
            Axis.regular(48, 0, 48, "column"),
            Axis.regular(104, 0, 104, "row"),
            single=True,
        )
        for calo in ("EMCal", "DCal"):
            for kind, *_ in PATCH_KINDS:
                top = 1500 if "JE" in kind else 500
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
        events = self.count(EVENTS_PER_MINUTE)
        self.events_per_minute.append(events)
        self.histograms["EMCTRQA_histEvents"].add_bins([events])
        hits_per_sm = []
        amps_per_sm = []
        detector_map = np.zeros((48, 104))
        for sm, expected in enumerate(self.expected):
            hits = rng.poisson(expected)
            column, row = supermodule_origin(sm)
            detector_map[column : column + hits.shape[0], row : row + hits.shape[1]] += hits
            # The sum of `hits` exponential amplitudes is gamma distributed.
            amps = rng.gamma(hits, self.AMPLITUDE_SCALE)
            self.histograms[f"EMCTRQA_histFastORL0_SM{sm}"].add_bins(hits)
            self.histograms[f"EMCTRQA_histFastORL0Amp_SM{sm}"].add_bins(
                amps, sumw2=2 * self.AMPLITUDE_SCALE**2 * hits, entries=float(hits.sum())
            )
            # Absolute IDs run along a row first, supermodule after supermodule.
            hits_per_sm.append(hits.T.reshape(-1))
            amps_per_sm.append(amps.T.reshape(-1))
        self.histograms["EMCTRQA_histFastORL0PosMap"].add_bins(detector_map)
        all_hits = np.concatenate(hits_per_sm)
        self.histograms["EMCTRQA_histFastORL0"].add_bins(all_hits)
        self.histograms["EMCTRQA_histFastORL0Amp"].add_bins(
            np.concatenate(amps_per_sm),
            sumw2=2 * self.AMPLITUDE_SCALE**2 * all_hits,
            entries=float(all_hits.sum()),
        )
        # A dead DCal supermodule costs DCal patches its share of the acceptance.
        dcal_live = 1.0 - (1 / 8 if self.conditions.dead_supermodule else 0.0)
        for calo, share in (("EMCal", 1.0), ("DCal", DCAL_SHARE * dcal_live)):
            for kind, threshold, slope, rate in PATCH_KINDS:
                for prefix, extra in (("", 0.0), ("Max", 0.6)):
                    n = self.count(rate * share / (3 if prefix else 1))
                    # A smeared trigger threshold followed by a falling spectrum.
                    amplitude = threshold * (1 + extra) * rng.lognormal(0, 0.08, n)
                    amplitude += rng.exponential(slope, n)
                    self.histograms[f"EMCTRQA_hist{calo}{prefix}PatchAmp{kind}"].fill(amplitude)
        self.histograms["EMCTRQA_histCellAmp"].fill(rng.exponential(0.5, self.count(20000)))

    def snapshot(self) -> dict[str, object]:
        objects = super().snapshot()
        minutes = np.arange(1, len(self.events_per_minute) + 1, dtype=np.float64)
        objects["EMCTRQA_graphEventsPerMinute"] = to_tgraph(
            "Events per minute;minute of the run;events",
            minutes,
            np.asarray(self.events_per_minute, dtype=np.float64),
            line_color=601,
            marker_color=601,
        )
        return objects
