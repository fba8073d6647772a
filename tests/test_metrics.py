"""Forecast metrics against hand computations."""

import math

import numpy as np
import pytest

from seqnets.errors import ConfigError, ShapeError
from seqnets.forecast import metrics

Y = np.array([1.0, 2.0, 4.0, 8.0])
F = np.array([2.0, 2.0, 3.0, 10.0])   # errors 1, 0, -1, 2 (|e| = 1, 0, 1, 2)


def test_mae_and_rmse_by_hand():
    assert metrics.mae(Y, F) == pytest.approx(4 / 4)
    assert metrics.rmse(Y, F) == pytest.approx(math.sqrt((1 + 0 + 1 + 4) / 4))


def test_smape_by_hand_and_zero_pairs():
    # 2|e| / (|y| + |f|): 2/3, 0, 2/7, 4/18
    expected = 100 * (2 / 3 + 0 + 2 / 7 + 4 / 18) / 4
    assert metrics.smape(Y, F) == pytest.approx(expected)
    assert metrics.smape([0.0, 1.0], [0.0, 1.0]) == 0.0          # 0/0 counts as no error
    assert metrics.smape([1.0], [-1.0]) == pytest.approx(200.0)  # the maximum


def test_mase_uses_the_in_sample_seasonal_naive_scale():
    train = np.array([1.0, 3.0, 2.0, 6.0, 4.0])
    # season 2: |2-1|, |6-3|, |4-2| -> mean 2; season 1: 2, 1, 4, 2 -> mean 2.25
    assert metrics.seasonal_scale(train, 2) == pytest.approx(2.0)
    assert metrics.seasonal_scale(train, 1) == pytest.approx(2.25)
    assert metrics.mase(Y, F, insample=train, season=2) == pytest.approx(1.0 / 2.0)
    assert metrics.mase(Y, F, scale=4.0) == pytest.approx(0.25)
    per_row = metrics.mase(np.zeros((2, 2)), np.array([[1.0, 1.0], [1.0, 1.0]]),
                           scale=np.array([[1.0], [2.0]]))
    assert per_row == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)


def test_coverage_counts_bounds_as_inside():
    assert metrics.coverage(Y, Y - 1, Y + 1) == 1.0
    assert metrics.coverage(Y, [1.0, 2.5, 0.0, 9.0], [1.0, 3.0, 5.0, 10.0]) == 0.5


def test_bad_inputs_raise():
    with pytest.raises(ShapeError, match="differ in shape"):
        metrics.mae([1.0, 2.0], [1.0])
    with pytest.raises(ShapeError, match="at least one"):
        metrics.rmse([], [])
    with pytest.raises(ShapeError, match="needs more than 4"):
        metrics.seasonal_scale([1.0, 2.0, 3.0, 4.0], 4)
    with pytest.raises(ConfigError, match="season"):
        metrics.seasonal_scale([1.0, 2.0, 3.0], 0)
    with pytest.raises(ConfigError, match="scale= or insample="):
        metrics.mase(Y, F)
    with pytest.raises(ConfigError, match="scale is 0"):
        metrics.mase(Y, F, insample=[1.0, 1.0, 1.0])
