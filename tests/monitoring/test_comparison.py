"""Reference comparisons: χ²/ndf, Kolmogorov, largest deviation, and references that do not fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from overwatch.histograms.model import Histogram
from overwatch.monitoring.checks import run_check
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.config import load_check_config
from tests import rootfiles
from tests.monitoring.builders import model_th1
from tests.monitoring.builders import read_back
from tests.monitoring.builders import sampled


def spec(kind: str, **fields: Any) -> CheckSpec:
    config = load_check_config({"EMC": [{"kind": kind, "histograms": "*", **fields}]})
    return config.for_subsystem("EMC")[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Histogram]:
    rng = np.random.default_rng(11)
    spike = sampled(rng, 20_000).astype(float)
    spike[37] += 300
    return read_back(
        tmp_path_factory.mktemp("comparison"),
        {
            "ref/h": rootfiles.th1("h", sampled(rng, 60_000)),
            "same/h": rootfiles.th1("h", sampled(rng, 20_000)),
            "shifted/h": rootfiles.th1("h", sampled(rng, 20_000, mean=52.0)),
            "spike/h": rootfiles.th1("h", spike),
            "coarse/h": rootfiles.th1("h", sampled(rng, 20_000, bins=50)),
            "map/h": rootfiles.th2("h", rng.poisson(50, size=(10, 10))),
            "profile/h": rootfiles.tprofile("h", [2.0, 6.0], [4.0, 20.0], [1.0, 2.0]),
            "profile_ref/h": rootfiles.tprofile("h", [3.0, 6.0], [9.0, 20.0], [1.0, 2.0]),
            "nan/h": rootfiles.th1("h", [1.0, np.nan] + [1.0] * 98, entries=99),
            "few/h": rootfiles.th1("h", [1.0, 0.0] + [0.0] * 98),
        },
    )


@pytest.mark.parametrize("kind", ["chi2", "kolmogorov", "max_deviation"])
def test_a_sample_of_the_reference_is_good_and_a_shifted_one_bad(
    runs: dict[str, Histogram], kind: str
) -> None:
    good = run_check(spec(kind), runs["same/h"], [runs["ref/h"]])
    assert good.quality == "good", good.reason
    bad = run_check(spec(kind), runs["shifted/h"], [runs["ref/h"]])
    assert bad.quality == "bad", bad.reason


def test_chi2_per_degree_of_freedom_by_hand() -> None:
    hist = model_th1([10, 30])
    # Normalised: the reference (40, 40) scales by 1/2 to (20, 20) with variances (10, 10):
    # χ² = 10²/(10 + 10) + 10²/(30 + 10) = 7.5 for one degree of freedom.
    result = run_check(spec("chi2"), hist, [model_th1([40, 40])])
    assert result.value == pytest.approx(7.5)
    assert result.quality == "bad"
    assert result.reason == (
        "χ²/ndf 7.5 above the error limit 5 (warning 2); "
        "χ² 7.5 for 1 degrees of freedom against the reference"
    )
    # Not normalised: 30²/(10 + 40) + 10²/(30 + 40) over two degrees of freedom.
    raw = run_check(
        spec("chi2", normalize=False, warning=20, error=30), hist, [model_th1([40, 40])]
    )
    assert raw.value == pytest.approx((900 / 50 + 100 / 70) / 2)
    assert raw.quality == "good"


def test_chi2_thresholds_give_medium(runs: dict[str, Histogram]) -> None:
    value = run_check(spec("chi2"), runs["shifted/h"], [runs["ref/h"]]).value
    assert value is not None
    medium = run_check(
        spec("chi2", warning=value - 1, error=value + 1), runs["shifted/h"], [runs["ref/h"]]
    )
    assert medium.quality == "medium"
    assert medium.reason.startswith(f"χ²/ndf {value:.4g} above the warning limit")


def test_one_bin_normalised_leaves_no_degree_of_freedom() -> None:
    result = run_check(spec("chi2"), model_th1([5]), [model_th1([7])])
    assert result.quality is None
    assert result.reason == "only 1 bin(s) with contents: no degrees of freedom left"
    ks = run_check(spec("kolmogorov"), model_th1([5]), [model_th1([7])])
    assert (ks.quality, ks.reason) == (None, "one bin: there is no distribution to compare")


def test_kolmogorov_distance_and_probability() -> None:
    # All entries in the first bin against all in the second: the distributions never meet.
    hist, reference = model_th1([100, 0]), model_th1([0, 100])
    distance = run_check(spec("kolmogorov", statistic="distance"), hist, [reference])
    assert distance.value == pytest.approx(1.0)
    assert distance.quality == "bad"
    probability = run_check(spec("kolmogorov"), hist, [reference])
    assert probability.quality == "bad"
    assert probability.value == pytest.approx(0.0, abs=1e-12)
    assert probability.reason.startswith("Kolmogorov probability")
    same = run_check(spec("kolmogorov"), model_th1([50, 50]), [model_th1([500, 500])])
    assert (same.quality, same.value) == ("good", 1.0)


def test_kolmogorov_needs_a_1d_count_histogram(runs: dict[str, Histogram]) -> None:
    two_d = run_check(spec("kolmogorov"), runs["map/h"], [runs["map/h"]])
    assert (two_d.quality, two_d.reason) == (
        None,
        "the Kolmogorov test needs a 1D histogram, this one is 2D",
    )
    profile = run_check(spec("kolmogorov"), runs["profile/h"], [runs["profile_ref/h"]])
    assert profile.reason == "the Kolmogorov test needs counts, not a TProfile"


def test_largest_deviation_names_the_bin(runs: dict[str, Histogram]) -> None:
    result = run_check(spec("max_deviation"), runs["spike/h"], [runs["ref/h"]])
    assert result.quality == "bad"
    assert result.reason.startswith("largest deviation from the reference (at x = 37.5) ")
    assert "above the error limit 6σ (warning 4σ)" in result.reason


def test_2d_histograms_compare_cell_by_cell(runs: dict[str, Histogram]) -> None:
    assert run_check(spec("chi2"), runs["map/h"], [runs["map/h"]]).value == pytest.approx(0.0)
    assert run_check(spec("max_deviation"), runs["map/h"], [runs["map/h"]]).quality == "good"


def test_profiles_compare_bin_means_with_their_errors(runs: dict[str, Histogram]) -> None:
    profile, reference = runs["profile/h"], runs["profile_ref/h"]
    result = run_check(spec("chi2", warning=100, error=200), profile, [reference])
    values, ref_values = profile.values(), reference.values()
    sigma2 = profile.variances() + reference.variances()
    used = sigma2 > 0
    expected = float(np.sum((values - ref_values)[used] ** 2 / sigma2[used])) / int(used.sum())
    assert result.value == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["chi2", "kolmogorov", "max_deviation", "pull"])
def test_references_that_do_not_fit_are_null_with_the_reason(
    runs: dict[str, Histogram], kind: str
) -> None:
    hist = runs["same/h"]
    cases = [
        ([], "no reference histogram of this name: nothing to compare with"),
        (
            [runs["coarse/h"]],
            "the reference has other binning on the x axis: 50 bins on [0, 50] instead of 100 on [0, 100]",
        ),
        ([runs["map/h"]], "the reference is 2D but the histogram is 1D"),
        ([runs["nan/h"]], "the reference: 1 bin hold NaN or infinity: cannot judge"),
        (
            [runs["few/h"]],
            "the reference has only 1 entries, at least 10 needed to compare",
        ),
    ]
    for references, reason in cases:
        result = run_check(spec(kind, min_entries=10), hist, references)
        assert (result.quality, result.reason) == (None, reason)
    mismatch = run_check(spec(kind), runs["profile/h"], [model_th1([1, 2])])
    assert mismatch.reason == "the reference is a TH1D but the histogram a TProfile"


def test_histogram_with_nan_is_null_before_any_comparison(runs: dict[str, Histogram]) -> None:
    result = run_check(spec("chi2"), runs["nan/h"], [runs["ref/h"]])
    assert (result.quality, result.reason) == (None, "1 bin hold NaN or infinity: cannot judge")


def test_an_empty_histogram_is_null_for_every_comparison(tmp_path: Path) -> None:
    hists = read_back(tmp_path, {"empty": rootfiles.th1("empty", [0, 0, 0])})
    for kind in ("chi2", "kolmogorov", "max_deviation", "pull"):
        result = run_check(spec(kind), hists["empty"], [model_th1([1, 2, 3])])
        assert result.quality is None
        assert result.reason == "empty histogram (0 entries): nothing to judge yet"
