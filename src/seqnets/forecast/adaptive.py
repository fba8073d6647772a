"""Adaptive conformal intervals: each level's quantile moves as forecasts are scored.

Split conformal calibration takes, per step ahead, one quantile of the held-out scores and
keeps it. When the errors of the period being forecast are smaller (or larger) than the
held-out ones, the intervals then cover too much (too little) for as long as that lasts.
Adaptive conformal inference (ACI; Gibbs and Candès, "Adaptive conformal inference under
distribution shift", NeurIPS 2021) corrects this with feedback. For each level ``p`` it
keeps a miss rate ``a`` (at first ``1 - p``) and takes the calibration scores' quantile at
``1 - a``. Once an origin's whole forecast period has passed, ``a`` moves by
``rate * ((1 - p) - miss)``, ``miss`` being the share of that origin's steps that fell
outside. Intervals that covered too much get narrower; those that covered too little get
wider. ``rate = 0`` is plain split conformal.

Feedback is delayed, as it is in use: an origin at time ``t`` counts once its last target,
at ``t + horizon - 1``, lies before the origin being forecast. ``a`` is not clipped. Where
``1 - a`` reaches 0, the interval is the point forecast; where it reaches 1, the interval
is the widest the calibration scores hold, where ACI's is infinite. So ACI's long-run
guarantee holds while the errors stay within the largest calibration score: over ``T``
origins the miss rate is then within ``(1 + rate) / (rate * T)`` of ``1 - p`` (their bound
for feedback after every origin; a delay of ``horizon`` origins loosens it by about
``horizon / T``). Errors beyond every calibration score are missed whatever the rate.

:func:`choose_rate` picks the rate on held-out scores alone, before any test data is seen.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from ..checks import flag, positive_int
from ..errors import ConfigError, ShapeError
from . import intervals as iv

# the rates choose_rate tries by default: a log grid from plain split conformal (0) up
RATES = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def check_rate(rate) -> float:
    """A rate as a float, refused unless it is finite and not negative."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or \
            not math.isfinite(rate) or rate < 0:
        raise ConfigError(f"rate: a finite number >= 0 (0 = plain split conformal), got "
                          f"{rate!r}")
    return float(rate)


def quantile_at(scores: np.ndarray, level: float) -> np.ndarray:
    """Per step (column), the split-conformal quantile of ``scores`` ``[n, H]`` at ``level``,
    for any real ``level``: the largest score at 1 or above, zero at 0 or below."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0:
        raise ShapeError(f"calibration scores: a non-empty [n, horizon] array, got shape "
                         f"{s.shape}")
    if level >= 1:
        return s.max(axis=0)
    if level <= 0:
        return np.zeros(s.shape[1])
    return iv.conformal_factor(s, level)


class AdaptiveLevel:
    """ACI for one interval level with delayed feedback: :meth:`factor` at an origin's
    time, then :meth:`observe` what that origin's interval covered. Times must not go
    back."""

    def __init__(self, level: float, rate: float, horizon: int):
        (self.level,) = iv.check_levels(level)
        self.rate = check_rate(rate)
        self.horizon = positive_int(horizon, "horizon")
        self.miss_rate = 1.0 - self.level          # ACI's alpha_t
        self._pending: deque[tuple[int, float]] = deque()
        self._last = -math.inf

    def _absorb(self, now: int) -> None:
        """Apply the feedback of every observed origin whose targets all lie before ``now``."""
        while self._pending and self._pending[0][0] + self.horizon <= now:
            _, miss = self._pending.popleft()
            self.miss_rate += self.rate * ((1.0 - self.level) - miss)

    def factor(self, scores: np.ndarray, now: int) -> np.ndarray:
        """The per-step factor ``[H]`` for an origin at time ``now``, from the calibration
        ``scores`` ``[n, H]``."""
        if now < self._last:
            raise ConfigError(f"origins must come in time order: {now} after {self._last}")
        self._last = now
        self._absorb(now)
        return quantile_at(scores, 1.0 - self.miss_rate)

    def observe(self, time: int, inside) -> None:
        """Record what the interval of the origin at ``time`` covered (``inside``: booleans
        over its steps, or over several series' steps at that time)."""
        if self._pending and time < self._pending[-1][0]:
            raise ConfigError(f"origins must come in time order: {time} after "
                              f"{self._pending[-1][0]}")
        self._pending.append((time, 1.0 - float(np.mean(inside))))


def adaptive_factors(calibration: np.ndarray, scores: np.ndarray, times: Sequence[int],
                     states: dict[float, AdaptiveLevel]) -> dict[float, np.ndarray]:
    """Per level of ``states``, the factors ``[N, H]`` of origins whose scores ``[N, H]``
    lie at ``times`` ``[N]`` (any order; several origins may share a time), calibrated on
    ``calibration`` ``[n, H]`` and adapting on those scores as the times go by. The states
    carry on between calls (folds of a backtest). Levels stay nested: a wider level's
    factor is never below a narrower one's."""
    scores, times = np.asarray(scores, dtype=np.float64), np.asarray(times)
    if scores.ndim != 2 or len(times) != len(scores):
        raise ShapeError(f"scores [N, horizon] and one time per origin: got {scores.shape} "
                         f"and {len(times)} times")
    out = {p: np.empty_like(scores) for p in states}
    for now in np.unique(times):                         # ascending
        rows = times == now
        for p, state in states.items():
            f = state.factor(calibration, int(now))
            out[p][rows] = f
            state.observe(int(now), scores[rows] <= f[None, :])
    nested = sorted(out)
    for low, high in zip(nested, nested[1:], strict=False):
        out[high] = np.maximum(out[high], out[low])
    return out


def check_adaptable(fc) -> None:
    """Refuse a fitted Forecaster whose intervals ACI cannot adapt: quantile and
    distribution outputs (their CQR scores differ per level) and MC dropout without
    dropout (no intervals)."""
    if fc.quantile_paths or not fc.intervals_:
        raise ConfigError("adaptive intervals (rate=) adapt MC dropout (dropout > 0) or "
                          f"conformal intervals; this Forecaster's are {fc.uncertainty!r}"
                          + ("" if fc.intervals_ else " without dropout"))


def adapt_bands(fc, series, origins: list[np.ndarray], result,
                states: dict[float, AdaptiveLevel]) -> None:
    """Replace the calibrated bands of ``result`` (``fc.forecast_origins(series, origins)``)
    by adaptive ones, in place: MC dropout or conformal intervals, the origins in time
    order, each counted in steps from its series' end so that all series' origins line
    up."""
    check_adaptable(fc)
    times = np.concatenate([o - n for o, n in zip(origins, series.lengths, strict=True)])
    factors = adaptive_factors(fc.scores_, fc.origin_scores(series, origins, result), times,
                               states)
    unit = fc._units(series, origins) if fc.uncertainty == "conformal" else \
        iv.spread(result.paths)[1]
    for p, f in factors.items():
        band, name = result.bands[(p, True)], iv.level_name(p)
        band[f"lower_{name}"], band[f"upper_{name}"] = iv.bounds(band["mean"], unit, f)


def choose_rate(scores: np.ndarray, horizon: int, block: int, stride: int = 1,
                levels=(0.8, 0.95), rates: Sequence[float] = RATES, carry: bool = False):
    """The rate whose adaptive intervals keep each block's coverage closest to nominal on
    held-out ``scores`` ``[n, H]`` (one origin per row, one step apart, oldest first).

    The rows are cut into blocks of ``block`` origins; each block after the first is
    forecast from every ``stride``-th origin (as the forecasts will be made, e.g. daily
    origins of half-hourly data: ``stride=48``), the intervals adapting as those origins'
    periods pass. Simulate the use the rate is for. ``carry=False``: each block is a fresh
    start calibrated on the block before it (a fitted Forecaster's intervals adapting over
    the period it forecasts). ``carry=True``: one run through the blocks, each calibrated on
    every origin known before it, the adaptation carried from block to block (a backtest
    with ``rate``, its folds calibrated on the earlier ones). A rate scores the mean, over
    those blocks and the levels, of ``|coverage - level|``; the lowest wins, ties going to
    the smaller rate. Returns the rate and a table (a list of dicts) of every rate's score
    and coverage per block."""
    s = np.asarray(scores, dtype=np.float64)
    levels = iv.check_levels(levels)
    block, stride = positive_int(block, "block"), positive_int(stride, "stride")
    flag(carry, "carry")
    n_blocks = len(s) // block
    if n_blocks < 2:
        raise ConfigError(f"choose_rate needs at least 2 blocks of {block} held-out origins, "
                          f"got {len(s)} origins: hold out more, or use a shorter block")
    table, best = [], None
    for rate in sorted(check_rate(r) for r in rates):
        states, per_block = None, []
        for b in range(1, n_blocks):
            if states is None or not carry:
                states = {p: AdaptiveLevel(p, rate, horizon) for p in levels}
            here = np.arange(b * block, (b + 1) * block, stride)
            known = s[:max(1, b * block - horizon + 1)] if carry else s[(b - 1) * block:b * block]
            factors = adaptive_factors(known, s[here], here, states)
            per_block.append({p: float(np.mean(s[here] <= f)) for p, f in factors.items()})
        error = float(np.mean([abs(c[p] - p) for c in per_block for p in levels]))
        table.append({"rate": rate, "error": error, "blocks": per_block})
        if best is None or error < best[1] - 1e-12:
            best = (rate, error)
    return best[0], table
