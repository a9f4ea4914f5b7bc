"""The beta-binomial pull test: exact small cases, statistical behaviour, the pull map."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import orjson
import pytest

from overwatch.histograms.model import Histogram
from overwatch.monitoring.checks import run_check
from overwatch.monitoring.checks import run_checks
from overwatch.monitoring.config import CheckSpec
from overwatch.monitoring.config import load_check_config
from overwatch.monitoring.pulls import PullSummary
from overwatch.monitoring.pulls import corrected_pull
from overwatch.monitoring.statistics import counts
from overwatch.processing.jsroot import to_jsroot_json
from tests import rootfiles
from tests.monitoring.builders import model_th1
from tests.monitoring.builders import read_back
from tests.monitoring.builders import sampled


def counts_of(hist: Histogram) -> np.ndarray:
    found = counts(hist)
    assert not isinstance(found, str)
    return found


def pull_spec(**fields: Any) -> CheckSpec:
    config = load_check_config({"EMC": [{"kind": "pull", "histograms": "*", **fields}]})
    return config.for_subsystem("EMC")[0]


def _pmf(k: int, n: int, r: int, total_r: int) -> float:
    """BetaBinomial(n, r + 1, R - r + 1) at k, from its definition with exact binomials."""
    alpha, beta = r + 1, total_r - r + 1

    def log_beta(a: float, b: float) -> float:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    return math.comb(n, k) * math.exp(log_beta(k + alpha, n - k + beta) - log_beta(alpha, beta))


def _brute_force_pulls(data: list[int], ref: list[int]) -> list[float]:
    """Signed pulls by scanning every possible count for the most likely one."""
    n, total_r = sum(data), sum(ref)
    out = []
    for k, r in zip(data, ref, strict=True):
        best = max(_pmf(m, n, r, total_r) for m in range(n + 1))
        magnitude = math.sqrt(max(-2 * math.log(_pmf(k, n, r, total_r) / best), 0.0))
        out.append(math.copysign(magnitude, k / n - r / total_r) if k / n != r / total_r else 0.0)
    return out


def _slow_summary(data: np.ndarray, refs: list[np.ndarray]) -> tuple[np.ndarray, float, float]:
    """Pulls, χ²/bin and the largest pull the plain way: every bin, math.lgamma per term."""
    total = float(data.sum())

    def kernel(c: float, alpha: float, beta: float) -> float:
        return (
            math.lgamma(c + alpha)
            + math.lgamma(total - c + beta)
            - math.lgamma(c + 1)
            - math.lgamma(total - c + 1)
        )

    pulls = np.zeros(data.shape)
    for index in np.ndindex(data.shape):
        if data[index] <= 0 and all(ref[index] <= 0 for ref in refs):
            continue
        ratios, expected = [], 0.0
        for ref in refs:
            ref_total = float(ref.sum())
            r = float(ref[index])
            alpha, beta = r + 1.0, ref_total - r + 1.0
            mode = min(max(math.floor((total + 1.0) * r / ref_total), 0.0), total)
            ratios.append(
                min(kernel(float(data[index]), alpha, beta) - kernel(mode, alpha, beta), 0.0)
            )
            expected += r / ref_total / len(refs)
        log_mean = float(np.logaddexp.reduce(ratios)) - math.log(len(refs))
        magnitude = math.sqrt(max(-2.0 * log_mean, 0.0))
        pulls[index] = math.copysign(magnitude, data[index] / total - expected)
        if data[index] / total == expected:
            pulls[index] = 0.0
    used = int(np.count_nonzero((data > 0) | np.any(np.stack(refs) > 0, axis=0)))
    largest = float(pulls.flat[int(np.argmax(np.abs(pulls)))])
    return pulls, float(np.sum(pulls**2) / used), largest


@pytest.mark.parametrize("seed", range(12))
def test_pulls_equal_the_plain_per_bin_computation(seed: int) -> None:
    # 1D to 3D, mostly empty bins, one to three references, raw or weighted
    # (non-integer effective) counts: the vectorised summary equals the plain one.
    rng = np.random.default_rng(100 + seed)
    shape = [(40,), (12, 9), (6, 5, 4)][seed % 3]
    weighted = seed % 2 == 1

    def sample(scale: float) -> np.ndarray:
        values = rng.poisson(scale * rng.random(shape) ** 3).astype(np.float64)
        values[rng.random(shape) < 0.4] = 0.0
        if weighted:
            values *= rng.uniform(0.5, 1.5, shape)
        values.flat[0] += 1.0  # never empty
        return values

    data = sample(30.0)
    refs = [sample(60.0) for _ in range(1 + seed % 3)]
    summary = PullSummary(data, refs)
    pulls, chi2, largest = _slow_summary(data, refs)
    np.testing.assert_allclose(summary.pulls, pulls, rtol=1e-9, atol=1e-6)
    assert summary.chi2 == pytest.approx(chi2, rel=1e-9)
    assert summary.largest == pytest.approx(largest, rel=1e-9)
    assert summary.bins == int(np.count_nonzero(summary.used))
    assert not np.any(summary.pulls[~summary.used])


def test_hand_computed_two_bin_case() -> None:
    # Data (3, 1) against a reference (1, 1): BetaBinomial(4, 2, 2) gives P(3) = 8/35 and
    # the most likely count 2 has P(2) = 9/35, so each pull is sqrt(2 ln(9/8)), signed.
    summary = PullSummary(np.array([3.0, 1.0]), [np.array([1.0, 1.0])])
    expected = math.sqrt(2 * math.log(9 / 8))
    np.testing.assert_allclose(summary.pulls, [expected, -expected], rtol=1e-9)
    assert summary.bins == 2
    assert summary.chi2 == pytest.approx(2 * math.log(9 / 8), rel=1e-9)
    # Šidák: p = P(|Z| > pull) for one bin, 1 - (1 - p)^2 for the larger of two.
    p = math.erfc(expected / math.sqrt(2))
    corrected = -NormalDist().inv_cdf((1 - (1 - p) ** 2) / 2)
    assert summary.corrected == pytest.approx(corrected, rel=1e-9)
    assert summary.corrected < summary.largest


@pytest.mark.parametrize("seed", range(20))
def test_pulls_equal_a_brute_force_beta_binomial(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 12, size=5).tolist()
    ref = rng.integers(0, 12, size=5).tolist()
    data[0] += 1  # never empty
    ref[0] += 1
    summary = PullSummary(np.array(data, dtype=float), [np.array(ref, dtype=float)])
    # sqrt(-2 ln ratio) turns rounding of a ratio of 1 into ~1e-7: compare to 1e-6.
    np.testing.assert_allclose(summary.pulls, _brute_force_pulls(data, ref), atol=1e-6)


def test_several_references_average_the_likelihood_ratios() -> None:
    data, ref_a, ref_b = [3.0, 1.0], [1.0, 1.0], [3.0, 1.0]
    summary = PullSummary(np.array(data), [np.array(ref_a), np.array(ref_b)])
    ratio_a = 8 / 9  # from the hand-computed case
    alone_b = PullSummary(np.array(data), [np.array(ref_b)])
    ratio_b = math.exp(-(alone_b.pulls[0] ** 2) / 2)
    expected = math.sqrt(-2 * math.log((ratio_a + ratio_b) / 2))
    assert abs(summary.pulls[0]) == pytest.approx(expected, rel=1e-9)


def test_corrected_pull_accounts_for_the_number_of_bins() -> None:
    assert corrected_pull(4.0, 1) == 4.0
    assert corrected_pull(4.0, 1000) == pytest.approx(1.87, abs=0.01)
    assert corrected_pull(0.0, 1000) == 0.0
    # Far in the tail the probability underflows; the pull stays large and finite.
    assert 30 < corrected_pull(60.0, 100) < 40


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Histogram]:
    """Reference runs and checked runs of one 1D spectrum, written as ROOT files and read back."""
    rng = np.random.default_rng(2024)
    objects = {
        f"ref{i}/spectrum": rootfiles.th1("spectrum", sampled(rng, 50_000)) for i in range(3)
    }
    for i in range(5):
        objects[f"same{i}/spectrum"] = rootfiles.th1("spectrum", sampled(rng, 20_000))
    objects["shifted/spectrum"] = rootfiles.th1("spectrum", sampled(rng, 20_000, mean=52.0))
    objects["wider/spectrum"] = rootfiles.th1("spectrum", sampled(rng, 20_000, sigma=12.0))
    return read_back(tmp_path_factory.mktemp("pulls"), objects)


@pytest.mark.parametrize("checked", [f"same{i}/spectrum" for i in range(5)])
def test_a_sample_of_the_reference_distribution_is_good(
    runs: dict[str, Histogram], checked: str
) -> None:
    result = run_check(pull_spec(), runs[checked], [runs["ref0/spectrum"]])
    assert result.quality == "good", result.reason
    several = run_check(pull_spec(), runs[checked], [runs[f"ref{i}/spectrum"] for i in range(3)])
    assert several.quality == "good", several.reason


@pytest.mark.parametrize("checked", ["shifted/spectrum", "wider/spectrum"])
def test_a_shifted_or_wider_distribution_is_bad(runs: dict[str, Histogram], checked: str) -> None:
    references = [runs[f"ref{i}/spectrum"] for i in range(3)]
    result = run_check(pull_spec(), runs[checked], references)
    assert result.quality == "bad", result.reason
    assert "above the error limit" in result.reason


def test_thresholds_give_medium_between_warning_and_error(runs: dict[str, Histogram]) -> None:
    hist, ref = runs["shifted/spectrum"], runs["ref0/spectrum"]
    value = run_check(pull_spec(), hist, [ref]).value
    assert value is not None
    size = abs(value)
    medium = run_check(
        pull_spec(pull_warning=size - 0.5, pull_error=size + 0.5, chi2_warning=1e6, chi2_error=1e6),
        hist,
        [ref],
    )
    assert medium.quality == "medium"
    assert f"corrected pull above the warning limit {size - 0.5:.4g}σ" in medium.reason
    relaxed = pull_spec(
        pull_warning=size + 1, pull_error=size + 2, chi2_warning=1e6, chi2_error=1e6
    )
    assert run_check(relaxed, hist, [ref]).quality == "good"


def test_scaling_by_events_does_not_change_the_verdict(runs: dict[str, Histogram]) -> None:
    hist, ref = runs["shifted/spectrum"].copy(), runs["ref0/spectrum"]
    before = run_check(pull_spec(), hist, [ref])
    hist.scale(1 / hist.entries)
    after = run_check(pull_spec(), hist, [ref])
    assert after.value == pytest.approx(before.value, rel=1e-6)
    assert after.quality == before.quality == "bad"


def test_pull_map_is_a_drawable_histogram_beside_the_checked_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    reference = rng.poisson(200, size=(8, 6)).astype(float)
    data = rng.poisson(100, size=(8, 6)).astype(float)
    data[5, 2] = 400  # a hot cell
    hists = read_back(
        tmp_path,
        {"ref/EMC/map": rootfiles.th2("map", reference), "run/EMC/map": rootfiles.th2("map", data)},
    )
    hist = hists["run/EMC/map"]
    hist.name = "EMC/map"
    config = load_check_config({"EMC": [{"kind": "pull", "histograms": "EMC/*"}]})
    (result,) = run_checks(
        hist, subsystem="EMC", config=config, references={"EMC/map": hists["ref/EMC/map"]}
    )
    assert result.quality == "bad"
    assert "at (x, y) = (5.5, 2.5)" in result.reason
    pull_map = result.extra
    assert pull_map is not None
    assert (pull_map.name, pull_map.class_name, pull_map.draw_options) == (
        "EMC/map_pulls",
        "TH2F",
        "colz",
    )
    assert pull_map.axes[0].same_binning(hist.axes[0])
    assert pull_map.axes[1].same_binning(hist.axes[1])
    values = pull_map.values()
    assert tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(values)), values.shape)) == (
        5,
        2,
    )
    assert values[5, 2] > 10
    # Each cell is the exact pull to 0.01σ (single precision is enough for a colour map).
    summary = PullSummary(counts_of(hist), [counts_of(hists["ref/EMC/map"])])
    np.testing.assert_allclose(values, np.round(summary.pulls, 2), rtol=1e-6, atol=1e-6)
    # The lead stores it like any histogram: JSROOT JSON of a TH2F.
    payload = orjson.loads(to_jsroot_json(pull_map))
    assert payload["_typename"] == "TH2F"
    assert payload["fArray"][(2 + 1) * 10 + (5 + 1)] == pytest.approx(values[5, 2])
    # The axes are copies: changing the map leaves the checked histogram alone.
    pull_map.axes[0].title = "changed"
    assert hist.axes[0].title != "changed"


@pytest.mark.parametrize(
    ("hist", "reference", "reason"),
    [
        (model_th1([3, -1, 2], entries=5), model_th1([1, 1, 1]), "it has negative bin contents"),
        (model_th1([3, 1, 2]), model_th1([0, 0, 0], entries=10), "the reference is empty"),
        (model_th1([0, 0, 0], entries=4), model_th1([1, 1, 1]), "the histogram is empty"),
    ],
)
def test_counts_that_are_not_counts_are_null(
    hist: Histogram, reference: Histogram, reason: str
) -> None:
    result = run_check(pull_spec(), hist, [reference])
    assert result.quality is None
    assert reason in result.reason
    assert result.extra is None


def test_profiles_have_no_counts(tmp_path: Path) -> None:
    hists = read_back(tmp_path, {"p": rootfiles.tprofile("p", [2.0, 6.0], [4.0, 20.0], [1.0, 2.0])})
    result = run_check(pull_spec(), hists["p"], [hists["p"]])
    assert result.quality is None
    assert result.reason == "it is a profile (TProfile): bin means are not counts"


def test_a_second_reference_with_other_binning_is_named(runs: dict[str, Histogram]) -> None:
    other = model_th1(np.ones(50) * 10, name="spectrum", high=100.0)
    result = run_check(pull_spec(), runs["same0/spectrum"], [runs["ref0/spectrum"], other])
    assert result.quality is None
    assert result.reason.startswith("reference 2: the reference has other binning on the x axis")


def test_the_pull_map_is_kept_for_problems_unless_asked_for_always() -> None:
    reference = model_th1([100.0] * 10, name="EMC/h")
    agreeing = model_th1([101.0, 99.0, 100.0, 98.0, 102.0, 100.0, 100.0, 97.0, 103.0, 100.0])
    shifted = model_th1([100.0] * 9 + [300.0])
    good = run_check(pull_spec(), agreeing, [reference])
    bad = run_check(pull_spec(), shifted, [reference])
    assert (good.quality, good.extra) == ("good", None)
    assert bad.quality == "bad"
    assert bad.extra is not None
    assert bad.extra.name == "h_pulls"
    always = run_check(pull_spec(pull_map="always"), agreeing, [reference])
    assert always.quality == "good"
    assert always.extra is not None
    # The verdict and its reason do not depend on whether the map is kept.
    assert (always.reason, always.value) == (good.reason, good.value)
