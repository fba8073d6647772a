"""What the Forecaster computes per forecast origin: the forecasts a backtest scores
(:class:`OriginForecasts`), short series' padding, and the held-out scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import metrics


@dataclass(frozen=True)
class OriginForecasts:
    """Forecasts from chosen origins (:meth:`Forecaster.forecast_origins`), ``N`` origins in
    all: ``actual`` ``[N, horizon]``; ``paths`` ``[samples, N, horizon]`` (one path without
    MC dropout; the quantiles with ``uncertainty="quantile"``); ``bands``
    ``{(level, calibrated): {"lower_80": [N, horizon], ...}}``; ``linear`` ``[N, horizon]``,
    the least-squares baseline; ``mean`` ``[N, horizon]``, the forecast."""

    actual: np.ndarray
    paths: np.ndarray
    bands: dict
    linear: np.ndarray
    mean: np.ndarray   # the forecast: the paths' mean, or the median quantile


def left_pad(z: np.ndarray, length: int, mask: bool = False) -> tuple[np.ndarray, int]:
    """``z`` ``[T, F]`` with its first row repeated in front up to ``length`` rows, and how
    many rows were added (a short series' windows start with its first value held). With
    ``mask``, a last column tells the real rows (1) from the added ones (0)."""
    p = max(0, length - len(z))
    out = np.concatenate([np.repeat(z[:1], p, axis=0), z]) if p else z
    if mask:
        real = np.concatenate([np.zeros(p), np.ones(len(z))]).astype(z.dtype)[:, None]
        out = np.concatenate([out, real], axis=1)
    return out, p


def scale_windows(x: torch.Tensor, steps: int | None = None,
                  masked: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-window scaling (``scale="window"``): windows ``[n, W, F]`` with their first target
    divided by its level, the mean absolute value over the last ``steps`` steps (default:
    all; with ``masked``, the real steps among them, the last column telling them), and
    those factors ``[n, 1]`` (1 for an all-zero window); forecasts are multiplied back by
    the same factors."""
    tail = x[:, x.shape[1] - (steps or x.shape[1]):]
    if masked:
        real = tail[:, :, -1]
        s = (tail[:, :, 0].abs() * real).sum(1, keepdim=True) / \
            real.sum(1, keepdim=True).clamp(min=1)
    else:
        s = tail[:, :, 0].abs().mean(dim=1, keepdim=True)
    s = torch.where(s > 0, s, torch.ones_like(s))
    x = x.clone()
    x[:, :, 0] /= s
    return x, s


def local_scale(values: list[np.ndarray], origins: list[np.ndarray], window: int) -> np.ndarray:
    """Per origin, the scale conformal intervals are measured in: the mean absolute step
    change of the first target over the ``window`` steps before the origin (fewer for a
    short series; its mean absolute level if it holds a single step, 1 if that is 0),
    ``[N, 1]``. It follows the series' level and volatility, so one calibration serves
    series of any size."""
    out = []
    for v, o in zip(values, origins, strict=True):
        y = np.asarray(v[:, 0], dtype=np.float64)
        for t in np.asarray(o, dtype=np.int64):
            part = y[max(0, t - window):t]
            s = np.mean(np.abs(np.diff(part))) if len(part) > 1 else 0.0
            if not s > 0:
                s = np.mean(np.abs(part)) if len(part) else 0.0
            out.append(s if s > 0 else 1.0)
    return np.asarray(out, dtype=np.float64).reshape(-1, 1)


def last_step(loss):
    """``loss`` on the last step's outputs (``direct`` training of a sequence-output model)."""
    def on_last_step(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss(out[:, -1] if out.dim() == 3 else out, y)
    return on_last_step


def scores(actual: np.ndarray, pred: np.ndarray, scale=None) -> dict:
    out = {"mae": metrics.mae(actual, pred), "rmse": metrics.rmse(actual, pred),
           "smape": metrics.smape(actual, pred)}
    if scale is not None:
        out["mase"] = metrics.mase(actual, pred, scale)
    return out


