"""Quantile forecasts (``uncertainty="quantile"``): the pinball loss, monotone quantiles, and
their conformal calibration (conformalised quantile regression, CQR).

The model emits, per step ahead, the quantiles :data:`QUANTILES` of the target: the median
is the forecast, the 10% / 90% and 2.5% / 97.5% pairs are the raw 80% and 95% intervals. It is
trained on the pinball loss ``max(q·d, (q - 1)·d)`` with ``d = y - forecast_q``, whose
minimiser is the ``q``-quantile. The outputs are sorted per step, so quantiles never cross
(a rearrangement that can only lower the pinball loss). Calibration (CQR, Romano et al. 2019):
on the held-out windows, the score of an actual value is how far it falls outside its raw
interval, ``max(lo - y, y - hi)`` (negative inside), in the window's unit; the calibrated
interval widens (or narrows) the raw one by the conformal quantile of those scores, per step.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from . import intervals as iv

__all__ = ["LEVELS", "QUANTILES", "bounds_at", "cqr_scores", "pinball", "quantile_table"]

QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)
LEVELS = (0.8, 0.95)     # the central intervals the quantiles give
MEDIAN = QUANTILES.index(0.5)


def pinball(quantiles=QUANTILES):
    """The mean pinball loss of outputs ``[..., k * Q]`` (``Q`` quantiles per target step,
    step-major) against targets ``[..., k]``."""
    q = torch.tensor(quantiles, dtype=torch.float32)

    def pinball_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        pred = out.reshape(*y.shape, len(quantiles))
        d = y.unsqueeze(-1) - pred
        return torch.maximum(q.to(d) * d, (q.to(d) - 1) * d).mean()
    return pinball_loss


def indices(level: float) -> tuple[int, int]:
    """The positions in :data:`QUANTILES` of a central interval's bounds."""
    if level not in LEVELS:
        raise ConfigError(f"quantile intervals exist for the levels {LEVELS} (quantiles "
                          f"{QUANTILES}), got {level!r}")
    return QUANTILES.index(round(0.5 - level / 2, 6)), QUANTILES.index(round(0.5 + level / 2,
                                                                             6))


def cqr_scores(actual: np.ndarray, paths: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Per level of :data:`LEVELS`, how far each actual value ``[N, H]`` falls outside its raw
    interval (from quantile paths ``[Q, N, H]``), in units ``[N, 1]``: ``[levels, N, H]``."""
    out = []
    for level in LEVELS:
        lo, hi = indices(level)
        out.append(np.maximum(paths[lo] - actual, actual - paths[hi]) / unit)
    return np.stack(out)


def bounds_at(paths: np.ndarray, level: float, scores: np.ndarray | None,
              unit: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds at ``level``: the raw quantiles (``scores`` None), or widened
    by the conformal quantile of the held-out ``scores`` per step (``[levels, n, H]``)."""
    lo, hi = indices(level)
    lower, upper = paths[lo], paths[hi]
    if scores is None:
        return lower, upper
    widen = iv.conformal_factor(scores[LEVELS.index(level)], level) * unit
    return lower - widen, upper + widen


def quantile_table(scores: np.ndarray, levels):
    """Per level and step ahead: the conformal widening (in window units) and the share of
    held-out values the raw and the calibrated intervals cover."""
    from ..data.series import require_pandas

    rows = []
    for p in iv.check_levels(levels):
        indices(p)  # refuses a level the quantiles do not give
        s = scores[LEVELS.index(p)]
        q = iv.conformal_factor(s, p)
        for h in range(s.shape[1]):
            rows.append({"level": p, "step": h + 1, "raw_factor": 0.0, "factor": q[h],
                         "raw_coverage": float(np.mean(s[:, h] <= 0)),
                         "coverage": float(np.mean(s[:, h] <= q[h]))})
    return require_pandas().DataFrame(rows)
