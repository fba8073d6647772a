"""Why the quantile intervals over-cover on a competition's test part: the same model's
coverage on the held-out part it is calibrated on, and on the test part.

    /tmp/fcenv/bin/python src/seqnets/forecast/tools_side.py tourism_monthly \
        /tmp/tourism.json --series-only
    .venv/bin/python benchmarks/forecast_calibration_shift.py --tools-json /tmp/tourism.json \
        --out benchmarks/results/forecasting/calibration_shift_tourism_monthly.md

Fits the ``"auto"`` candidate that wins on both competitions (the mlp over windows h, 1.5h
and 2h, per-window scaling, quantile outputs; 10 epochs, seed 0) once, then scores its 80%
and 95% intervals on every series' test part: raw (the learnt quantiles) and calibrated
(CQR on the held-out origins; also CQR on each series' last held-out origin only, the
most recent errors), from the final model (refitted on all the training part) and from
the model that was calibrated (trained before the held-out part). The held-out rows are
the calibrated model on its own held-out origins. If the held-out coverage is nominal
and the test coverage is not, the test part differs from the past the intervals were
calibrated on, and no calibration on that past moves it.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np

import seqnets as sn
from seqnets.forecast import benchmark, metrics
from seqnets.io import atomic_write_text

QUANTILES = {0.025: "lower_95", 0.1: "lower_80", 0.5: "mean", 0.9: "upper_80",
             0.975: "upper_95"}


def fitted(series: list[dict], horizon: int) -> sn.Forecaster:
    h = horizon
    fc = sn.Forecaster(horizon=h, model="mlp", strategy="direct",
                       window=(h, round(1.5 * h), 2 * h), scale="window", dropout=0.0,
                       uncertainty="quantile", epochs=10, batch_size=256, season=12,
                       seed=0, quiet=True)
    return fc.fit(benchmark._long_table(series, with_test=False), time="ds", target="y",
                  id="id")


def interval_scores(actual: np.ndarray, bands: dict) -> dict:
    row = {}
    for p in ("80", "95"):
        lo, hi = np.asarray(bands[f"lower_{p}"]), np.asarray(bands[f"upper_{p}"])
        row[f"coverage_{p}"] = metrics.coverage(actual, lo, hi)
        row[f"width_{p}"] = float(np.mean(hi - lo) / np.mean(np.abs(actual)))
    row["wql"] = metrics.wql(actual, {q: np.asarray(bands[c]) for q, c in QUANTILES.items()})
    return row


def test_rows(fc: sn.Forecaster, series: list[dict]) -> dict:
    full = fc.history(benchmark._long_table(series, with_test=True), time="ds", target="y",
                      id="id")
    origins = [np.array([len(s["train"])]) for s in series]
    actual = np.array([s["test"] for s in series], dtype=np.float64)
    calibrated = copy.copy(fc)
    calibrated.model_, calibrated.base_ = fc.holdout_model_, fc.holdout_base_
    # each series' last held-out origin: the last row of its block of scores
    per_series = [n - fc.horizon + 1 - c for c, n in zip(fc.cuts_, fc.series_.lengths,
                                                         strict=True)]
    recent = copy.copy(fc)
    recent.scores_ = fc.scores_[:, np.cumsum(per_series) - 1]
    rows = {}
    for model, est in (("final (refitted)", fc), ("calibrated model", calibrated)):
        result = est.forecast_origins(full, origins)
        for label, cal in (("raw", False), ("CQR, all held-out origins", True)):
            bands = {**result.bands[(0.8, cal)], **result.bands[(0.95, cal)]}
            rows[f"test, {model}, {label}"] = interval_scores(actual, bands)
    result = recent.forecast_origins(full, origins)
    bands = {**result.bands[(0.8, True)], **result.bands[(0.95, True)]}
    rows["test, final (refitted), CQR, last held-out origin per series"] = \
        interval_scores(actual, bands)
    return rows


def held_out_rows(fc: sn.Forecaster) -> dict:
    rows = {}
    for label, cal in (("raw", False), ("CQR", True)):
        frame = fc.holdout_forecasts(calibrated=cal)
        actual = frame["actual"].to_numpy()
        rows[f"held-out, calibrated model, {label}"] = interval_scores(
            actual, {c: frame[c].to_numpy() for c in QUANTILES.values()})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools-json", required=True, type=Path,
                        help="the JSON of tools_side.py (--series-only is enough)")
    parser.add_argument("--out", type=Path, help="write the table as Markdown")
    args = parser.parse_args()
    tools = json.loads(args.tools_json.read_text(encoding="utf-8"))
    start = time.perf_counter()
    fc = fitted(tools["series"], tools["horizon"])
    rows = {**held_out_rows(fc), **test_rows(fc, tools["series"])}
    seconds = time.perf_counter() - start
    cols = ["coverage_80", "width_80", "coverage_95", "width_95", "wql"]
    lines = [f"{tools['dataset']}: {len(tools['series'])} series, horizon {tools['horizon']}, "
             f"{fc.scores_.shape[1]} held-out origins, {seconds:.0f} s", "",
             "| scored on, model, intervals | " + " | ".join(cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |"
              for name, row in rows.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
