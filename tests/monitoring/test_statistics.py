"""Special functions the tests rely on, checked against the standard library and tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from overwatch.monitoring.statistics import counts
from overwatch.monitoring.statistics import kolmogorov_probability
from overwatch.monitoring.statistics import lgamma
from overwatch.monitoring.statistics import non_finite_reason
from overwatch.monitoring.statistics import pull_for_probability
from overwatch.monitoring.statistics import two_sided_probability
from tests.monitoring.builders import model_th1


def test_lgamma_matches_the_standard_library() -> None:
    x = np.concatenate([np.linspace(1.0, 30.0, 300), np.geomspace(30.0, 1e12, 200)])
    expected = np.array([math.lgamma(v) for v in x])
    # Relative to the size of ln Γ itself (and absolute near its zeros at 1 and 2).
    np.testing.assert_allclose(lgamma(x), expected, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("small", [0, 1, 7, 256, 257, 5000])
def test_lgamma_matches_the_standard_library_whichever_way_small_arguments_go(small: int) -> None:
    # Up to 256 arguments below 9 go to math.lgamma one by one, more to the shifted
    # series: both, mixed with large arguments, in any shape, agree to 1e-10 relative.
    rng = np.random.default_rng(small)
    low = np.concatenate(
        [rng.integers(1, 9, small // 2), 1.0 + 8.0 * rng.random(small - small // 2)]
    )
    high = np.concatenate([rng.integers(9, 10**6, 300), 9.0 + 1e5 * rng.random(300)])
    x = rng.permutation(np.concatenate([low, high])).astype(np.float64)
    expected = np.array([math.lgamma(v) for v in x])
    np.testing.assert_allclose(lgamma(x), expected, rtol=1e-10, atol=1e-12)
    square = x[: (x.size // 2) * 2].reshape(2, -1)
    assert lgamma(square).shape == square.shape
    np.testing.assert_allclose(
        lgamma(square).ravel(), expected[: square.size], rtol=1e-10, atol=1e-12
    )


def test_lgamma_of_nothing_is_nothing() -> None:
    assert lgamma(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize(
    ("z", "probability"),
    [
        # Critical values of the Kolmogorov distribution: 1.358 at 5%, 1.628 at 1%, 1.224 at 10%.
        (1.3581, 0.05),
        (1.6276, 0.01),
        (1.2238, 0.10),
        (0.5, 0.9639),
        (0.0, 1.0),
        (10.0, 0.0),
    ],
)
def test_kolmogorov_probability_matches_tables(z: float, probability: float) -> None:
    assert kolmogorov_probability(z) == pytest.approx(probability, abs=2e-4)


def test_kolmogorov_probability_is_continuous_where_the_series_switch() -> None:
    assert kolmogorov_probability(1.0 - 1e-9) == pytest.approx(
        kolmogorov_probability(1.0), abs=1e-7
    )
    assert kolmogorov_probability(0.2 - 1e-9) == pytest.approx(
        kolmogorov_probability(0.2), abs=1e-7
    )


@pytest.mark.parametrize("pull", [0.1, 1.0, 3.0, 5.0, 8.0, 20.0, 35.0])
def test_pull_and_probability_are_inverse(pull: float) -> None:
    assert pull_for_probability(two_sided_probability(pull)) == pytest.approx(pull, rel=1e-6)


def test_known_normal_tails() -> None:
    assert two_sided_probability(1.959964) == pytest.approx(0.05, rel=1e-5)
    assert two_sided_probability(-3.0) == pytest.approx(0.0026998, rel=1e-4)
    assert pull_for_probability(1.0) == 0.0
    assert pull_for_probability(0.0) == pytest.approx(37.0, abs=0.1)


def test_finite_contents_whose_sum_overflows_are_still_finite() -> None:
    # Large finite contents (whose sum would overflow) are finite.
    assert non_finite_reason(model_th1([1e308, 1e308, 1.0], entries=3.0)) is None
    assert non_finite_reason(model_th1([1e308, np.inf, 1.0], entries=3.0)) == (
        "1 bin hold NaN or infinity: cannot judge"
    )
    assert non_finite_reason(model_th1([np.nan, 2.0, -np.inf], entries=3.0)) == (
        "2 bins hold NaN or infinity: cannot judge"
    )
    weighted = model_th1([1.0, 2.0, 3.0], sumw2=[1.0, np.nan, np.nan])
    assert non_finite_reason(weighted, "the reference:") == (
        "the reference: 2 bins hold NaN or infinity: cannot judge"
    )


def test_counts_are_effective_entries_where_there_is_a_variance() -> None:
    hist = model_th1([4.0, 0.0, 2.0, 3.0], sumw2=[2.0, 0.0, 0.0, 9.0])
    # content²/variance; a bin without variance keeps its content.
    np.testing.assert_array_equal(counts(hist), [8.0, 0.0, 2.0, 1.0])
    scaled = model_th1([0.5, 0.25], sumw2=[0.5 * 0.5 / 40, 0.25 * 0.25 / 20])
    np.testing.assert_allclose(counts(scaled), [40.0, 20.0], rtol=1e-12)
