"""Forecast accuracy and interval metrics, on NumPy arrays of any (matching) shape.

    mae(y, yhat), rmse(y, yhat)              # in the series' units
    smape(y, yhat)                           # percent, 0..200
    mase(y, yhat, scale=seasonal_scale(train, season=12))
    coverage(y, lower, upper)                # share of values inside [lower, upper]

Everything is computed in float64 and returned as a Python float. NaN in an input propagates.
"""

from __future__ import annotations

import numpy as np

from ..checks import positive_int
from ..errors import ConfigError, ShapeError

__all__ = ["coverage", "crps", "mae", "mase", "rmse", "seasonal_scale", "smape", "wql"]


def _pair(y, yhat) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y, dtype=np.float64), np.asarray(yhat, dtype=np.float64)
    if a.shape != b.shape:
        raise ShapeError(f"actual values {a.shape} and forecasts {b.shape} differ in shape")
    if a.size == 0:
        raise ShapeError("metrics need at least one value, got empty arrays")
    return a, b


def mae(y, yhat) -> float:
    """Mean absolute error: ``mean(|y - yhat|)``."""
    a, b = _pair(y, yhat)
    return float(np.mean(np.abs(a - b)))


def rmse(y, yhat) -> float:
    """Root mean squared error: ``sqrt(mean((y - yhat)**2))``."""
    a, b = _pair(y, yhat)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def smape(y, yhat) -> float:
    """Symmetric mean absolute percentage error, in percent (0 to 200):
    ``100 * mean(2 |y - yhat| / (|y| + |yhat|))``; a pair of zeros counts as 0 error."""
    a, b = _pair(y, yhat)
    den = np.abs(a) + np.abs(b)
    ratio = np.divide(2.0 * np.abs(a - b), den, out=np.zeros_like(den), where=den > 0)
    return float(100.0 * np.mean(ratio))


def seasonal_scale(insample, season: int = 1) -> float:
    """MASE's scale: the in-sample mean absolute error of the seasonal naive forecast,
    ``mean(|x_t - x_{t-season}|)`` over the training series ``insample`` ``[T]``."""
    season = positive_int(season, "season")
    x = np.asarray(insample, dtype=np.float64).reshape(-1)
    if len(x) <= season:
        raise ShapeError(f"the in-sample series has {len(x)} steps; the seasonal naive scale "
                         f"with season={season} needs more than {season}")
    return float(np.mean(np.abs(x[season:] - x[:-season])))


def mase(y, yhat, scale=None, *, insample=None, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006): ``mean(|y - yhat| / scale)``.

    ``scale`` is :func:`seasonal_scale` of the training data; give it, or give ``insample``
    (and ``season``) to compute it. ``scale`` may be an array broadcasting against ``y``
    (one scale per series when ``y`` holds several). Below 1: better than the in-sample
    seasonal naive forecast.
    """
    a, b = _pair(y, yhat)
    if scale is None:
        if insample is None:
            raise ConfigError("mase needs scale= or insample= (the training series)")
        scale = seasonal_scale(insample, season)
    s = np.asarray(scale, dtype=np.float64)
    if np.any(s <= 0):
        raise ConfigError("mase: the in-sample scale is 0 (a constant or exactly periodic "
                          "training series); use mae or rmse instead")
    return float(np.mean(np.abs(a - b) / s))


def coverage(y, lower, upper) -> float:
    """Share of ``y`` inside its interval ``[lower, upper]`` (bounds included), 0 to 1."""
    a, lo = _pair(y, lower)
    _, hi = _pair(y, upper)
    return float(np.mean((a >= lo) & (a <= hi)))


def wql(y, quantiles: dict) -> float:
    """Weighted quantile loss: the mean over the quantile levels ``q`` of
    ``2 · Σ pinball_q(y, forecast_q) / Σ |y|``, with ``quantiles`` ``{q: forecast}`` (each
    shaped like ``y``). 0 is perfect; a point forecast alone (``{0.5: f}``) scores its MAE
    over the mean |y|."""
    a = np.asarray(y, dtype=np.float64)
    total = np.abs(a).sum()
    return float(_pinball_mean(a, quantiles).sum() / total) if total > 0 else 0.0


def crps(y, quantiles: dict, scale) -> float:
    """The continuous ranked probability score, estimated from quantile forecasts
    ``{q: forecast}`` as twice their mean pinball loss (CRPS is the integral of the pinball
    loss over all levels), each error over ``scale`` (one per series, broadcasting against
    ``y``, as :func:`mase`'s): unit-free, and a point forecast alone (``{0.5: f}``) scores
    its MASE."""
    s = np.asarray(scale, dtype=np.float64)
    if np.any(s <= 0):
        raise ConfigError("crps: the scale is 0 somewhere; give positive scales")
    return float(np.mean(_pinball_mean(np.asarray(y, dtype=np.float64), quantiles) / s))


def _pinball_mean(a: np.ndarray, quantiles: dict) -> np.ndarray:
    """``2 · pinball_q(y, forecast_q)`` per value, averaged over the levels ``q``."""
    if not quantiles:
        raise ConfigError("needs at least one quantile forecast, as {level: forecast}")
    losses = []
    for q, f in quantiles.items():
        if not 0 < q < 1:
            raise ConfigError(f"quantile levels must be in (0, 1), got {q!r}")
        _, b = _pair(a, f)
        d = a - b
        losses.append(2 * np.maximum(q * d, (q - 1) * d))
    return np.mean(losses, axis=0)
