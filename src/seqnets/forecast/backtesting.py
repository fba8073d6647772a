"""Rolling-origin evaluation of a :class:`~seqnets.Forecaster` against baselines.

Fold ``k`` of ``folds`` cuts every series ``(folds - k) * step + horizon - 1`` steps before its
end and REFITS a copy of the Forecaster on the part before the cut: transforms, model and
calibration see nothing after it (the honest protocol; keep it cheap with few epochs). The
fold then forecasts from each of the ``step`` origins after the cut (inputs may use values up
to the origin, as a deployed model would), all origins of all series in ONE batch per MC pass.
Baselines, scored on the same origins: ``naive`` (last value), ``seasonal_naive`` (the value a
season earlier) and ``linear`` (least squares from the model's transformed windows to the next
``horizon`` values, inverted like the model's forecasts). ``stats=`` adds statsforecast's
models (:mod:`~seqnets.forecast.statistical`, the ``stats`` extra), each fitted anew on every
origin's history, with their own intervals scored like the model's.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from ..checks import flag, positive_int
from ..data.series import SeriesSet, require_pandas
from ..data.windows import windows
from ..errors import ConfigError, DataError, NotFittedError
from ..models.baselines import naive, seasonal_naive
from . import adaptive, metrics, statistical
from . import intervals as iv

__all__ = ["backtest", "default_season", "per_fold", "step_seconds", "summary"]

METHODS = ("model", "naive", "seasonal_naive", "linear")
_SEASONS = {"h": 24, "D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4,
            "QE": 4}


def default_season(freq) -> int:
    """Season length for a pandas frequency: 52 weekly, 12 monthly, 7 daily, 4 quarterly,
    and for sub-daily steps the steps in a day (24 hourly, 48 half-hourly); 1 (no season)
    for integer steps and anything else."""
    if isinstance(freq, int | np.integer):
        return 1
    seconds = step_seconds(freq)
    if seconds is not None:
        return int(86400 // seconds) if 86400 % seconds == 0 and seconds < 86400 else 1
    base = re.sub(r"^\d+", "", str(freq)).split("-")[0]
    return _SEASONS.get(base, 1) if re.match(r"^\d*", str(freq))[0] in ("", "1") else 1


def step_seconds(freq) -> float | None:
    """Seconds per step of a sub-daily frequency alias ("30min", "h", "15s"), else None."""
    m = re.match(r"^(\d*)(min|T|h|H|s|S)$", str(freq))
    if m is None:
        return None
    return float(int(m[1] or 1) * {"min": 60, "T": 60, "h": 3600, "H": 3600, "s": 1,
                                   "S": 1}[m[2]])


def backtest(fc: Any, folds: int = 5, step: int | None = None, season: int | None = None,
             intervals=(0.8, 0.95), per_step: bool = False, adapt: bool = True,
             stats=(), rate: float | None = None):
    """One row per fold and method: ``fold``, ``method``, ``origins`` (forecasts scored),
    ``mae``, ``rmse``, ``smape``, ``mase`` (scaled by the seasonal naive error on each series'
    training part), ``wql`` (the weighted quantile loss over the forecast as the median and
    the calibrated bounds as quantiles; a point forecast's is its MAE over the mean |y|),
    ``crps`` (the CRPS estimated from the same quantiles, each error over its series'
    seasonal naive error as in MASE; a point forecast's is its MASE), and for the model
    ``coverage_<level>`` (calibrated), ``raw_coverage_<level>`` (raw) and ``width_<level>``
    (the calibrated interval's mean width over the mean |actual|); NaN for the baselines.
    ``stats``: names of :data:`~seqnets.forecast.statistical.MODELS` (``"AutoETS"``, ...)
    scored as more methods, their coverage, width, WQL and CRPS from their own intervals.
    Per fold, each is the mean over the horizon steps. ``per_step=True``: one row per fold,
    method and horizon step (column ``step``, 1 = one step ahead) instead; :func:`per_fold`
    turns that frame into the default one. ``adapt`` (default): the intervals of each fold
    are calibrated on its own held-out scores and on the realised errors of the earlier
    folds whose forecast periods ended before its cut (the errors of refitted models,
    like the one the fold forecasts with), so calibration adapts as folds go by. ``rate``:
    adaptive conformal intervals (:mod:`seqnets.forecast.adaptive`): each level's quantile
    also moves with the coverage of the origins already past, origin by origin and across
    folds, by this step (MC dropout and conformal intervals; ``None``: off)."""
    if not hasattr(fc, "model_"):
        raise NotFittedError("this Forecaster is not fitted yet: call .fit(data) first")
    if getattr(fc, "tail_only_", False):
        raise ConfigError("a loaded Forecaster keeps only the end of each series; fit it on "
                          "the data to backtest")
    folds = positive_int(folds, "folds")
    step = fc.horizon if step is None else positive_int(step, "step")
    season = fc.season_ if season is None else positive_int(season, "season")
    levels = iv.check_levels(intervals)
    flag(per_step, "per_step")
    flag(adapt, "adapt")
    stats = statistical.check_models(stats)
    states = None
    if rate is not None:
        adaptive.check_adaptable(fc)
        states = {p: adaptive.AdaptiveLevel(p, adaptive.check_rate(rate), fc.horizon)
                  for p in levels}
    ss, rows, past = fc.series_, [], []
    for k in range(folds):
        cuts = [n - fc.horizon - (folds - k) * step + 1 for n in ss.lengths]
        # earlier folds whose last target lies before this cut: (k - j) * step >= step + H - 1
        known = [scores for j, scores in enumerate(past)
                 if adapt and (k - j) * step >= step + fc.horizon - 1]
        rows += _fold(fc, ss, k, cuts, step, season, levels, known, past, stats, states)
    frame = require_pandas().DataFrame(rows)
    return frame if per_step else per_fold(frame)


def per_fold(steps):
    """A ``per_step=True`` backtest frame summed up per fold and method: every step has the
    same origins, so MAE, sMAPE, MASE and coverage are the steps' means and RMSE the root of
    their mean square."""
    rmse = steps["rmse"] ** 2
    grouped = steps.assign(rmse=rmse).drop(columns="step").groupby(["fold", "method"],
                                                                     sort=False)
    out = grouped.mean()
    out["origins"] = grouped["origins"].first()
    out["rmse"] = np.sqrt(out["rmse"])
    return out.reset_index()


def summary(frame):
    """A backtest frame (per fold, or ``per_step=True``) as one row per method: the mean of
    every metric and coverage over the folds, methods in :data:`METHODS` order, then any
    statsforecast models in the frame's order."""
    folds = per_fold(frame) if "step" in frame.columns else frame
    mean = folds.drop(columns=["fold", "origins"]).groupby("method").mean()
    order = [m for m in METHODS if m in mean.index]
    return mean.reindex(order + [m for m in frame["method"].unique() if m not in order])


def _fold(fc: Any, ss: SeriesSet, k: int, cuts: list[int], step: int, season: int,
          levels: tuple, known: list, past: list, stats: tuple = (),
          states: dict | None = None) -> list[dict]:
    """Refit a copy of ``fc`` on every series before its cut, forecast the ``step`` origins
    after it (through the public :meth:`~seqnets.Forecaster.forecast_origins`), and score the
    model and the baselines per horizon step. ``known``: conformity scores of earlier folds
    to calibrate on too; this fold's own are appended to ``past``; ``stats``: statsforecast
    models fitted on every origin's history; ``states``: the
    :class:`~seqnets.forecast.adaptive.AdaptiveLevel` per level, carried across folds."""
    lookback = max(fc.input_window, season)
    need = max(fc.min_length(), lookback + 1)
    if min(cuts) < need:
        raise DataError(f"fold {k}: a series is cut at step {min(cuts)}, too early to train "
                        f"(needs {need}). Fix: fewer folds, a smaller step, or a shorter window")
    part = SeriesSet(ss.ids, [i[:c] for i, c in zip(ss.index, cuts, strict=True)],
                     [v[:c] for v, c in zip(ss.values, cuts, strict=True)], ss.targets,
                     ss.covariates, ss.freq, ss.time_name, ss.id_name)
    fold = type(fc)(**fc.get_params()).fit(part)
    if known and fold.scores_ is not None:   # along the origins axis
        fold.scores_ = np.concatenate([fold.scores_, *known], axis=-2)
    origins = [np.arange(c, c + step) for c in cuts]
    result = fold.forecast_origins(ss, origins, levels, seed=fc.seed)
    past.append(None if fold.scores_ is None else fold.origin_scores(ss, origins, result))
    if states:
        adaptive.adapt_bands(fold, ss, origins, result, states)
    actual = result.actual
    raw = [torch.from_numpy(np.array(v[:, :1])) for v in ss.values]
    back = np.concatenate([windows(r, lookback)[torch.as_tensor(o - lookback)].numpy()
                           for r, o in zip(raw, origins, strict=True)])     # (N, lookback, 1)
    scale = np.repeat([metrics.seasonal_scale(v[:c, 0], season)
                       for v, c in zip(ss.values, cuts, strict=True)], step)[:, None]
    forecasts = {"model": result.mean, "naive": naive(back, fc.horizon),
                 "seasonal_naive": seasonal_naive(back, season, fc.horizon),
                 "linear": result.linear}
    bands_of = {"model": result.bands}
    histories = [v[:o, 0] for v, os in zip(ss.values, origins, strict=True) for o in os]
    for name in stats:
        out = statistical.forecasts(name, histories, fc.horizon, season, levels)
        forecasts[name] = out.pop("mean")
        bands_of[name] = {(p, True): out for p in levels}   # their own, calibrated or not
    rows = []
    for method in (*METHODS, *stats):
        pred = forecasts[method]
        bands = bands_of.get(method, {})
        for h in range(fc.horizon):
            at = slice(h, h + 1)
            row = {"fold": k, "method": method, "step": h + 1, "origins": len(actual),
                   "mae": metrics.mae(actual[:, at], pred[:, at]),
                   "rmse": metrics.rmse(actual[:, at], pred[:, at]),
                   "smape": metrics.smape(actual[:, at], pred[:, at]),
                   "mase": metrics.mase(actual[:, at], pred[:, at], scale)}
            quantiles = {0.5: pred[:, at]}
            for p in levels:
                name = iv.level_name(p)
                for prefix, calibrated in (("", True), ("raw_", False)):
                    band = bands.get((p, calibrated))
                    row[f"{prefix}coverage_{name}"] = np.nan if band is None else \
                        metrics.coverage(actual[:, at], band[f"lower_{name}"][:, at],
                                         band[f"upper_{name}"][:, at])
                band = bands.get((p, True))
                row[f"width_{name}"] = np.nan if band is None else float(
                    np.mean(band[f"upper_{name}"][:, at] - band[f"lower_{name}"][:, at])
                    / max(np.mean(np.abs(actual[:, at])), 1e-12))
                if band is not None:
                    quantiles[(1 - p) / 2] = band[f"lower_{name}"][:, at]
                    quantiles[(1 + p) / 2] = band[f"upper_{name}"][:, at]
            row["wql"] = metrics.wql(actual[:, at], quantiles)
            row["crps"] = metrics.crps(actual[:, at], quantiles, scale)
            rows.append(row)
    return rows
