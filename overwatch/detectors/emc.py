"""The EMCal trigger QA plugin (``EMCTRQA_*`` histograms), after the original ALICE Overwatch.

What it does, per job:

* **summary**: the number of events, bin 1 of the (first, by name) 1D histogram
  whose name contains ``events`` in any case.
* **derived**: EMCal/DCal pairs of patch amplitude spectra
  (``EMCTRQA_hist{EMCal,DCal}[Max]PatchAmp<kind>``) become two spectra on an
  energy axis (ADC x 0.07874 GeV), EMCal red and DCal blue, the EMCal one naming
  the DCal one in ``display.overlay`` so a page draws both on one pad; and, as the
  original showed them, a ``THStack`` of the two drawn "nostack" (it holds the
  same two spectra, so it shows them as ``prepare`` scaled them).
* **prepare**: display name without ``EMCTRQA_hist``; ``colz`` for 2D; scaling by
  the number of events (option ``scale_hists``, on by default) of the
  per-supermodule, edge-position, FastOR and patch-amplitude histograms; TRU
  boundaries as ``TLine`` objects in the FastOR maps' ``fFunctions``
  (:meth:`Histogram.add_line`), so JSROOT draws the grid; the hot-channel search
  (FastOR summary histograms, channel rate per event above a threshold, IDs in
  ``info["hot_channels"]``) and the outlier search (mean ± n sigma, iterated) on the
  per-channel histograms; supermodule grid positions.
* **check**: ``bad`` for hot channels and for an empty per-supermodule FastOR
  map in a run with events (dead supermodule), ``medium`` for outliers, ``good``
  when a search found nothing, ``None`` when there is too little to judge.
* **groups**: per supermodule (grid, physical order), then clusters, ``hIDvs``,
  EMCal/DCal medians, the trigger classes, L0, background, FastOR, other EMC and
  non-EMC, as the original.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any
from typing import ClassVar

import numpy as np

from overwatch.detectors.api import CheckOutcome
from overwatch.detectors.api import DetectorPlugin
from overwatch.detectors.api import GroupSpec
from overwatch.detectors.api import ProcessingContext
from overwatch.detectors.api import ProcessingOption
from overwatch.detectors.api import worst_quality
from overwatch.detectors.channels import hot_channels
from overwatch.detectors.channels import search_outliers
from overwatch.detectors.emc_geometry import ADC_TO_GEV
from overwatch.detectors.emc_geometry import Line
from overwatch.detectors.emc_geometry import detector_tru_lines
from overwatch.detectors.emc_geometry import grid_position
from overwatch.detectors.emc_geometry import is_detector_map
from overwatch.detectors.emc_geometry import supermodule_number
from overwatch.detectors.emc_geometry import supermodule_tru_lines
from overwatch.histograms.drawable import DrawableObject
from overwatch.histograms.drawable import stack
from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram

__all__ = ["EMCPlugin", "default_hot_channel_threshold", "number_of_events"]

PREFIX = "EMCTRQA_hist"
#: The summary FastOR histograms the hot-channel search looks at (L0/L1 x hits/Amp/LargeAmp).
FASTOR_SUMMARIES = frozenset(
    f"{PREFIX}FastOR{level}{kind}" for level in ("L0", "L1") for kind in ("", "Amp", "LargeAmp")
)
#: Per-supermodule groups in the original's order: (title, name fragment).
SUPERMODULE_GROUPS = (
    ("FEE vs TRU", "FEEvsTRU_SM"),
    ("FEE vs STU", "FEEvsSTU_SM"),
    ("FastOR L0 (hits with ADC > 0)", "FastORL0_SM"),
    ("FastOR L0 Amp (hits weighted with ADC value)", "FastORL0Amp_SM"),
    ("FastOR L0 Large Amp (hits above 400 ADC)", "FastORL0LargeAmp_SM"),
    ("FastOR L1 (hits with ADC > 0)", "FastORL1_SM"),
    ("FastOR L1 Amp (hits weighted with ADC value)", "FastORL1Amp_SM"),
    ("FastOR L1 Large Amp (hits above 400 ADC)", "FastORL1LargeAmp_SM"),
)
OTHER_GROUPS = (
    ("Clusters", "Cluster"),
    ("Cell ID correlations", "hIDvs"),
    ("EMCal vs DCal median", "EMCalMedianVsDCalMedian"),
    ("Gamma trigger low", "GAL"),
    ("Gamma trigger high", "GAH"),
    ("Jet trigger low", "JEL"),
    ("Jet trigger high", "JEH"),
    ("L0", "EMCL0"),
    ("Background", "BKG"),
    ("FastOR", "FastOR"),
    ("Other EMC", "EMC"),
)
_PATCH = re.compile(rf"^{PREFIX}EMCal(Max)?PatchAmp(\w+)$")
_SCALED = re.compile(r"_SM\d+$|EdgePos|FastOR|PatchAmp")
_DEAD_CHECKED = re.compile(r"FastORL[01](Amp)?_SM\d+$")
# ROOT colours kRed+1, kBlue+1 and markers kFullCircle, kOpenCircle, as the original's stacks.
_STYLE = {"EMCal": (633, 20), "DCal": (601, 24)}
_EVENTS = re.compile(r"(?i)events")


def number_of_events(histograms: Sequence[Histogram]) -> float | None:
    """Bin 1 of the first (by name) 1D histogram whose name contains ``events``, any case."""
    for hist in sorted(histograms, key=lambda h: h.name):
        if _EVENTS.search(hist.name) and hist.ndim == 1 and hist.axes[0].nbins >= 1:
            return float(hist.values()[0])
    return None


def default_hot_channel_threshold(name: str) -> float:
    """The original's thresholds per event: LargeAmp 1e-7, Amp 1e4, hit counts 1e-2."""
    if "LargeAmp" in name:
        return 1e-7
    if "Amp" in name:
        return 1e4
    return 1e-2


def _is_per_channel(hist: Histogram) -> bool:
    """Histograms with one bin per FastOR: the summaries (1D) and the per-SM maps."""
    if "LargeAmp" in hist.name:  # mostly empty by design: outliers mean nothing there
        return False
    return (hist.ndim == 1 and hist.name in FASTOR_SUMMARIES) or (
        hist.ndim == 2 and "FastOR" in hist.name and supermodule_number(hist.name) is not None
    )


def _tru_lines(hist: Histogram, supermodule: int | None) -> Sequence[Line]:
    """The TRU boundaries to draw on a FastOR position map (none on other histograms)."""
    if hist.ndim != 2:
        return ()
    if "FastOR" in hist.name:
        columns, rows = (axis.nbins for axis in hist.axes)
        if supermodule is not None:
            return supermodule_tru_lines(supermodule)
        if is_detector_map(columns, rows):
            return detector_tru_lines()
    elif "EdgePos" in hist.name:
        return detector_tru_lines()
    return ()


def _ids(indices: Sequence[int], hist: Histogram) -> list[Any]:
    """Flat indices as channel IDs: the ID in 1D, ``[column, row]`` in a 2D map."""
    if hist.ndim == 1:
        return list(indices)
    shape = tuple(axis.nbins for axis in hist.axes)
    return [[int(c) for c in np.unravel_index(i, shape)] for i in indices]


def _listed(ids: Sequence[Any], limit: int = 10) -> str:
    text = ", ".join(str(tuple(i)) if isinstance(i, list) else str(i) for i in ids[:limit])
    return text + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


class EMCPlugin(DetectorPlugin):
    """EMCal trigger QA: supermodule grids, event scaling, hot channels, patch spectra."""

    name: ClassVar[str] = "emc"
    version: ClassVar[str] = "1"
    options: ClassVar[tuple[ProcessingOption, ...]] = (
        ProcessingOption(
            "scale_hists",
            bool,
            True,
            "Scale supermodule, FastOR and patch histograms by the number of events.",
        ),
        ProcessingOption(
            "hot_channel_threshold",
            float,
            0.0,
            "FastOR hot-channel threshold in 1/1000 hits per event (5 means 0.005); "
            "0 keeps the defaults: 1e-2 for hits, 1e4 for Amp, 1e-7 for LargeAmp.",
            minimum=0.0,
            maximum=1e9,
        ),
        ProcessingOption(
            "outlier_sigma",
            float,
            5.0,
            "Flag FastORs further than this many standard deviations from the mean.",
            minimum=1.0,
            maximum=100.0,
        ),
    )
    summary_pattern: ClassVar[str | None] = _EVENTS.pattern
    #: Fewer hits than this per FastOR on average: too few to search for outliers.
    MIN_HITS_PER_CHANNEL: ClassVar[float] = 10.0

    # -- summary and derived ------------------------------------------------------

    def summarize(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> dict[str, Any]:
        events = number_of_events(histograms)
        return {} if events is None else {"events": events}

    def derived(
        self, histograms: Sequence[Histogram], context: ProcessingContext
    ) -> list[Histogram | DrawableObject]:
        by_name = {hist.name: hist for hist in histograms}
        out: list[Histogram | DrawableObject] = []
        for name in sorted(by_name):
            match = _PATCH.match(name)
            dcal = by_name.get(name.replace("EMCal", "DCal", 1)) if match else None
            if match is None or dcal is None or by_name[name].ndim != 1 or dcal.ndim != 1:
                continue
            stem = f"{PREFIX}{match.group(1) or ''}PatchAmp{match.group(2)}"
            emcal_energy = _energy_spectrum(by_name[name], f"{stem}_EMCal_GeV", "EMCal")
            dcal_energy = _energy_spectrum(dcal, f"{stem}_DCal_GeV", "DCal")
            emcal_energy.metadata["display"]["overlay"] = [dcal_energy.name]
            both = stack(f"{stem}_GeV_stack", emcal_energy.title, [emcal_energy, dcal_energy])
            both.draw_options = "nostack"
            both.metadata["display"] = {"name": f"{stem[len(PREFIX) :]} EMCal and DCal"}
            out += [emcal_energy, dcal_energy, both]
        return out

    # -- per histogram ------------------------------------------------------------

    def prepare(self, hist: Histogram, context: ProcessingContext) -> None:
        display: dict[str, Any] = hist.metadata.setdefault("display", {})
        if hist.name.startswith(PREFIX):
            display["name"] = hist.name[len(PREFIX) :]
        if hist.ndim == 2:
            hist.draw_options = "colz"
        supermodule = supermodule_number(hist.name)
        if supermodule is not None:
            display["grid"] = grid_position(supermodule)
        for line in _tru_lines(hist, supermodule):
            hist.add_line(*line)
        raw = hist.values().copy()
        events = context.summary.get("events")
        if _SCALED.search(hist.name) and not _EVENTS.search(hist.name):
            self._scale(hist, events, context)
        if hist.ndim == 1 and hist.name in FASTOR_SUMMARIES:
            self._search_hot_channels(hist, raw, events, context)
        if _is_per_channel(hist):
            self._search_outliers(hist, raw, context)

    def _scale(self, hist: Histogram, events: float | None, context: ProcessingContext) -> None:
        if not context.options.get("scale_hists"):
            return
        info = hist.metadata.setdefault("info", [])
        if not events or events <= 0:
            info.append(
                "Not scaled: the number of events is unknown (no 1D '...events...' histogram)"
            )
            return
        if hist.sumw2 is None:  # Sumw2 first, so the errors scale with the contents
            hist.sumw2 = np.abs(hist.contents.astype(np.float64))
        hist.scale(1.0 / events)
        value_axis = hist.all_axes[hist.ndim] if hist.ndim < 3 else None
        if value_axis is not None:
            value_axis.title = "entries / events"
        info.append(f"Scaled by 1/{events:g} events")

    def _search_hot_channels(
        self, hist: Histogram, raw: Any, events: float | None, context: ProcessingContext
    ) -> None:
        if not events or events <= 0:
            hist.metadata.setdefault("info", []).append(
                "No hot-channel search: the number of events is unknown"
            )
            return
        requested = float(context.options.get("hot_channel_threshold") or 0.0)
        # The original form's unit: thresholds are given in 1/1000 per event.
        threshold = (
            requested / 1000.0 if requested > 0 else default_hot_channel_threshold(hist.name)
        )
        hist.metadata["hot_channel_threshold"] = threshold
        hist.metadata["hot_channels"] = hot_channels(raw, events, threshold)

    def _search_outliers(self, hist: Histogram, raw: Any, context: ProcessingContext) -> None:
        bins = raw.size
        if bins == 0 or hist.entries / bins < self.MIN_HITS_PER_CHANNEL:
            return
        n_sigma = float(context.options.get("outlier_sigma") or 5.0)
        found = search_outliers(raw, n_sigma)
        hist.metadata["outlier_sigma"] = n_sigma
        hist.metadata["outliers"] = _ids(found.outliers, hist)
        if found.outliers:
            hist.metadata.setdefault("info", []).append(
                f"Mean per FastOR {found.mean:.4g} ± {found.std:.4g}; "
                f"without the outliers {found.clean_mean:.4g} ± {found.clean_std:.4g}"
            )

    def check(self, hist: Histogram, context: ProcessingContext) -> CheckOutcome | None:
        outcomes: list[CheckOutcome] = []
        label = hist.metadata.get("display", {}).get("name", hist.name)
        events = context.summary.get("events")
        if _DEAD_CHECKED.search(hist.name) and hist.entries == 0:
            if not events:
                return None
            supermodule = supermodule_number(hist.name)
            return CheckOutcome(
                "bad",
                f"SM{supermodule} delivered no FastOR hits in {events:g} events: "
                "supermodule dead or not read out",
            )
        hot = hist.metadata.get("hot_channels")
        if hot is not None:
            threshold = hist.metadata["hot_channel_threshold"]
            if hot:
                outcomes.append(
                    CheckOutcome(
                        "bad",
                        f"{len(hot)} hot FastOR channel(s) above {threshold:g} per event in "
                        f"{label}: ID {_listed(hot)}",
                    )
                )
            else:
                outcomes.append(CheckOutcome("good", f"no FastOR above {threshold:g} per event"))
        outliers = hist.metadata.get("outliers")
        if outliers is not None:
            n_sigma = hist.metadata["outlier_sigma"]
            if outliers:
                what = "ID" if hist.ndim == 1 else "(column, row)"
                outcomes.append(
                    CheckOutcome(
                        "medium",
                        f"{len(outliers)} FastOR(s) outside mean ± {n_sigma:g} sigma in {label}: "
                        f"{what} {_listed(outliers)}",
                    )
                )
            else:
                outcomes.append(CheckOutcome("good", f"no FastOR outside mean ± {n_sigma:g} sigma"))
        if not outcomes:
            return None
        worst = worst_quality([o.quality for o in outcomes])
        reasons = [o.message for o in outcomes if o.quality == worst]
        return CheckOutcome(worst or "good", "; ".join(reasons))

    # -- trending -----------------------------------------------------------------

    def trend(self, function: str, hist: Histogram, context: ProcessingContext) -> float | None:
        """``channel_mean``: the mean over the channels (bins) of a per-FastOR histogram."""
        if function != "channel_mean" or hist.ndim != 1 or not hist.values().size:
            return None
        return float(hist.values().mean())

    # -- groups -------------------------------------------------------------------

    def groups(self, names: Sequence[str], context: ProcessingContext) -> list[GroupSpec]:
        specs = []
        for title, fragment in SUPERMODULE_GROUPS:
            pattern = re.escape(fragment) + r"\d+$"
            members = [n for n in names if re.search(pattern, n)]
            order = tuple(sorted(members, key=lambda n: supermodule_number(n) or 0))
            specs.append(GroupSpec(title, pattern, layout="grid", columns=2, order=order))
        specs += [GroupSpec(title, re.escape(fragment)) for title, fragment in OTHER_GROUPS]
        if context.source_subsystem is None:
            # Only with files of its own: another subsystem's files hold unrelated histograms.
            specs.append(GroupSpec("Non EMC", ""))
        return specs


def _energy_spectrum(hist: Histogram, name: str, calorimeter: str) -> Histogram:
    """A copy of a patch ADC spectrum on an energy axis, styled as the original's stack."""
    # Built field by field: a deep copy of the source costs more than everything else here.
    old = hist.axes[0]
    energy = Axis(
        old.edges * ADC_TO_GEV,
        name="xaxis",
        title="Energy (GeV)",
        variable=old.variable,
        attributes=dict(old.attributes),
    )
    spare = tuple(
        dataclasses.replace(axis, edges=axis.edges.copy(), attributes=dict(axis.attributes))
        for axis in hist.spare_axes
    )
    stats = dict(hist.stats)
    stats["fTsumwx"] *= ADC_TO_GEV
    stats["fTsumwx2"] *= ADC_TO_GEV**2
    spectrum = Histogram(
        name=name,
        class_name="TH1D",
        title=f"{calorimeter} {hist.title}".strip(),
        axes=(energy,),
        contents=hist.contents.astype(np.float64),
        sumw2=None if hist.sumw2 is None else hist.sumw2.copy(),
        entries=hist.entries,
        stats=stats,
        spare_axes=spare,
        attributes=dict(hist.attributes),
    )
    color, marker = _STYLE[calorimeter]
    spectrum.attributes.update(
        {"fLineColor": color, "fMarkerColor": color, "fMarkerStyle": marker, "fMarkerSize": 0.8}
    )
    spectrum.draw_options = "pe;logy;gridxy"
    spectrum.metadata = {
        "display": {"name": name[len(PREFIX) :], "legend": calorimeter},
        "info": [f"{calorimeter} patch amplitude, {ADC_TO_GEV} GeV per ADC count"],
    }
    return spectrum
