"""The HLT plugin: entries outside the axis range, titles, cluster and track groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from overwatch.detectors import get_plugin
from overwatch.detectors.hlt import HLTPlugin
from overwatch.detectors.hlt import out_of_range_fraction
from overwatch.processing.reader import read_file
from tests import rootfiles
from tests.detectors.helpers import context
from tests.detectors.helpers import process


def test_the_hlt_plugin_serves_hlt_by_default() -> None:
    assert isinstance(get_plugin("HLT"), HLTPlugin)


@pytest.mark.parametrize(
    ("overflow", "quality"), [(0.0, "good"), (100.0, "medium"), (400.0, "bad")]
)
def test_entries_beyond_the_axis_are_flagged(tmp_path: Path, overflow: float, quality: str) -> None:
    path = rootfiles.write_file(
        tmp_path / "hlt.root",
        {"fHistTPCdEdxMaxIROC": rootfiles.th1("h", np.full(10, 100.0), flow=(0.0, overflow))},
    )
    _, rows = process(HLTPlugin(), path, "HLT")

    row = rows["fHistTPCdEdxMaxIROC"]
    assert row.quality == quality
    if quality != "good":
        assert f"{overflow / (1000 + overflow):.0%} above" in row.info["check"]
    assert row.info["display"]["show_title"] is True


def test_flow_along_any_axis_of_a_2d_histogram_counts(tmp_path: Path) -> None:
    path = rootfiles.write_file(
        tmp_path / "hlt.root", {"fHistZNA_ZNC": rootfiles.th2("h", np.full((4, 4), 10.0))}
    )
    [hist] = read_file(path).histograms
    hist.contents[0, 2] = 40.0  # x underflow
    hist.contents[3, 5] = 20.0  # y overflow
    hist.contents[0, 5] = 40.0  # both: counted once, as underflow

    total, under, over = out_of_range_fraction(hist)

    assert total == 260.0
    assert (under, over) == (80.0 / 260.0, 20.0 / 260.0)
    plugin = HLTPlugin()
    outcome = plugin.check(hist, context(plugin, "HLT"))
    assert outcome is not None
    assert outcome.quality == "bad"
    plugin.prepare(hist, context(plugin, "HLT"))
    assert hist.draw_options == "colz"


def test_labelled_and_thin_histograms_are_not_judged(tmp_path: Path) -> None:
    path = rootfiles.write_file(
        tmp_path / "hlt.root",
        {
            "fHistTriggerClasses": rootfiles.th1(
                "t", [500.0, 500.0], labels=["CINT7", "CEMC7"], flow=(0.0, 900.0)
            ),
            "fHistTPCtracks": rootfiles.th1("n", [10.0, 10.0], flow=(0.0, 50.0)),
        },
    )
    _, rows = process(HLTPlugin(), path, "HLT")

    assert rows["fHistTriggerClasses"].quality is None
    assert rows["fHistTPCtracks"].quality is None


def test_cluster_and_track_histograms_are_grouped() -> None:
    plugin = HLTPlugin()
    names = [
        "fHistTPCtracks",
        "fHistTPCtracks_SPDclusters",
        "fHistClusterChargeMax",
        "fHistSPDclusters_SPDrawSize",
        "fHistTPCdEdxMaxIROC",
        "fHistHLTInSize_HLTOutSize",
        "fHistTriggerClasses",
    ]
    specs = plugin.groups(names, context(plugin, "HLT"))

    assert [next(s.name for s in specs if s.matches(n)) for n in names] == [
        "TPC tracks",
        "TPC tracks",
        "Clusters",
        "Clusters",
        "TPC dE/dx",
        "Data sizes",
        "Trigger classes",
    ]
