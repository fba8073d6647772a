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
    dropout); ``bands`` ``{(level, calibrated): {"lower_80": [N, horizon], ...}}``; ``linear``
    ``[N, horizon]``, the least-squares baseline."""

    actual: np.ndarray
    paths: np.ndarray
    bands: dict
    linear: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.paths.mean(axis=0)


def left_pad(z: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """``z`` ``[T, F]`` with its first row repeated in front up to ``length`` rows, and how
    many rows were added (a short series' windows start with its first value held)."""
    p = max(0, length - len(z))
    return (np.concatenate([np.repeat(z[:1], p, axis=0), z]) if p else z), p


def scale_windows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-window scaling (``scale="window"``): windows ``[n, W, F]`` with their first target
    divided by its mean absolute value over the window, and those factors ``[n, 1]`` (1 for
    an all-zero window); forecasts are multiplied back by the same factors."""
    s = x[:, :, 0].abs().mean(dim=1, keepdim=True)
    s = torch.where(s > 0, s, torch.ones_like(s))
    x = x.clone()
    x[:, :, 0] /= s
    return x, s


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


