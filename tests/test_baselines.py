"""Baselines against hand-computed values."""

import numpy as np
import pytest

from seqnets.errors import ConfigError, NotFittedError, ShapeError
from seqnets.models import baselines


def series(values):
    return np.asarray(values, dtype=np.float32).reshape(1, -1, 1)


def test_naive_repeats_the_last_value():
    np.testing.assert_array_equal(baselines.naive(series([1, 2, 3]), 3), [[3, 3, 3]])


def test_seasonal_naive_repeats_the_last_season():
    out = baselines.seasonal_naive(series([1, 2, 3, 4, 5]), season=2, horizon=5)
    np.testing.assert_array_equal(out, [[4, 5, 4, 5, 4]])
    with pytest.raises(ConfigError, match="season"):
        baselines.seasonal_naive(series([1, 2]), season=3)


def test_drift_extends_the_line():
    out = baselines.drift(series([1, 3, 5]), horizon=2)
    np.testing.assert_allclose(out, [[7, 9]])


def test_least_squares_recovers_a_linear_rule():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 5, 1))
    w = rng.normal(size=5)
    y = (x[:, :, 0] @ w + 0.5)[:, None]
    model = baselines.LeastSquaresLinear().fit(x, y)
    np.testing.assert_allclose(model.predict(x), y, atol=1e-4)
    assert model.n_parameters == 6
    with pytest.raises(ShapeError):
        model.predict(x[:, :4])


def test_least_squares_must_be_fitted():
    with pytest.raises(NotFittedError, match="fit"):
        baselines.LeastSquaresLinear().predict(np.zeros((1, 3, 1)))


def test_baselines_need_3d_windows():
    with pytest.raises(ShapeError, match=r"\[batch, time, features\]"):
        baselines.naive(np.zeros((3, 4)))
