"""``Forecaster(model="auto")``: choose a recipe on the held-out part, then fit it on all.

Each candidate is a complete recipe (model, strategy, windows, scaling, loss, intervals)
fitted like any Forecaster up to the held-out part of every series (``refit=False``); each is
scored on the held-out origins by MASE (each series' errors over its in-sample seasonal
naive error, season ``season_``, on the part before the held-out one) and sMAPE. The best by
MASE is kept and, with ``refit``, trained anew on the whole series. Nothing after the
held-out cut of a series enters the choice, so a backtest of an ``"auto"`` Forecaster,
which refits it per fold, chooses per fold without seeing that fold's future.

The candidates follow rules, not the data: windows in multiples of the horizon (N-BEATS's
look-back rule), per-window scaling, quantile outputs (the pinball loss; the median is the
forecast) calibrated on the held-out part.
"""

from __future__ import annotations

import time

import numpy as np

from ..data.series import SeriesSet, require_pandas
from . import metrics

__all__ = ["candidates", "choose"]


def candidates(fc) -> dict[str, dict]:
    """The recipes ``"auto"`` tries, by name: settings that override ``fc``'s own."""
    h = fc.horizon
    windows = tuple(sorted({h, max(h + 1, round(1.5 * h)), 2 * h}))
    common = {"scale": "window", "dropout": 0.0, "uncertainty": "quantile"}
    return {
        "mlp over windows": {"model": "mlp", "strategy": "direct", "window": windows,
                             **common},
        "gru seq2seq": {"model": "gru", "strategy": "seq2seq", "window": 2 * h, "base": None,
                        **common},
    }


def choose(fc, ss: SeriesSet):
    """Fit every candidate of :func:`candidates` on ``ss`` up to its held-out part; return
    the best one (fitted, not refitted) and the table of what each scored."""
    params = {k: v for k, v in fc.get_params().items() if k != "model"}
    rows, fitted = [], {}
    for name, recipe in candidates(fc).items():
        start = time.perf_counter()
        cand = type(fc)(**{**params, **recipe, "refit": False}).fit(ss)
        frame = cand.holdout_forecasts(intervals=())
        rows.append({"candidate": name, "model": recipe["model"],
                     "strategy": recipe["strategy"], "window": recipe["window"],
                     **_scores(cand, frame), "seconds": time.perf_counter() - start})
        fitted[name] = cand
    table = require_pandas().DataFrame(rows)
    best = table.loc[table["mase"].idxmin(), "candidate"]
    table["chosen"] = table["candidate"] == best
    return fitted[best], table


def _scores(fc, frame) -> dict:
    """Held-out sMAPE and MASE of a candidate, each series scaled by its seasonal naive
    error before its held-out part."""
    ss = fc.series_
    season = fc.season_
    scale = {}
    for sid, v, c in zip(ss.ids, ss.values, fc.cuts_, strict=True):
        y = v[:c, 0]
        lag = season if len(y) > season else 1
        s = metrics.seasonal_scale(y, lag) if len(y) > lag else 0.0
        scale[sid] = s if s > 0 else max(float(np.mean(np.abs(y))), 1e-12)
    per = frame["id"].map(scale).to_numpy(dtype=np.float64)
    actual, mean = frame["actual"].to_numpy(), frame["mean"].to_numpy()
    return {"smape": metrics.smape(actual, mean),
            "mase": float(np.mean(np.abs(actual - mean) / per))}
