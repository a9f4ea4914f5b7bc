"""merge and subtract: hadd semantics for sums, cumulative differences for time slices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from overwatch.histograms.combine import IncompatibleHistogramsError
from overwatch.histograms.combine import merge
from overwatch.histograms.combine import subtract
from overwatch.histograms.model import Axis
from overwatch.histograms.model import Histogram
from overwatch.processing.jsroot import to_jsroot_json
from overwatch.processing.reader import read_file
from tests import rootfiles


def _th1(values: list[float], sumw2: list[float] | None = None, entries: float = 0.0) -> Histogram:
    contents = np.array([0.0, *values, 0.0], dtype=np.float32)
    return Histogram(
        "h", "TH1F", "t", (Axis.regular(len(values), 0.0, 1.0),), contents,
        sumw2=None if sumw2 is None else np.array([0.0, *sumw2, 0.0]),
        entries=entries or float(sum(values)),
        stats={"fTsumw": float(sum(values)), "fTsumw2": 1.0, "fTsumwx": 2.0, "fTsumwx2": 3.0},
    )  # fmt: skip


def test_merge_adds_contents_entries_and_stats() -> None:
    total = merge([_th1([1, 2]), _th1([3, 4]), _th1([5, 6])])
    np.testing.assert_array_equal(total.contents, [0, 9, 12, 0])
    assert total.contents.dtype == np.float32
    assert total.entries == 21.0
    assert total.stats == {"fTsumw": 21.0, "fTsumw2": 3.0, "fTsumwx": 6.0, "fTsumwx2": 9.0}
    assert total.sumw2 is None


def test_merge_builds_sumw2_when_any_input_is_weighted() -> None:
    total = merge([_th1([1, 2]), _th1([3, 4], sumw2=[0.5, 0.25])])
    np.testing.assert_array_equal(total.sumw2, [0, 1.5, 2.25, 0])


def test_merge_does_not_modify_inputs() -> None:
    first = _th1([1, 2])
    merge([first, _th1([3, 4])])
    np.testing.assert_array_equal(first.contents, [0, 1, 2, 0])
    assert first.entries == 3.0


def test_merge_rejects_incompatible_binning() -> None:
    other = _th1([1, 2, 3])
    with pytest.raises(IncompatibleHistogramsError, match="x axis has 3 bins"):
        merge([_th1([1, 2]), other])
    shifted = _th1([1, 2])
    shifted.axes = (Axis.regular(2, 0.0, 2.0),)
    with pytest.raises(IncompatibleHistogramsError):
        merge([_th1([1, 2]), shifted])


def test_merge_rejects_different_labels_and_dimensions(tmp_path: Path) -> None:
    labelled = _th1([1, 2])
    labelled.axes = (Axis.regular(2, 0.0, 1.0, labels={1: "a", 2: "b"}),)
    with pytest.raises(IncompatibleHistogramsError, match="labels"):
        merge([_th1([1, 2]), labelled])
    hists = read_file(rootfiles.write_sample_file(tmp_path / "s.root")).by_name()
    with pytest.raises(IncompatibleHistogramsError):
        merge([hists["flat"], hists["EMC/deeper/map"]])
    with pytest.raises(ValueError, match="at least one"):
        merge([])


def test_merge_profiles_adds_bin_entries(tmp_path: Path) -> None:
    profile = read_file(rootfiles.write_sample_file(tmp_path / "s.root")).by_name()["TPC/profile"]
    total = merge([profile, profile])
    np.testing.assert_array_equal(total.bin_entries, [0, 2, 4, 0])
    np.testing.assert_array_equal(total.values(), profile.values())
    assert total.stats["fTsumwy"] == 16.0
    assert total.entries == 2 * profile.entries


def test_subtract_gives_the_time_slice() -> None:
    older = _th1([1, 2], sumw2=[1, 2], entries=3)
    newer = _th1([4, 2], sumw2=[4, 2 - 1e-12], entries=6)
    piece = subtract(newer, older)
    np.testing.assert_array_equal(piece.contents, [0, 3, 0, 0])
    np.testing.assert_array_equal(piece.sumw2, [0, 3, 0, 0])  # tiny negative clipped
    assert piece.entries == 3.0
    assert piece.stats["fTsumw"] == 3.0
    assert piece.stats["fTsumwx"] == 0.0


def test_subtract_profiles(tmp_path: Path) -> None:
    profile = read_file(rootfiles.write_sample_file(tmp_path / "s.root")).by_name()["TPC/profile"]
    doubled = merge([profile, profile])
    piece = subtract(doubled, profile)
    np.testing.assert_array_equal(piece.bin_entries, profile.bin_entries)
    np.testing.assert_array_equal(piece.contents, profile.contents)
    assert piece.stats == profile.stats


def test_merge_matches_root_hadd(tmp_path: Path) -> None:
    root = pytest.importorskip("ROOT")
    path = rootfiles.write_with_root(root, tmp_path / "r.root")
    hists = read_file(path).by_name()
    handle = root.TFile.Open(str(path))
    for name in ("variable", "h2F", "profile_weighted", "profile2d"):
        ours = json.loads(to_jsroot_json(merge([hists[name], hists[name]])))
        theirs_hist = handle.Get(name).Clone(name + "_sum")
        others = root.TList()
        others.Add(handle.Get(name))
        theirs_hist.Merge(others)
        theirs = json.loads(str(root.TBufferJSON.ToJSON(theirs_hist).Data()))
        for key in ("fArray", "fSumw2", "fEntries", "fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-6, err_msg=f"{name} {key}")
        if "fBinEntries" in theirs:
            np.testing.assert_allclose(ours["fBinEntries"], theirs["fBinEntries"], rtol=1e-12)
            np.testing.assert_allclose(ours["fBinSumw2"], theirs["fBinSumw2"], rtol=1e-12)
    handle.Close()
