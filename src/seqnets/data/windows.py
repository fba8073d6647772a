"""Windows over long series as strided views: memory grows with the data, not with the
number of windows × their length."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..checks import positive_int
from ..errors import DataError, ShapeError


def _series(series: Any) -> torch.Tensor:
    if isinstance(series, torch.Tensor):
        t = series
    else:
        try:
            a = np.asarray(series)
        except (ValueError, TypeError) as err:  # ragged lists
            raise ShapeError(f"a series must be a rectangular array [time] or [time, "
                             f"features], got a {type(series).__name__} that is not one "
                             f"({str(err)[:120]})") from None
        if a.dtype.kind not in "biufc":
            raise DataError(f"a series must hold numbers, got dtype {a.dtype}. Fix: convert "
                            "it to numbers (np.asarray(series, dtype=np.float32))")
        try:
            t = torch.from_numpy(a)
        except TypeError:  # a numeric dtype torch has not (e.g. float128)
            raise DataError(f"a series of dtype {a.dtype} has no torch equivalent. Fix: "
                            "convert it to float32") from None
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
    step = min(step, t.shape[0])  # the same windows; a huge step would overflow unfold
    return t.unfold(0, length, step).transpose(1, 2)  # (n, length, F), a view


def window_pairs(series: Any, window: int, horizon: int,
                 step: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``[n, window, F]`` and the next ``horizon`` values of the first feature
    ``[n, horizon]``, for every origin ``step`` apart; both are views of the series."""
    t = _series(series)
    window, horizon = positive_int(window, "window"), positive_int(horizon, "horizon")
    step = min(positive_int(step, "step"), max(t.shape[0], 1))  # as windows() does
    if t.shape[0] < window + horizon:
        raise ShapeError(f"a series of {t.shape[0]} steps is shorter than window + horizon "
                         f"({window} + {horizon})")
    x = windows(t[:t.shape[0] - horizon], window, step)
    y = t[window:, 0].unfold(0, horizon, step)[:x.shape[0]]
    return x, y
