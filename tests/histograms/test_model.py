"""Histogram model: plugin-facing accessors, scale as ROOT does it, copy and pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.histograms.model import stat_names
from overwatch.processing.reader import read_file
from tests import rootfiles


@pytest.fixture(scope="module")
def hists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Histogram]:
    path = rootfiles.write_sample_file(tmp_path_factory.mktemp("h") / "s.root")
    return read_file(path).by_name()


def test_axis_properties() -> None:
    axis = Axis.from_edges([0.0, 1.0, 3.0])
    assert axis.nbins == 2
    assert not axis.is_uniform
    np.testing.assert_array_equal(axis.centers, [0.5, 2.0])
    np.testing.assert_array_equal(axis.widths, [1.0, 2.0])
    assert Axis.regular(2, 0.0, 3.0).is_uniform
    assert axis.same_binning(Axis.regular(2, 0.0, 3.0)) is False
    assert Axis.regular(2, 0.0, 2.0).same_binning(Axis.from_edges([0.0, 1.0, 2.0]))


def test_contents_must_match_axes() -> None:
    with pytest.raises(ValueError, match="does not match axes"):
        Histogram("h", "TH1D", "", (Axis.regular(3, 0, 1),), np.zeros(4))


def test_stat_names_per_class() -> None:
    assert stat_names("TH1F") == ("fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2")
    assert stat_names("TH2D")[-3:] == ("fTsumwy", "fTsumwy2", "fTsumwxy")
    assert stat_names("TProfile")[-2:] == ("fTsumwy", "fTsumwy2")
    assert stat_names("TProfile2D")[-2:] == ("fTsumwz", "fTsumwz2")
    assert stat_names("TProfile3D")[-2:] == ("fTsumwt", "fTsumwt2")


def test_values_errors_and_ndim(hists: dict[str, Histogram]) -> None:
    flat = hists["flat"]
    assert flat.ndim == 1
    assert flat.values().dtype == np.float64
    np.testing.assert_array_equal(flat.values(), [1, 2, 3, 4])
    np.testing.assert_array_equal(flat.errors(), np.sqrt([1, 2, 3, 4]))
    np.testing.assert_array_equal(flat.values(flow=True), [5, 1, 2, 3, 4, 6])
    assert hists["TPC/cube"].ndim == 3
    assert hists["EMC/deeper/map"].values().shape == (4, 3)


def test_scale_adds_sumw2_and_scales_stats(hists: dict[str, Histogram]) -> None:
    flat = hists["flat"].copy()
    before = dict(flat.stats)
    flat.scale(2.0)
    np.testing.assert_array_equal(flat.contents, [10, 2, 4, 6, 8, 12])
    np.testing.assert_array_equal(flat.sumw2, [20, 4, 8, 12, 16, 24])
    np.testing.assert_allclose(flat.errors(), 2 * np.sqrt([1, 2, 3, 4]))
    assert flat.stats["fTsumw"] == 2 * before["fTsumw"]
    assert flat.stats["fTsumw2"] == 4 * before["fTsumw2"]
    assert flat.stats["fTsumwx"] == 2 * before["fTsumwx"]
    assert flat.entries == hists["flat"].entries
    assert hists["flat"].sumw2 is None  # the copy was scaled, not the original


def test_scale_profile_scales_the_means(hists: dict[str, Histogram]) -> None:
    profile = hists["TPC/profile"].copy()
    profile.scale(3.0)
    np.testing.assert_array_equal(profile.values(), [6.0, 9.0])
    np.testing.assert_array_equal(profile.bin_entries, hists["TPC/profile"].bin_entries)
    assert profile.stats["fTsumwy"] == 24.0
    assert profile.stats["fTsumwy2"] == 216.0


def test_scale_matches_root(tmp_path: Path) -> None:
    root = pytest.importorskip("ROOT")
    path = rootfiles.write_with_root(root, tmp_path / "r.root")
    ours = read_file(path).by_name()
    handle = root.TFile.Open(str(path))
    for name in ("h1F", "variable", "h2D", "profile_weighted"):
        hist = ours[name].copy()
        hist.scale(0.5)
        theirs = handle.Get(name)
        theirs.Scale(0.5)
        flat = np.ravel(hist.contents, order="F")
        for cell in range(theirs.GetNcells()):
            assert flat[cell] == pytest.approx(theirs.GetArray()[cell], rel=1e-6)
        errors = hist.errors(flow=True).ravel(order="F")
        expected = [theirs.GetBinError(cell) for cell in range(theirs.GetNcells())]
        np.testing.assert_allclose(errors, expected, rtol=1e-6, err_msg=name)
        stats = np.zeros(13)
        theirs.GetStats(stats)
        assert [hist.stats[n] for n in stat_names(hist.class_name)[:4]] == pytest.approx(
            list(stats[:4]), rel=1e-9
        )
    handle.Close()


def test_profile_errors_match_root(tmp_path: Path) -> None:
    root = pytest.importorskip("ROOT")
    path = rootfiles.write_with_root(root, tmp_path / "r.root")
    handle = root.TFile.Open(str(path))
    for name in ("profile_weighted", "anarray/arrayprofile"):
        ours = read_file(path).by_name()[name]
        theirs = handle.Get(name) or handle.Get("anarray").FindObject("arrayprofile")
        expected = [theirs.GetBinError(b) for b in range(1, theirs.GetNbinsX() + 1)]
        means = [theirs.GetBinContent(b) for b in range(1, theirs.GetNbinsX() + 1)]
        np.testing.assert_allclose(ours.values(), means, rtol=1e-12)
        nonzero = np.array(expected) > 0  # ROOT substitutes an average for zero-spread bins
        np.testing.assert_allclose(ours.errors()[nonzero], np.array(expected)[nonzero], rtol=1e-9)
    handle.Close()


def test_copy_is_deep_and_pickle_round_trips(hists: dict[str, Histogram]) -> None:
    original = hists["EMC/labelled"]
    clone = original.copy()
    clone.contents[1] = 99
    clone.axes[0].labels[1] = "changed"  # type: ignore[index]
    clone.metadata["note"] = "x"
    assert original.contents[1] == 7
    assert original.axes[0].labels == {1: "good", 2: "bad", 3: "ugly"}
    assert original.metadata == {}
    restored = pickle.loads(pickle.dumps(original))
    np.testing.assert_array_equal(restored.contents, original.contents)
    assert restored.axes[0].labels == original.axes[0].labels
    assert restored.stats == original.stats
    assert restored.name == "EMC/labelled"


def test_draw_options_and_metadata_are_free_for_plugins(hists: dict[str, Histogram]) -> None:
    hist = hists["EMC/deeper/map"].copy()
    hist.draw_options = "colz"
    hist.metadata["quality"] = "good"
    assert hist.option == ""  # fOption stays what the file had
