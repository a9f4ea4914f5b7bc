"""read_file: every histogram class, directories, containers, cycles, filters, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skhep_testdata
import uproot

from overwatch.processing.conversion import histogram_from_members
from overwatch.processing.conversion import members_from_model
from overwatch.processing.reader import CorruptFileError
from overwatch.processing.reader import Unconvertible
from overwatch.processing.reader import read_file
from tests import rootfiles


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rootfiles.write_sample_file(tmp_path_factory.mktemp("sample") / "sample.root")


def test_reads_every_histogram_with_paths_and_classes(sample: Path) -> None:
    result = read_file(sample)
    assert [(h.name, h.class_name) for h in result.histograms] == [
        ("flat", "TH1F"),
        ("EMC/variable", "TH1F"),
        ("EMC/weighted", "TH1D"),
        ("EMC/labelled", "TH1I"),
        ("EMC/deeper/map", "TH2F"),
        ("EMC/deeper/short", "TH1S"),
        ("EMC/deeper/char", "TH1C"),
        ("TPC/cube", "TH3D"),
        ("TPC/profile", "TProfile"),
        ("TPC/profile2d", "TProfile2D"),
        ("lists/inlist", "TH1F"),
        ("lists/inner/nested", "TH1F"),
    ]
    assert result.unconvertible == [Unconvertible("notes", "TObjString", "not a histogram")]


def test_contents_include_flow_bins_and_native_dtype(sample: Path) -> None:
    hists = read_file(sample).by_name()
    flat = hists["flat"]
    assert flat.contents.dtype == np.float32
    np.testing.assert_array_equal(flat.contents, [5, 1, 2, 3, 4, 6])
    np.testing.assert_array_equal(flat.values(), [1, 2, 3, 4])
    assert flat.title == "Flat;x [cm];counts"
    assert flat.object_name == "flat"
    assert flat.entries == 21.0
    assert flat.sumw2 is None
    assert hists["EMC/deeper/short"].contents.dtype == np.int16
    assert hists["EMC/deeper/char"].contents.dtype == np.int8
    assert hists["EMC/labelled"].contents.dtype == np.int32


def test_variable_bins_and_labels(sample: Path) -> None:
    hists = read_file(sample).by_name()
    variable = hists["EMC/variable"].axes[0]
    assert not variable.is_uniform
    np.testing.assert_array_equal(variable.edges, [0.0, 1.0, 2.5, 10.0])
    uniform = hists["flat"].axes[0]
    assert uniform.is_uniform
    np.testing.assert_array_equal(uniform.edges, [0, 1, 2, 3, 4])
    assert hists["EMC/labelled"].axes[0].labels == {1: "good", 2: "bad", 3: "ugly"}


def test_weighted_histogram_keeps_sumw2(sample: Path) -> None:
    weighted = read_file(sample).by_name()["EMC/weighted"]
    assert weighted.sumw2 is not None
    np.testing.assert_array_equal(weighted.sumw2, [0, 1.25, 3.25, 0])
    np.testing.assert_allclose(weighted.errors(), np.sqrt([1.25, 3.25]))


def test_two_and_three_dimensional_layout_is_x_y_z(sample: Path) -> None:
    hists = read_file(sample).by_name()
    grid = np.arange(12.0).reshape(4, 3)
    hmap = hists["EMC/deeper/map"]
    assert hmap.contents.shape == (6, 5)
    np.testing.assert_array_equal(hmap.values(), grid)
    assert hmap.stats["fTsumwy"] == pytest.approx(float((grid * np.array([0.5, 1.5, 2.5])).sum()))
    cube = hists["TPC/cube"]
    assert cube.contents.shape == (4, 5, 6)
    np.testing.assert_array_equal(cube.values(), np.arange(24.0).reshape(2, 3, 4))


def test_profiles_keep_bin_entries_and_give_means(sample: Path) -> None:
    hists = read_file(sample).by_name()
    profile = hists["TPC/profile"]
    np.testing.assert_array_equal(profile.bin_entries, [0, 1, 2, 0])
    np.testing.assert_array_equal(profile.values(), [2.0, 3.0])
    assert profile.stats["fTsumwy"] == 8.0
    assert profile.stats["fTsumwy2"] == 24.0
    # bin 2: mean 3, spread sqrt(20/2 - 9) = 1, error of the mean 1/sqrt(2)
    np.testing.assert_allclose(profile.errors(), [0.0, 1 / np.sqrt(2)])
    profile2d = hists["TPC/profile2d"]
    expected = np.where(np.arange(12.0).reshape(4, 3) > 0, 2.0, 0.0)
    np.testing.assert_array_equal(profile2d.values(), expected)


def test_only_the_highest_cycle_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cycles.root"
    with uproot.recreate(path) as file:
        file["h"] = rootfiles.th1("h", [1, 1])
        file["h"] = rootfiles.th1("h", [2, 2])
    assert len(uproot.open(path).keys(cycle=True)) == 2
    result = read_file(path)
    assert [h.name for h in result.histograms] == ["h"]
    np.testing.assert_array_equal(result.histograms[0].values(), [2, 2])


def test_names_filter_reads_only_selected_paths(sample: Path) -> None:
    result = read_file(sample, names=["EMC/deeper", "flat", "lists/inner/nested"])
    assert [h.name for h in result.histograms] == [
        "flat",
        "EMC/deeper/map",
        "EMC/deeper/short",
        "EMC/deeper/char",
        "lists/inner/nested",
    ]
    assert result.unconvertible == []


def test_fast_decoder_matches_uproot_models_on_real_files() -> None:
    path = skhep_testdata.data_path("uproot-hepdata-example.root")
    fast = read_file(path).by_name()
    with uproot.open(path) as file:
        for name in ("hpx", "hpxpy", "hprof"):
            slow = histogram_from_members(name, members_from_model(file[name]))
            ours = fast[name]
            np.testing.assert_array_equal(ours.contents, slow.contents)
            assert ours.stats == slow.stats
            assert ours.entries == slow.entries
            assert ours.title == slow.title
        expected = file["hpx"].values(flow=True)
    np.testing.assert_array_equal(fast["hpx"].values(flow=True), expected)


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("uproot-hepdata-example.root", {"hpx": "TH1F", "hpxpy": "TH2F", "hprof": "TProfile"}),
        ("uproot-issue-227a.root", {"hprof2d": "TProfile2D"}),
        ("uproot-issue-227b.root", {"hprof3d": "TProfile3D"}),
        ("uproot-histograms.root", {"one": "TH1F", "two": "TH1F", "three": "TH1F"}),
    ],
)
def test_real_files_from_scikit_hep_testdata(filename: str, expected: dict[str, str]) -> None:
    path = skhep_testdata.data_path(filename)
    result = read_file(path)
    assert {h.name: h.class_name for h in result.histograms} == expected
    with uproot.open(path) as file:
        for hist in result.histograms:
            np.testing.assert_allclose(hist.values(flow=True), file[hist.name].values(flow=True))


def test_containers_from_root_written_file_are_walked() -> None:
    result = read_file(skhep_testdata.data_path("uproot-issue327.root"))
    names = [h.name for h in result.histograms]
    assert names[:4] == [
        "EventStats/EventStatistics",
        "EventStats/TRDEventStatistics",
        "EventStats/EMCalEventStatistics",
        "EventStats/EventStatVsCent/V0M",
    ]
    labels = result.by_name()["EventStats/EventStatistics"].axes[0].labels
    assert labels is not None
    assert labels[1] == "All events"
    assert result.unconvertible == [Unconvertible("DstTree", "TTree", "not a histogram")]


def test_drawable_non_histograms_are_recorded_with_their_json() -> None:
    result = read_file(skhep_testdata.data_path("uproot-issue38c.root"))
    assert [h.name for h in result.histograms] == ["h_den", "h_num"]
    [item] = result.unconvertible
    assert (item.name, item.class_name, item.reason) == (
        "TEfficiencyName",
        "TEfficiency",
        "not a histogram",
    )
    assert item.drawable is not None
    assert item.drawable.title == "TEfficiencyTitle"
    assert item.drawable.tree["fPassedHistogram"]["_typename"].startswith("TH1")
    assert result.errors == []


def test_stored_fit_functions_are_kept() -> None:
    hpx = read_file(skhep_testdata.data_path("uproot-hepdata-example.root")).by_name()["hpx"]
    assert [item["_typename"] for item in hpx.functions["arr"]] == ["TPaveStats"]
    assert "dropped_functions" not in hpx.metadata


@pytest.mark.parametrize(
    "content", [b"", b"not a root file at all" * 10, b"root\x00\x00\xf4\x2c" + b"\x00" * 20]
)
def test_unreadable_file_raises_corrupt_file_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.root"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError) as info:
        read_file(path)
    assert info.value.path == str(path)
    assert info.value.reason


def test_truncated_file_raises_corrupt_file_error(tmp_path: Path, sample: Path) -> None:
    path = tmp_path / "truncated.root"
    path.write_bytes(sample.read_bytes()[:300])
    with pytest.raises(CorruptFileError):
        read_file(path)


def test_missing_file_is_not_reported_as_corrupt(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "absent.root")


def test_root_written_file_with_every_class_and_container(tmp_path: Path) -> None:
    root = pytest.importorskip("ROOT")
    result = read_file(rootfiles.write_with_root(root, tmp_path / "root.root"))
    classes = {h.name: h.class_name for h in result.histograms}
    for kind in "CSILFD":
        assert classes[f"h1{kind}"] == f"TH1{kind}"
        assert classes[f"h3{kind}"] == f"TH3{kind}"
    assert classes["alist/innerlist/innerhist"] == "TH2D"
    assert classes["anarray/arrayprofile"] == "TProfile"
    assert classes["EMC/deeper/indir"] == "TH1F"
    assert [(u.name, u.class_name) for u in result.unconvertible] == [
        ("graph", "TGraph"),
        ("canvas", "TCanvas"),
        ("efficiency", "TEfficiency"),
        ("sparse", "THnSparseT<TArrayD>"),
    ]
    hists = result.by_name()
    assert hists["fitted"].metadata == {}
    assert [f["_typename"] for f in hists["fitted"].functions["arr"]] == ["TF1"]
    assert hists["profile_weighted"].bin_sumw2 is not None
    assert hists["profile_weighted"].error_mode == 1
    assert hists["labelled2d"].axes[1].labels == {2: "second"}


def test_histograms_with_identical_axes_get_axes_of_their_own(tmp_path: Path) -> None:
    # The conversion of an axis shared byte for byte is remembered; each histogram
    # must still own its Axis, since plugins edit axes of the histograms they get.
    path = rootfiles.write_th1_file(tmp_path / "same_axes.root", count=3, nbins=20)
    first = read_file(path).by_name()
    again = read_file(path).by_name()
    axes = [h.axes[0] for h in (*first.values(), *again.values())]
    assert len({id(axis) for axis in axes}) == len(axes)
    assert len({id(axis.attributes) for axis in axes}) == len(axes)
    first["h0"].axes[0].title = "changed by a plugin"
    first["h0"].axes[0].attributes["fNdivisions"] = 7
    assert first["h1"].axes[0].title == again["h0"].axes[0].title == ""
    assert first["h1"].axes[0].attributes["fNdivisions"] == 510
    assert first["h1"].axes[0] == again["h1"].axes[0]
    fresh = read_file(path).by_name()["h2"].axes[0]
    assert fresh.title == ""
    assert fresh.attributes["fNdivisions"] == 510
