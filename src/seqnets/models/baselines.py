"""Baselines to beat first: naive, seasonal naive, drift, and closed-form linear models.

All take inputs ``X`` ``[B, T, F]`` (NumPy) and forecast the first feature.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, NotFittedError, ShapeError


def _check(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ShapeError(f"baselines expect X of shape [batch, time, features], got {x.shape}")
    return x


def naive(x: np.ndarray, horizon: int = 1) -> np.ndarray:
    """Repeat the last observed value: ``[B, horizon]``."""
    x = _check(x)
    return np.repeat(x[:, -1, :1], horizon, axis=1)


def seasonal_naive(x: np.ndarray, season: int, horizon: int = 1) -> np.ndarray:
    """Repeat the last full season: step h forecasts the value ``season`` steps before it."""
    x = _check(x)
    if not 1 <= season <= x.shape[1]:
        raise ConfigError(f"season must be in [1, {x.shape[1]}] for windows of "
                          f"{x.shape[1]} steps, got {season}")
    last = x[:, -season:, 0]
    reps = -(-horizon // season)
    return np.tile(last, (1, reps))[:, :horizon]


def drift(x: np.ndarray, horizon: int = 1) -> np.ndarray:
    """Extend the line from the window's first to its last value."""
    x = _check(x)
    first, last = x[:, 0, 0], x[:, -1, 0]
    slope = (last - first) / max(x.shape[1] - 1, 1)
    steps = np.arange(1, horizon + 1)
    return last[:, None] + slope[:, None] * steps[None, :]


class LeastSquaresLinear:
    """The chapter's linear model (flattened window → next values), fitted in closed form.

    ``fit(X, Y)`` solves ordinary least squares with a bias (ridge ``alpha`` optional), the
    optimum the trained ``Flatten → Dense`` model approaches; a reference for it.
    """

    def __init__(self, alpha: float = 0.0) -> None:
        self.alpha = alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> LeastSquaresLinear:
        x = _check(x)
        design = np.concatenate([x.reshape(len(x), -1), np.ones((len(x), 1))], axis=1)
        target = np.asarray(y, dtype=np.float64).reshape(len(x), -1)
        gram = design.T @ design + self.alpha * np.eye(design.shape[1])
        self.coef_ = np.linalg.solve(gram, design.T @ target)
        self.output_shape_ = np.asarray(y).shape[1:]
        self.window_shape_ = x.shape[1:]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("LeastSquaresLinear is not fitted: call fit(X, Y) first")
        x = _check(x)
        if x.shape[1:] != self.window_shape_:
            raise ShapeError(f"fitted on windows {self.window_shape_}, got {x.shape[1:]}")
        design = np.concatenate([x.reshape(len(x), -1), np.ones((len(x), 1))], axis=1)
        out = (design @ self.coef_).astype(np.float32)
        return out.reshape(len(x), *self.output_shape_)

    @property
    def n_parameters(self) -> int:
        return int(self.coef_.size)
