"""The TPC plugin: projections of the track TH3s equal numpy sums of the same bins; DCA check."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from overwatch.detectors import get_plugin
from overwatch.detectors.projection import project
from overwatch.detectors.tpc import TPCPlugin
from overwatch.processing.reader import read_file
from tests import rootfiles
from tests.detectors.helpers import context
from tests.detectors.helpers import process

PREFIX = "TPCQA/h_tpc_track_"


def _random(shape: tuple[int, ...], seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).poisson(3.0, shape).astype(np.float64)


@pytest.fixture
def tpc_file(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray[Any, Any]]]:
    """TH3s on [0, n] axes: (DCA 30, eta 30, phi 18) and (clusters 160, eta 30, pT 25)."""
    values = {
        f"{PREFIX}pos_recvertex_3_5_6": _random((30, 30, 18), 1),
        f"{PREFIX}neg_recvertex_4_5_6": _random((30, 30, 18), 2),
        f"{PREFIX}pos_recvertex_2_5_6": _random((24, 30, 18), 3),
        f"{PREFIX}neg_recvertex_0_5_7": _random((160, 30, 25), 4),
    }
    objects = {name: rootfiles.th3(name.rsplit("/", 1)[1], v) for name, v in values.items()}
    return rootfiles.write_file(tmp_path / "tpc.root", objects), values


def _inner(row: Any) -> np.ndarray[Any, Any]:
    payload = json.loads(gzip.decompress(row.json_gz))
    shape = (payload["fXaxis"]["fNbins"] + 2, payload["fYaxis"]["fNbins"] + 2)
    if payload["_typename"] == "TH1D":
        return np.asarray(payload["fArray"])[1:-1]
    # fArray runs x fastest.
    return np.asarray(payload["fArray"]).reshape(shape[::-1]).T[1:-1, 1:-1]


def test_the_tpc_plugin_serves_tpc_by_default_and_borrows_hlt_files() -> None:
    plugin = get_plugin("TPC")
    assert isinstance(plugin, TPCPlugin)
    assert plugin.source_subsystem == "HLT"


def test_dca_vs_phi_per_side_equals_numpy_sums_of_the_eta_bins(
    tpc_file: tuple[Path, dict[str, np.ndarray[Any, Any]]],
) -> None:
    path, values = tpc_file
    _, rows = process(TPCPlugin(), path, "TPC")

    dcar = values[f"{PREFIX}pos_recvertex_3_5_6"]
    dcaz = values[f"{PREFIX}neg_recvertex_4_5_6"]
    # Project3D("xz"): new x is phi (old z), new y the DCA (old x); A side eta bins 15-29.
    np.testing.assert_array_equal(
        _inner(rows["TPCQA/DCAr_vs_Phi_postracks_aSide"]), dcar[:, 15:30, :].sum(axis=1).T
    )
    np.testing.assert_array_equal(
        _inner(rows["TPCQA/DCAr_vs_Phi_postracks_cSide"]), dcar[:, 0:15, :].sum(axis=1).T
    )
    np.testing.assert_array_equal(
        _inner(rows["TPCQA/DCAz_vs_Phi_negtracks_aSide"]), dcaz[:, 15:30, :].sum(axis=1).T
    )
    assert rows["TPCQA/DCAr_vs_Phi_postracks_aSide"].class_name == "TH2D"
    assert rows["TPCQA/DCAr_vs_Phi_postracks_aSide"].group == "Projections"


def test_eta_vs_phi_sums_every_bin_of_the_third_variable(
    tpc_file: tuple[Path, dict[str, np.ndarray[Any, Any]]],
) -> None:
    path, values = tpc_file
    _, rows = process(TPCPlugin(), path, "TPC")

    np.testing.assert_array_equal(
        _inner(rows["TPCQA/Eta_vs_Phi_postracks"]),
        values[f"{PREFIX}pos_recvertex_2_5_6"].sum(axis=0).T,
    )


def test_pt_and_eta_keep_tracks_with_more_than_70_clusters(
    tpc_file: tuple[Path, dict[str, np.ndarray[Any, Any]]],
) -> None:
    path, values = tpc_file
    _, rows = process(TPCPlugin(), path, "TPC")

    source = values[f"{PREFIX}neg_recvertex_0_5_7"]
    # The original's ProjectionZ(71, 160, 1, 30) and ProjectionY(71, 160, 1, 25), 1-based.
    np.testing.assert_array_equal(
        _inner(rows["TPCQA/pT_negtracks"]), source[70:160, 0:30, :].sum(axis=(0, 1))
    )
    np.testing.assert_array_equal(
        _inner(rows["TPCQA/Eta_negtracks"]), source[70:160, :, 0:25].sum(axis=(0, 2))
    )
    assert "(ncl>70)" in rows["TPCQA/pT_negtracks"].title


def test_a_projection_keeps_flow_bins_and_recomputes_the_statistics(tmp_path: Path) -> None:
    values = _random((4, 5, 6), 9)
    path = rootfiles.write_file(tmp_path / "h.root", {"h3": rootfiles.th3("h3", values)})
    [hist] = read_file(path).histograms
    hist.contents[0, 2, 3] = 7.0  # an x underflow entry: summed when x is projected out

    projected = project(hist, (2, 1), name="p", title="p")

    expected = hist.contents.sum(axis=0).T
    np.testing.assert_array_equal(projected.contents, expected)
    inner = expected[1:-1, 1:-1]
    centres_x = np.arange(6) + 0.5
    assert projected.stats["fTsumw"] == inner.sum()
    assert projected.stats["fTsumwx"] == pytest.approx((inner.sum(axis=1) * centres_x).sum())
    with pytest.raises(ValueError, match="outside"):
        project(hist, (2,), name="p", title="p", ranges={1: (3, 5)})


def _dca_file(tmp_path: Path, shift: float) -> Path:
    centres = np.linspace(-2.9, 2.9, 30)
    counts = np.round(1000 * np.exp(-0.5 * ((centres - shift) / 0.3) ** 2))
    return rootfiles.write_file(
        tmp_path / f"dca{shift}.root",
        {
            f"{PREFIX}all_recvertex_3": rootfiles.th1(
                "h", counts, edges=list(np.linspace(-3, 3, 31))
            ),
            "TPCQA/h_tpc_event_recvertex_3": rootfiles.th1("m", counts),  # a multiplicity
        },
    )


@pytest.mark.parametrize(("shift", "quality"), [(0.0, "good"), (0.15, "medium"), (-0.3, "bad")])
def test_the_mean_dca_is_checked(tmp_path: Path, shift: float, quality: str) -> None:
    _, rows = process(TPCPlugin(), _dca_file(tmp_path, shift), "TPC")

    row = rows[f"{PREFIX}all_recvertex_3"]
    assert row.quality == quality
    assert f"mean DCA_r {shift:+.2f}" in row.info["check"]
    assert rows["TPCQA/h_tpc_event_recvertex_3"].quality is None


def test_too_few_tracks_are_not_judged(tmp_path: Path) -> None:
    path = rootfiles.write_file(
        tmp_path / "few.root", {f"{PREFIX}all_recvertex_4": rootfiles.th1("h", [0, 0, 50, 0, 0])}
    )
    _, rows = process(TPCPlugin(), path, "TPC")

    assert rows[f"{PREFIX}all_recvertex_4"].quality is None


def test_groups_are_the_originals() -> None:
    plugin = TPCPlugin()
    names = [
        "TPCQA/h_tpc_event_recvertex_0",
        f"{PREFIX}all_recvertex_3",
        f"{PREFIX}neg_recvertex_3_5_6",
        f"{PREFIX}pos_recvertex_3_5_6",
        "TPCQA/DCAr_vs_Phi_postracks_aSide",
        "TPCQA/pT_postracks",
        "fHistTPCtracks",
        "fHistZNA_ZNC",
    ]
    specs = plugin.groups(names, context(plugin, "TPC"))
    first = [next(s.name for s in specs if s.matches(n)) for n in names]

    assert first == [
        "TPC Event RecVertex",
        "All RecVertex",
        "Negative RecVertex",
        "Positive RecVertex",
        "Projections",
        "Projections",
        "Other TPC",
        "Non TPC",
    ]
