"""Special functions the tests rely on, checked against the standard library and tables."""

from __future__ import annotations

import math

import numpy as np
import pytest

from overwatch.monitoring.statistics import kolmogorov_probability
from overwatch.monitoring.statistics import lgamma
from overwatch.monitoring.statistics import pull_for_probability
from overwatch.monitoring.statistics import two_sided_probability


def test_lgamma_matches_the_standard_library() -> None:
    x = np.concatenate([np.linspace(1.0, 30.0, 300), np.geomspace(30.0, 1e12, 200)])
    expected = np.array([math.lgamma(v) for v in x])
    # Relative to the size of ln Γ itself (and absolute near its zeros at 1 and 2).
    np.testing.assert_allclose(lgamma(x), expected, rtol=1e-13, atol=1e-12)


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
