"""The TPC QA plugin (``TPCQA/h_tpc_*``, AliPerformanceTPC), after the original ALICE Overwatch.

Track variables are numbered as in AliPerformanceTPC: 0 clusters, 2 found/findable
clusters, 3 DCA_r, 4 DCA_z, 5 η, 6 φ, 7 p_T, and ``h_tpc_track_<charge>_recvertex_a_b_c``
is a TH3 of variables (a, b, c) on (x, y, z). ``derived`` projects them as the
original did:

* DCA_r and DCA_z vs φ (``3_5_6``, ``4_5_6``; ``Project3D("xz")``) for the A side,
  η bins 15-29, and the C side, η bins 0-14 (0-based; on the 30-bin η axis from
  -1.5 to 1.5 these are η > 0 and η < 0). The original named the DCA_r
  projection of ``4_5_6`` "DCAz" and vice versa; here the names follow the indices.
* η vs φ (``2_5_6``, ``Project3D("yz")``, all bins).
* p_T and η for tracks with more than 70 clusters (``0_5_7``: cluster bins from
  70 up, the original's bins 71-160 on its 160-bin axis; all η or p_T bins).

The check looks at the mean DCA (1D, TH3, profiles and the projections): a
vertex or alignment problem shifts it away from zero.

The original TPC read the HLT receiver's files: :attr:`TPCPlugin.source_subsystem`
says so, for runs without TPC files of their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import GroupSpec
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.projection import project
from overwatch.histograms.model import Histogram

__all__ = ["A_SIDE_BINS", "C_SIDE_BINS", "MIN_CLUSTERS", "TPCPlugin", "mean_dca"]

PREFIX = "TPCQA/h_tpc_track_"
#: 0-based inclusive η bin ranges of the two TPC sides (the original's 15-29 and 0-14).
A_SIDE_BINS = (15, 29)
C_SIDE_BINS = (0, 14)
#: "More than 70 clusters": cluster bins whose lower edge is at least this.
MIN_CLUSTERS = 70.0
GROUPS = (
    ("TPC Cluster", "tpc_clust"),
    ("TPC Constrain", "tpc_constrain"),
    ("TPC Event RecVertex", "event_recvertex"),
    ("Match Tracking Efficiency", "match_trackingeff"),
    ("All RecVertex", "all_recvertex"),
    ("Negative RecVertex", "neg_recvertex"),
    ("Positive RecVertex", "pos_recvertex"),
    ("Projections", r"_vs_Phi_|^TPCQA/(pT|Eta)_"),
    ("event_6", "event_6"),
    ("Other TPC", "TPC"),
)
# Which histograms carry a DCA, and along which axis (0 x, 1 y) it lies.
_DCA = (
    (re.compile(r"track_\w+_recvertex_[34]$"), 0),
    (re.compile(r"track_\w+_recvertex_[34]_5_6$"), 0),
    (re.compile(r"track_\w+_recvertex_[34]_6_pfx$"), 1),
    (re.compile(r"^TPCQA/DCA[rz]_vs_Phi_"), 1),
)


def mean_dca(hist: Histogram) -> float | None:
    """Mean DCA (cm) from ROOT's statistics, or ``None`` if the histogram carries no DCA."""
    for pattern, axis in _DCA:
        if pattern.search(hist.name):
            sumw = hist.stats.get("fTsumw", 0.0)
            if not sumw:
                return None
            return hist.stats["fTsumw" + "xy"[axis]] / sumw
    return None


class TPCPlugin(DetectorPlugin):
    """TPC QA: DCA and η/φ projections of the track TH3s, the original's groups, DCA check."""

    name: ClassVar[str] = "tpc"
    version: ClassVar[str] = "1"
    source_subsystem: ClassVar[str | None] = "HLT"
    source_pattern: ClassVar[str] = "TPC"
    #: Fewer entries than this: too few to judge the mean.
    MIN_ENTRIES: ClassVar[float] = 100.0
    #: |mean DCA| (cm) above which the check says medium / bad.
    MEDIUM_DCA: ClassVar[float] = 0.1
    BAD_DCA: ClassVar[float] = 0.2

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> list[Histogram]:
        by_name = {h.name: h for h in histograms if h.ndim == 3 and not h.is_profile}
        out: list[Histogram] = []
        for charge in ("pos", "neg"):
            for index, what in (("3", "DCAr"), ("4", "DCAz")):
                source = by_name.get(f"{PREFIX}{charge}_recvertex_{index}_5_6")
                if source is None:
                    continue
                for side, bins in (("aSide", A_SIDE_BINS), ("cSide", C_SIDE_BINS)):
                    if bins[1] >= source.axes[1].nbins:
                        continue  # an η axis without the original's 30 bins
                    name = f"TPCQA/{what}_vs_Phi_{charge}tracks_{side}"
                    out.append(
                        project(
                            source,
                            (2, 0),
                            name=name,
                            title=f"{what} vs #phi, {charge} tracks, {side[0].upper()} side",
                            ranges={1: bins},
                            axis_titles={1: f"{what} (cm)"},
                        )
                    )
            source = by_name.get(f"{PREFIX}{charge}_recvertex_2_5_6")
            if source is not None:
                out.append(
                    project(
                        source,
                        (2, 1),
                        name=f"TPCQA/Eta_vs_Phi_{charge}tracks",
                        title=f"#eta vs #phi, {charge} tracks",
                    )
                )
            source = by_name.get(f"{PREFIX}{charge}_recvertex_0_5_7")
            if source is not None:
                out += self._above_70_clusters(source, charge)
        return out

    def _above_70_clusters(self, source: Histogram, charge: str) -> list[Histogram]:
        clusters = source.axes[0]
        first = next((i for i, low in enumerate(clusters.edges[:-1]) if low >= MIN_CLUSTERS), None)
        if first is None:
            return []
        selected = (first, clusters.nbins - 1)
        return [
            project(
                source,
                (2,),
                name=f"TPCQA/pT_{charge}tracks",
                title=f"p_{{T}}, {charge} tracks (ncl>70)",
                ranges={0: selected, 1: (0, source.axes[1].nbins - 1)},
            ),
            project(
                source,
                (1,),
                name=f"TPCQA/Eta_{charge}tracks",
                title=f"#eta, {charge} tracks (ncl>70)",
                ranges={0: selected, 2: (0, source.axes[2].nbins - 1)},
            ),
        ]

    def prepare(self, hist: Histogram, context: ProcessingContext) -> None:
        super().prepare(hist, context)
        hist.metadata.setdefault("display", {})["show_title"] = True
        if hist.ndim == 2:
            hist.draw_options = "colz"

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        mean = mean_dca(hist)
        if mean is None or hist.entries < self.MIN_ENTRIES:
            return None
        which = "DCA_z" if re.search(r"recvertex_4|DCAz", hist.name) else "DCA_r"
        text = f"mean {which} {mean:+.3f} cm"
        if abs(mean) > self.BAD_DCA:
            return CheckOutcome("bad", f"{text}, more than {self.BAD_DCA:g} cm from zero")
        if abs(mean) > self.MEDIUM_DCA:
            return CheckOutcome("medium", f"{text}, more than {self.MEDIUM_DCA:g} cm from zero")
        return CheckOutcome("good", text)

    def groups(self, names: Sequence[str], context: ProcessingContext) -> list[GroupSpec]:
        specs = [GroupSpec(title, pattern) for title, pattern in GROUPS]
        if context.source_subsystem is None:
            specs.append(GroupSpec("Non TPC", ""))
        return specs
