"""Tests for the demo's cumulative histograms, read back with uproot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot

from overwatch.demo.histograms import Axis
from overwatch.demo.histograms import CumulativeHistogram
from overwatch.receivers.writer import write_root_file


def _round_trip(tmp_path: Path, histogram: CumulativeHistogram) -> Any:
    path = write_root_file(tmp_path / "h.root", {histogram.name: histogram.to_root()})
    with uproot.open(path) as f:
        return f[histogram.name]


def test_2d_bins_keep_their_orientation(tmp_path: Path) -> None:
    h = CumulativeHistogram("h", "t", (Axis.regular(4, 0, 4, "col"), Axis.regular(3, 0, 3, "row")))
    h.fill([2.5, 2.5, 0.5], [0.5, 0.5, 2.5])

    read = _round_trip(tmp_path, h)

    assert read.classname == "TH2D"
    assert read.values()[2, 0] == 2
    assert read.values()[0, 2] == 1
    np.testing.assert_array_equal(read.values(), h.values())
    assert read.axis(0).member("fTitle") == "col"
    assert read.member("fTsumwxy") == pytest.approx(2 * 2.5 * 0.5 + 0.5 * 2.5)


def test_3d_bins_keep_their_orientation(tmp_path: Path) -> None:
    axes = (Axis.regular(2, 0, 2), Axis.regular(3, 0, 3), Axis.regular(4, 0, 4))
    h = CumulativeHistogram("dir/h3", "t", axes)
    h.fill([1.5], [0.5], [3.5])

    read = _round_trip(tmp_path, h)

    assert read.classname == "TH3D"
    assert read.values().shape == (2, 3, 4)
    assert read.values()[1, 0, 3] == 1
    assert read.values().sum() == 1


def test_out_of_range_entries_go_to_flow_bins_and_not_into_the_mean(tmp_path: Path) -> None:
    h = CumulativeHistogram("h", "t", (Axis.regular(10, 0, 10),), single_precision=True)
    h.fill([-1.0, 3.5, 3.5, 10.0, 12.0])  # the upper edge belongs to the overflow, as in ROOT

    read = _round_trip(tmp_path, h)

    assert read.classname == "TH1F"
    np.testing.assert_array_equal(read.values(flow=True)[[0, 4, 11]], [1, 2, 2])
    assert read.member("fEntries") == 5
    assert read.member("fTsumw") == 2
    assert read.member("fTsumwx") / read.member("fTsumw") == pytest.approx(3.5)


def test_uniform_bin_numbers_agree_with_a_binary_search() -> None:
    axis = Axis.regular(37, -2.5, 7.1)
    values = np.random.default_rng(3).uniform(-4, 9, 10_000)

    expected = np.searchsorted(axis.edges, values, side="right")

    # Exactly on an edge, floating point may round either way; nowhere else.
    on_edge = np.isclose(values[:, None], axis.edges[None, :], atol=1e-9).any(axis=1)
    np.testing.assert_array_equal(axis.bin_numbers(values)[~on_edge], expected[~on_edge])
    assert axis.bin_numbers(np.array([np.nan]))[0] == axis.bins + 1


def test_variable_bins_are_stored_with_their_edges(tmp_path: Path) -> None:
    h = CumulativeHistogram("h", "t", (Axis.variable([0, 1, 5, 50], "p_{T}"),))
    h.fill([0.5, 2.0, 20.0, 20.0])

    read = _round_trip(tmp_path, h)

    np.testing.assert_array_equal(read.axis().edges(), [0, 1, 5, 50])
    np.testing.assert_array_equal(read.values(), [1, 1, 2])


def test_labels_are_stored_on_the_axis(tmp_path: Path) -> None:
    h = CumulativeHistogram("h", "t", (Axis.labelled(["CINT7", "CEMC7", "CDMC7"], "class"),))
    h.add_bins([5, 0, 2])

    read = _round_trip(tmp_path, h)

    assert read.axis().labels() == ["CINT7", "CEMC7", "CDMC7"]
    np.testing.assert_array_equal(read.values(), [5, 0, 2])
    assert read.member("fEntries") == 7


def test_weighted_fills_keep_sums_of_squared_weights(tmp_path: Path) -> None:
    h = CumulativeHistogram("h", "t", (Axis.regular(2, 0, 2),))
    h.fill([0.5])  # unweighted first: its squared weight is 1
    h.fill([0.5, 1.5], weights=[2.0, 3.0])
    h.add_bins([1.0, 0.0], sumw2=[4.0, 0.0], entries=1)

    read = _round_trip(tmp_path, h)

    np.testing.assert_array_equal(read.values(), [4.0, 3.0])
    np.testing.assert_array_equal(read.variances(), [1 + 4 + 4, 9])
    assert read.member("fEntries") == 4
    assert read.member("fTsumw2") == pytest.approx(18)


def test_profiles_store_means_and_spreads(tmp_path: Path) -> None:
    h = CumulativeHistogram("p", "t", (Axis.regular(2, 0, 2, "x"),), profile=True)
    h.fill([0.5, 0.5, 1.5], [1.0, 3.0, 10.0])

    read = _round_trip(tmp_path, h)

    assert read.classname == "TProfile"
    np.testing.assert_allclose(read.values(), [2.0, 10.0])
    np.testing.assert_allclose(h.values(), [2.0, 10.0])
    # Spread of (1, 3) is 1, error on the mean 1 / sqrt(2).
    assert read.errors()[0] == pytest.approx(1 / np.sqrt(2))
    np.testing.assert_array_equal(np.asarray(read.member("fBinEntries"))[1:3], [2, 1])
    assert read.member("fTsumwy") == pytest.approx(14.0)


def test_snapshots_do_not_change_when_filling_goes_on(tmp_path: Path) -> None:
    h = CumulativeHistogram("h", "t", (Axis.regular(2, 0, 2),))
    h.fill([0.5])
    snapshot = h.to_root()
    h.fill([0.5, 1.5])

    path = write_root_file(tmp_path / "s.root", {"before": snapshot, "after": h.to_root()})

    with uproot.open(path) as f:
        np.testing.assert_array_equal(f["before"].values(), [1, 0])
        np.testing.assert_array_equal(f["after"].values(), [2, 1])


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: CumulativeHistogram("h", "t", ()), ValueError),
        (lambda: CumulativeHistogram("h", "t", (Axis.regular(1, 0, 1),) * 4), ValueError),
        (
            lambda: CumulativeHistogram("h", "t", (Axis.regular(1, 0, 1),) * 2, profile=True),
            ValueError,
        ),
        (lambda: Axis.variable([0, 2, 1]), ValueError),
        (lambda: Axis.variable([1]), ValueError),
        (
            lambda: CumulativeHistogram("h", "t", (Axis.regular(1, 0, 1),), profile=True).add_bins(
                [1]
            ),
            TypeError,
        ),
        (
            lambda: CumulativeHistogram("h", "t", (Axis.regular(1, 0, 1),) * 2).fill([0.5]),
            ValueError,
        ),
    ],
)
def test_rejects_what_root_could_not_represent(make: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        make()
