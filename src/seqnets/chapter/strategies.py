"""Forecasting strategies over any model (spec §3): recursive, direct, sequence-to-sequence,
and chunked recursion to reach any horizon.

Every strategy takes windows ``X`` ``[B, T, 1]`` and returns ``[B, horizon]``. All origins go
through the model together, in batches: one model call per step ahead, never per origin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..checks import positive_int
from ..errors import ConfigError, ShapeError
from ..training import predict
from ..training.batches import as_tensor


def _windows(x: Any) -> torch.Tensor:
    t = as_tensor(x, "X", integer_ok=False)
    if t.dim() != 3 or t.shape[2] != 1:
        raise ShapeError(f"strategies forecast univariate windows [batch, time, 1], "
                         f"got {tuple(t.shape)}")
    return t


def _out(result: torch.Tensor, like: Any) -> Any:
    return result if isinstance(like, torch.Tensor) else result.numpy()


def _positive(horizon: int) -> int:
    return positive_int(horizon, "horizon")
    return horizon


def _next_values(model: nn.Module, x: torch.Tensor, kind: str, batch_size: int) -> torch.Tensor:
    """The model's k-step forecast ``[B, k]`` from windows ``x``."""
    y = predict(model, x, batch_size=batch_size)
    if kind == "seq2seq":
        if y.dim() != 3:
            raise ShapeError(f"a sequence-to-sequence model outputs [batch, time, k], "
                             f"got {tuple(y.shape)}")
        return y[:, -1]
    if y.dim() != 2:
        raise ShapeError(f"a direct model outputs [batch, k], got {tuple(y.shape)}")
    return y


def direct(model: nn.Module, x: Any, batch_size: int = 1024) -> Any:
    """A vector model's k values at once (the chapter's ``Dense(10)`` head)."""
    return _out(_next_values(model, _windows(x), "direct", batch_size), x)


def seq2seq(model: nn.Module, x: Any, batch_size: int = 1024) -> Any:
    """A sequence-to-sequence model's k values at the last step (``Y_pred[:, -1]``)."""
    return _out(_next_values(model, _windows(x), "seq2seq", batch_size), x)


def recursive(model: nn.Module, x: Any, horizon: int, sliding: bool = True,
              batch_size: int = 1024) -> Any:
    """Iterate a one-step model: predict, append the prediction, repeat ``horizon`` times.

    ``sliding=True`` keeps the window length (drops the oldest step), as in the chapter's
    code; ``False`` lets the window grow.
    """
    return chunked(model, x, horizon, kind="direct", sliding=sliding, batch_size=batch_size)


def chunked(model: nn.Module, x: Any, horizon: int, kind: str = "seq2seq",
            sliding: bool = True, batch_size: int = 1024) -> Any:
    """Reuse a k-step model to reach any horizon: forecast k, append them, repeat.

    ``kind``: ``"seq2seq"`` (take the last step's k outputs) or ``"direct"`` (``[B, k]``
    outputs; k = 1 is plain recursion). The chapter's way to generate long sequences.
    """
    if kind not in ("seq2seq", "direct"):
        raise ConfigError(f"kind must be 'seq2seq' or 'direct', got {kind!r}")
    horizon = _positive(horizon)
    window = _windows(x)
    length = window.shape[1]
    produced: list[torch.Tensor] = []
    done = 0
    while done < horizon:
        step = _next_values(model, window, kind, batch_size)
        take = step[:, :horizon - done]
        produced.append(take)
        done += take.shape[1]
        window = torch.cat([window, take.unsqueeze(-1)], dim=1)
        if sliding:
            window = window[:, -length:]
    return _out(torch.cat(produced, dim=1), x)


def _wavenet_inside(model: nn.Module) -> Any:
    """The WaveNet layer when ``model`` is one (or a Sequential holding only one)."""
    from ..layers.wavenet import WaveNet
    from ..models import Sequential

    if isinstance(model, WaveNet):
        return model
    if isinstance(model, Sequential) and len(model) == 1 and isinstance(model[0], WaveNet):
        return model[0]
    return None


def generate(model: nn.Module, x: Any, horizon: int, batch_size: int = 1024) -> Any:
    """Step-by-step generation: append the one-step-ahead forecast (the first output at the
    last step) and go on, ``horizon`` times. Works with sequence-to-sequence models of any
    kind; a WaveNet takes the fast path (a queue per dilated layer, O(layers) per step)
    instead of recomputing its receptive field at each step."""
    horizon = _positive(horizon)
    window = _windows(x)
    wavenet = _wavenet_inside(model)
    if wavenet is not None:
        parts = [wavenet.generate(window[s], horizon)[:, :, 0]
                 for s in _slices(len(window), batch_size)]
        return _out(torch.cat(parts), x)
    values = []
    for _ in range(horizon):
        y = predict(model, window, batch_size=batch_size)
        step = y[:, -1, :1] if y.dim() == 3 else y[:, :1]
        values.append(step)
        window = torch.cat([window, step.unsqueeze(-1)], dim=1)
    return _out(torch.cat(values, dim=1), x)


def _slices(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


STRATEGIES = ("recursive", "direct", "seq2seq", "chunked", "generate")


def mse(pred: Any, target: Any) -> float:
    """Mean squared error of two arrays of the same shape."""
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ShapeError(f"prediction {pred.shape} and target {target.shape} differ in shape")
    return float(np.mean((pred - target) ** 2))
