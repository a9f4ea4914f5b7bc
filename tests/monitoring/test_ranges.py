"""Range checks on histograms written with uproot and read back through overwatch's reader."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from overwatch.histograms.model import Histogram
from overwatch.monitoring.checks import run_check
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.config import load_check_config
from overwatch.monitoring.ranges import statistic
from tests import rootfiles
from tests.monitoring.builders import model_th1
from tests.monitoring.builders import read_back

GRID = np.arange(12, dtype=np.float64).reshape(4, 3)


@pytest.fixture(scope="module")
def hists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Histogram]:
    return read_back(
        tmp_path_factory.mktemp("ranges"),
        {
            "spectrum": rootfiles.th1("spectrum", [0, 4, 10, 4, 0, 2], title="spectrum"),
            "low": rootfiles.th1("low", [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            "high": rootfiles.th1("high", [0] * 11 + [3]),
            "few": rootfiles.th1("few", [10, 20, 7]),
            "empty": rootfiles.th1("empty", [0, 0, 0]),
            "single": rootfiles.th1("single", [5]),
            "nan": rootfiles.th1("nan", [1, np.nan, 3], entries=4),
            "inf": rootfiles.th1("inf", [1, np.inf, 3], entries=4),
            "map": rootfiles.th2("map", GRID),
            "cube": rootfiles.th3("cube", np.arange(24.0).reshape(2, 3, 4)),
            "profile": rootfiles.tprofile("profile", [2.0, 0.0, 9.0], [4.0, 0.0, 30.0], [1.0, 0.0, 3.0]),
        },
    )  # fmt: skip


def spec(kind: str, **fields: Any) -> CheckSpec:
    (only,) = load_check_config(
        {"EMC": [{"kind": kind, "histograms": "*", **fields}]}
    ).for_subsystem("EMC")
    return only


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("entries", 20.0),
        # Bin centres 0.5..5.5 weighted by the contents.
        ("mean", (4 * 1.5 + 10 * 2.5 + 4 * 3.5 + 2 * 5.5) / 20),
        ("maximum", 10.0),
        ("integral", 20.0),
        ("empty_fraction", 2 / 6),
    ],
)
def test_statistics_of_a_1d_histogram(
    hists: dict[str, Histogram], kind: str, expected: float
) -> None:
    assert statistic(hists["spectrum"], kind) == pytest.approx(expected)


def test_rms_is_the_standard_deviation_of_the_bin_centres(hists: dict[str, Histogram]) -> None:
    centres = np.arange(6) + 0.5
    weights = np.array([0, 4, 10, 4, 0, 2])
    mean = np.average(centres, weights=weights)
    rms = np.sqrt(np.average((centres - mean) ** 2, weights=weights))
    assert statistic(hists["spectrum"], "rms") == pytest.approx(rms)
    # Without ROOT's running sums (a histogram built in code) the bins give the same numbers.
    built = model_th1(weights)
    assert statistic(built, "rms") == pytest.approx(rms)
    assert statistic(built, "mean") == pytest.approx(mean)


@pytest.mark.parametrize(
    ("name", "quality", "reason"),
    [
        ("spectrum", "good", "mean 2.8 within the limits (warning 2 to 8, error 1 to 10)"),
        ("high", "bad", "mean 11.5 above the error limit 10 (warning 8)"),
        ("low", "bad", "mean 0.5 below the error limit 1 (warning 2)"),
    ],
)
def test_mean_range_gives_the_quality_and_a_reason_a_shifter_reads(
    hists: dict[str, Histogram], name: str, quality: str, reason: str
) -> None:
    check = spec("mean", warning_min=2, warning_max=8, error_min=1, error_max=10)
    result = run_check(check, hists[name])
    assert (result.quality, result.reason) == (quality, reason)
    assert result.value == pytest.approx(statistic(hists[name], "mean"))


def test_between_warning_and_error_limits_is_medium(hists: dict[str, Histogram]) -> None:
    result = run_check(spec("maximum", warning_max=8, error_max=12), hists["spectrum"])
    assert (result.quality, result.reason) == (
        "medium",
        "maximum 10 above the warning limit 8 (error 12)",
    )
    result = run_check(spec("integral", warning_min=25, error_min=5), hists["spectrum"])
    assert (result.quality, result.reason) == (
        "medium",
        "integral 20 below the warning limit 25 (error 5)",
    )
    # Only error limits: nothing is medium.
    assert run_check(spec("integral", error_min=15), hists["spectrum"]).quality == "good"


def test_empty_fraction_flags_dead_regions(hists: dict[str, Histogram]) -> None:
    result = run_check(spec("empty_fraction", warning_max=0.1, error_max=0.5), hists["low"])
    assert result.quality == "bad"
    assert result.reason == "fraction of empty bins 0.9 above the error limit 0.5 (warning 0.1)"


def test_too_few_entries_is_null_not_bad(hists: dict[str, Histogram]) -> None:
    result = run_check(spec("mean", error_max=0.1, min_entries=100), hists["few"])
    assert result.quality is None
    assert result.reason == "only 37 entries, at least 100 needed to judge"


def test_empty_histogram_is_null_but_an_entries_check_judges_it(
    hists: dict[str, Histogram],
) -> None:
    for kind in ("mean", "rms", "maximum", "integral", "empty_fraction"):
        result = run_check(spec(kind, error_max=1), hists["empty"])
        assert result.quality is None
        assert result.reason.startswith("empty histogram (0 entries)")
    entries = run_check(spec("entries", error_min=1), hists["empty"])
    assert (entries.quality, entries.reason) == ("bad", "entries 0 below the error limit 1")


def test_one_bin_histogram(hists: dict[str, Histogram]) -> None:
    single = hists["single"]
    assert run_check(spec("mean", error_min=0, error_max=1), single).value == pytest.approx(0.5)
    assert run_check(spec("rms", error_max=0.1), single).quality == "good"
    assert run_check(spec("empty_fraction", error_max=0), single).quality == "good"


@pytest.mark.parametrize("name", ["nan", "inf"])
@pytest.mark.parametrize(
    "kind", ["entries", "mean", "rms", "maximum", "integral", "empty_fraction"]
)
def test_nan_or_inf_contents_are_null_with_the_reason(
    hists: dict[str, Histogram], name: str, kind: str
) -> None:
    result = run_check(spec(kind, error_max=1e9), hists[name])
    assert result.quality is None
    assert result.reason == "1 bin hold NaN or infinity: cannot judge"


def test_2d_histograms_use_the_chosen_axis(hists: dict[str, Histogram]) -> None:
    hist = hists["map"]
    y_weights = GRID.sum(axis=0)
    mean_y = np.average(np.arange(3) + 0.5, weights=y_weights)
    result = run_check(spec("mean", axis="y", error_max=100), hist)
    assert result.value == pytest.approx(mean_y)
    assert result.reason.startswith("mean of y ")
    assert statistic(hist, "mean", 0) == pytest.approx(
        np.average(np.arange(4) + 0.5, weights=GRID.sum(axis=1))
    )
    assert statistic(hist, "maximum") == 11.0
    assert statistic(hist, "integral") == GRID.sum()
    assert statistic(hist, "empty_fraction") == pytest.approx(1 / 12)
    missing = run_check(spec("mean", axis="z", error_max=1), hist)
    assert missing.quality is None
    assert missing.reason == "the histogram is 2D: it has no z axis (set axis: x, y)"
    one_d = run_check(spec("rms", axis="y", error_max=1), hists["spectrum"])
    assert one_d.reason == "the histogram is 1D: it has no y axis (set axis: x)"


def test_3d_histogram_mean_along_z(hists: dict[str, Histogram]) -> None:
    cube = np.arange(24.0).reshape(2, 3, 4)
    expected = np.average(np.arange(4) + 0.5, weights=cube.sum(axis=(0, 1)))
    assert statistic(hists["cube"], "mean", 2) == pytest.approx(expected)


def test_profiles_judge_bin_means_and_have_no_integral(hists: dict[str, Histogram]) -> None:
    profile = hists["profile"]
    assert profile.is_profile
    # Bin means 2 and 3 (bin 2 is unfilled): the largest filled mean.
    assert statistic(profile, "maximum") == pytest.approx(3.0)
    assert statistic(profile, "empty_fraction") == pytest.approx(1 / 3)
    # x mean weighted by the bin entries: (0.5*1 + 2.5*3)/4
    assert statistic(profile, "mean") == pytest.approx(2.0)
    integral = run_check(spec("integral", error_max=1), profile)
    assert integral.quality is None
    assert integral.reason == "the integral of a profile (TProfile) is not defined"
