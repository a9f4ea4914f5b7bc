"""HLT monitoring for the demo: event sizes, detector cluster counts, trigger classes.

Names follow the ALICE HLT global-monitoring histograms (``fHist*``); the size
axes are logarithmic (variable bins) and two histograms have bin labels. The
planted out-of-range problem (a wrong dE/dx gain in one chamber) shows up here.
"""

from __future__ import annotations

import numpy as np

from overwatch.demo.histograms import Axis
from overwatch.demo.simulation import OUT_OF_RANGE_FACTOR
from overwatch.demo.simulation import OUT_OF_RANGE_HISTOGRAM
from overwatch.demo.simulation import RunConditions
from overwatch.demo.simulation import RunSimulation

__all__ = ["HLTSimulation"]


class HLTSimulation(RunSimulation):
    """HLT monitoring: event sizes, detector cluster counts, TPC clusters, trigger classes."""

    TRIGGER_CLASSES = (
        "CINT7-B-NOPF-CENT",
        "CEMC7-B-NOPF-CENTNOTRD",
        "CDMC7-B-NOPF-CENTNOTRD",
        "CINT7EG1-B-NOPF-CENTNOTRD",
        "CINT7EJ1-B-NOPF-CENTNOTRD",
        "CINT7DG1-B-NOPF-CENTNOTRD",
        "CMUL7-B-NOPF-MUFAST",
        "C0TVX-B-NOPF-CENT",
    )
    TRIGGER_FRACTIONS = (0.52, 0.08, 0.05, 0.06, 0.04, 0.03, 0.07, 0.15)
    CLUSTER_FLAGS = ("none", "split pad", "split time", "edge", "single pad", "shared")
    CLUSTER_FLAG_FRACTIONS = (0.71, 0.09, 0.07, 0.05, 0.05, 0.03)
    CHAMBER_DEDX_PEAKS = {"IROC": 50.0, "OROC1": 53.0, "OROC2": 56.0}

    def __init__(self, rng: np.random.Generator, conditions: RunConditions) -> None:
        super().__init__(rng, conditions)
        # Event sizes span decades, so the size axes are logarithmic (variable bins).
        size = np.geomspace(1e4, 1e7, 61)
        in_size = Axis.variable(size, "HLT input size (bytes)")
        out_size = Axis.variable(size, "HLT output size (bytes)")
        hlt_size = Axis.variable(size, "HLT size (bytes)")
        self.book(
            "fHistClusterChargeMax",
            "TPC cluster max charge",
            Axis.regular(100, 0, 500, "Q_{max} (ADC)"),
        )
        self.book(
            "fHistClusterChargeTot",
            "TPC cluster total charge",
            Axis.regular(100, 0, 2000, "Q_{tot} (ADC)"),
        )
        self.book("fHistHLTInSize_HLTOutSize", "HLT out vs in size", in_size, out_size)
        self.book(
            "fHistHLTInSize_HLTOutSize_pfx", "HLT mean out size vs in size", in_size, profile=True
        )
        self.book("fHistHLTSize_HLTInSize", "HLT size vs in size", in_size, hlt_size)
        self.book("fHistHLTSize_HLTOutSize", "HLT size vs out size", out_size, hlt_size)
        for det, top in (("SPD", 400), ("SDD", 300), ("SSD", 500)):
            self.book(
                f"fHist{det}clusters_{det}rawSize",
                f"{det} clusters vs raw size",
                Axis.regular(100, 0, 5e4, f"{det} raw size (bytes)"),
                Axis.regular(100, 0, top, f"{det} clusters"),
            )
        tracks = Axis.regular(100, 0, 200, "TPC tracks")
        self.book("fHistTPCtracks", "TPC tracks per event", tracks)
        self.book(
            "fHistTPCtracks_SPDclusters",
            "TPC tracks vs SPD clusters",
            Axis.regular(100, 0, 400, "SPD clusters"),
            tracks,
        )
        self.book(
            "fHistTPCClusterFlags", "TPC cluster flags", Axis.labelled(self.CLUSTER_FLAGS, "flag")
        )
        for chamber in self.CHAMBER_DEDX_PEAKS:
            self.book(
                f"fHistTPCdEdxMax{chamber}",
                f"TPC dE/dx (Q_{{max}}) {chamber}",
                Axis.regular(100, 0, 150, "dE/dx (a.u.)"),
            )
        self.book(
            "fHistZNA_ZNC",
            "ZNA vs ZNC energy",
            Axis.regular(100, 0, 10, "ZNC (TeV)"),
            Axis.regular(100, 0, 10, "ZNA (TeV)"),
        )
        self.book(
            "fHistVZERO_SPDClusters",
            "VZERO vs SPD clusters",
            Axis.regular(100, 0, 400, "SPD clusters"),
            Axis.regular(100, 0, 600, "VZERO multiplicity"),
        )
        self.book(
            "fHistTriggerClasses",
            "Events per trigger class",
            Axis.labelled(self.TRIGGER_CLASSES, "trigger class"),
        )

    def advance(self, minute: int) -> None:
        rng, h = self.rng, self.histograms
        n = self.count(3000)
        mult = rng.gamma(2.0, 12.0, n)
        in_size = (2e5 + 9e3 * mult) * rng.lognormal(0, 0.1, n)
        out_size = 0.18 * in_size * rng.lognormal(0, 0.05, n)
        hlt_size = out_size + rng.normal(5e3, 5e2, n)
        h["fHistHLTInSize_HLTOutSize"].fill(in_size, out_size)
        h["fHistHLTInSize_HLTOutSize_pfx"].fill(in_size, out_size)
        h["fHistHLTSize_HLTInSize"].fill(in_size, hlt_size)
        h["fHistHLTSize_HLTOutSize"].fill(out_size, hlt_size)
        spd = mult * 2.2 + rng.normal(0, 5, n)
        for det, per_track, bytes_per_cluster in (
            ("SPD", 2.2, 42),
            ("SDD", 1.6, 90),
            ("SSD", 2.8, 60),
        ):
            clusters = spd if det == "SPD" else mult * per_track + rng.normal(0, 6, n)
            raw = clusters * bytes_per_cluster + rng.normal(800, 150, n)
            h[f"fHist{det}clusters_{det}rawSize"].fill(raw, clusters)
        tpc_tracks = np.round(mult * 0.8 + rng.normal(0, 2, n))
        h["fHistTPCtracks"].fill(tpc_tracks)
        h["fHistTPCtracks_SPDclusters"].fill(spd, tpc_tracks)
        h["fHistVZERO_SPDClusters"].fill(spd, spd * 1.3 + rng.normal(10, 12, n))
        common = rng.gamma(1.5, 0.4, n)
        h["fHistZNA_ZNC"].fill(common + rng.gamma(1.0, 0.3, n), common + rng.gamma(1.0, 0.3, n))
        h["fHistTriggerClasses"].add_bins(rng.multinomial(n, self.TRIGGER_FRACTIONS))
        n_clusters = self.count(20000)
        qmax = rng.lognormal(np.log(40.0), 0.5, n_clusters)
        h["fHistClusterChargeMax"].fill(qmax)
        h["fHistClusterChargeTot"].fill(qmax * rng.lognormal(np.log(3.5), 0.2, n_clusters))
        h["fHistTPCClusterFlags"].add_bins(rng.multinomial(n_clusters, self.CLUSTER_FLAG_FRACTIONS))
        for chamber, peak in self.CHAMBER_DEDX_PEAKS.items():
            name = f"fHistTPCdEdxMax{chamber}"
            wrong_gain = self.conditions.out_of_range and name == OUT_OF_RANGE_HISTOGRAM
            centre = peak * (OUT_OF_RANGE_FACTOR if wrong_gain else 1.0)
            h[name].fill(rng.normal(centre, 0.12 * centre, self.count(8000)))
