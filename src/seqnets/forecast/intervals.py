"""Prediction intervals: Monte-Carlo dropout, then conformal calibration of its spread.

MC dropout (the chapter's way): keep dropout on at inference and run the model many times;
the passes are samples of the predictive distribution. Their mean is the forecast, their
standard deviation ``sd`` the spread. A raw interval at level ``p`` is ``mean ± z_p·sd`` with
``z_p`` the normal quantile (1.28 for 80%, 1.96 for 95%).

MC dropout alone is usually overconfident: the spread it measures ignores the noise in the data.
Calibration fixes the width, not the shape: on held-out windows compute the normalised
errors ``|y - mean| / sd`` (one column per step ahead) and take, for each level and step, the
conformal quantile ``q_p`` (the ``ceil((n + 1)·p)``-th smallest of the ``n`` scores, capped at
the largest). The calibrated interval is ``mean ± q_p·sd``: at least a share ``p`` of the
held-out errors falls inside it, by construction, and under exchangeability the same holds
for new windows (split conformal prediction with a normalised score).

    paths = mc_passes(lambda: model(x), 100, seed=0)      # [100, N, H]
    mean, sd = spread(paths)
    scores = normalised_scores(actual, mean, sd)           # [N, H]
    lo, hi = bounds(mean, sd, conformal_factor(scores, 0.9))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, ShapeError
from ..layers.core import BatchNormalization, Dense, Dropout, LayerNormalization, mc_dropout
from ..training.environment import seeded

__all__ = ["bounds", "check_levels", "conformal_factor", "has_dropout", "level_name",
           "mc_passes", "normal_factor", "normalised_scores", "point_pass", "spread",
           "with_dropout"]


def check_levels(levels: float | Sequence[float]) -> tuple[float, ...]:
    """Interval levels as a sorted tuple of floats in (0, 1); ``()`` for none."""
    items = [levels] if isinstance(levels, int | float) else list(levels)
    for p in items:
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p < 1:
            raise ConfigError(f"interval levels must be numbers in (0, 1) such as 0.8 or 0.95, "
                              f"got {p!r}")
    return tuple(sorted({float(p) for p in items}))


def level_name(level: float) -> str:
    """The column suffix of a level: 0.8 -> '80', 0.975 -> '97.5'."""
    return f"{level * 100:g}"


def mc_passes(forward: Callable[[], torch.Tensor], samples: int, model: torch.nn.Module,
              seed: int | None = None) -> np.ndarray:
    """``samples`` calls of ``forward()`` with every dropout of ``model`` active (see
    :func:`seqnets.layers.mc_dropout`), stacked ``[samples, ...]`` as float64. ``seed`` makes
    the dropout masks, and so the result, reproducible; the global RNG is left as it was."""
    was_training = model.training
    model.eval()  # batch-norm statistics frozen; only dropout is random
    try:
        with seeded(seed), mc_dropout(model), torch.no_grad():
            out = [forward().detach().cpu().double().numpy() for _ in range(samples)]
    finally:
        model.train(was_training)
    return np.stack(out)


def point_pass(forward: Callable[[], torch.Tensor], model: torch.nn.Module) -> np.ndarray:
    """One call of ``forward()`` in inference mode (dropout off), as ``[1, ...]`` float64."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return forward().detach().cpu().double().numpy()[None]
    finally:
        model.train(was_training)


def spread(paths: np.ndarray, floor: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over the first axis (the MC passes). The deviation is
    floored at ``floor × (1 + |mean|)`` so that normalised scores stay finite."""
    mean = paths.mean(axis=0)
    sd = paths.std(axis=0)
    return mean, np.maximum(sd, floor * (1.0 + np.abs(mean)))


def normalised_scores(actual: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Conformity scores ``|actual - mean| / sd``, elementwise."""
    if np.shape(actual) != np.shape(mean):
        raise ShapeError(f"actual values {np.shape(actual)} and forecasts {np.shape(mean)} "
                         "differ in shape")
    return np.abs(np.asarray(actual, dtype=np.float64) - mean) / sd


def normal_factor(level: float) -> float:
    """The raw MC-dropout interval's half-width in standard deviations (normal quantile)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


def conformal_factor(scores: np.ndarray, level: float) -> np.ndarray:
    """Per column (step ahead), the split-conformal quantile of the scores ``[n, H]``: the
    ``ceil((n + 1)·level)``-th smallest, capped at the largest. At least ``level`` of the
    scores are at or below it."""
    s = np.sort(np.asarray(scores, dtype=np.float64), axis=0)
    n = s.shape[0]
    if n == 0:
        raise ShapeError("calibration needs at least one held-out window")
    k = min(n, math.ceil((n + 1) * level))
    return s[k - 1]


def bounds(mean: np.ndarray, sd: np.ndarray, factor) -> tuple[np.ndarray, np.ndarray]:
    """``mean ∓ factor·sd``; ``factor`` a scalar or one per step (last axis)."""
    half = np.asarray(factor, dtype=np.float64) * sd
    return mean - half, mean + half


# ----------------------------------------------------------------------------- dropout placement


def calibration_table(scores: np.ndarray, levels, raw: bool = True):
    """Per level and step ahead, from held-out normalised errors ``scores`` ``[N, horizon]``:
    the raw (normal) and calibrated (conformal) factors and the share of errors each covers
    (``raw=False``: scores with no normal interval behind them; raw columns NaN)."""
    from ..data.series import require_pandas

    rows = []
    for p in check_levels(levels):
        z, q = normal_factor(p) if raw else math.nan, conformal_factor(scores, p)
        for h in range(scores.shape[1]):
            s = scores[:, h]
            rows.append({"level": p, "step": h + 1, "raw_factor": z, "factor": q[h],
                         "raw_coverage": float(np.mean(s <= z)),
                         "coverage": float(np.mean(s <= q[h]))})
    return require_pandas().DataFrame(rows)


def with_dropout(layers: list[nn.Module], rate: float, outputs: int) -> list[nn.Module]:
    """The layers of a model with a :class:`~seqnets.layers.Dropout` (rate ``rate``) before
    each layer but the first (and but normalisation layers), for MC sampling. A lone layer
    (``wavenet_full``) keeps its own head and gets ``Dropout → Dense(outputs)`` after it.
    Layers that already drop out (the zoo's ``*_dropout`` variants) are returned as they are.
    """
    if rate == 0 or any(has_dropout(m) for m in layers):
        return layers
    if len(layers) == 1:
        return [layers[0], Dropout(rate), Dense(outputs)]
    out = [layers[0]]
    for layer in layers[1:]:
        if not isinstance(layer, BatchNormalization | LayerNormalization):
            out.append(Dropout(rate))
        out.append(layer)
    return out


def has_dropout(model: nn.Module) -> bool:
    """Whether :func:`~seqnets.layers.mc_dropout` makes ``model`` random: a seqnets
    ``Dropout``/``MCDropout`` with a positive rate, or a recurrent layer with (recurrent)
    dropout. ``torch.nn.Dropout`` does not count: ``mc_dropout`` does not switch it on."""
    for m in model.modules():
        if isinstance(m, Dropout) and m.rate > 0:
            return True
        cell = getattr(m, "cell", None)
        if hasattr(m, "mc_dropout") and cell is not None and \
                (getattr(cell, "dropout", 0) > 0 or getattr(cell, "recurrent_dropout", 0) > 0):
            return True
    return False
