"""Windows over long series as strided views: memory grows with the data, not with the
number of windows × their length."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..checks import positive_int
from ..errors import ShapeError


def _series(series: Any) -> torch.Tensor:
    t = series if isinstance(series, torch.Tensor) else torch.from_numpy(np.asarray(series))
    if t.dim() == 1:
        t = t.unsqueeze(-1)
    if t.dim() != 2:
        raise ShapeError(f"a series must be [time] or [time, features], got {tuple(t.shape)}")
    return t


def windows(series: Any, length: int, step: int = 1) -> torch.Tensor:
    """Every window of ``length`` steps, ``step`` apart: a view ``[n, length, F]`` of the
    series ``[T, F]`` (no copy; write to it and you write to the series)."""
    t = _series(series)
    length, step = positive_int(length, "length"), positive_int(step, "step")
    if t.shape[0] < length:
        raise ShapeError(f"a series of {t.shape[0]} steps has no window of {length} steps")
    return t.unfold(0, length, step).transpose(1, 2)  # (n, length, F), a view


def window_pairs(series: Any, window: int, horizon: int,
                 step: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``[n, window, F]`` and the next ``horizon`` values of the first feature
    ``[n, horizon]``, for every origin ``step`` apart; both are views of the series."""
    t = _series(series)
    horizon = positive_int(horizon, "horizon")
    if t.shape[0] < window + horizon:
        raise ShapeError(f"a series of {t.shape[0]} steps is shorter than window + horizon "
                         f"({window} + {horizon})")
    x = windows(t[:t.shape[0] - horizon], window, step)
    y = t[window:, 0].unfold(0, horizon, step)[:x.shape[0]]
    return x, y
