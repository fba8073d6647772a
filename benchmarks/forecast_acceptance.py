"""Forecasting acceptance on the shipped datasets: accuracy, intervals, backtest speed, gaps.

    .venv/bin/python benchmarks/forecast_acceptance.py                  # the full run
    .venv/bin/python benchmarks/forecast_acceptance.py --quick --out /tmp/fa   # a smoke run
    options: --epochs N (every fit), --folds K (default 5), --datasets a,b, --out DIR

(a) Accuracy. Per dataset, a rolling-origin backtest (``Forecaster.backtest``: ``--folds``
folds of ``step`` origins, the model REFITTED per fold on the data before the fold) of one
model, against the naive, seasonal naive and linear baselines: MASE per method (mean over
folds; below 1 beats the in-sample seasonal naive forecast). The model is chosen among a
few CANDIDATES per dataset without looking at the test folds: each candidate is fitted on
the data before the first fold's cut and scored by MAE on the held-out tail of that part
(``Forecaster.validation_``); the lowest wins.
  - co2_weekly (trend + 52-week season): window 104 (two years), horizon 13 (a quarter),
    52 origins per fold; GRU with difference=1 (removes the trend; the model learns the
    season from two years of context) or difference=52 (removes trend and season), a
    causal-convolution WaveNet with difference=1, the mlp direct head with difference=1, and
    the mlp on a linear base (``base="linear"``: it learns the least-squares forecast's
    errors) over windows 52, 104 and 156 with the MAE loss and conformal intervals.
  - elnino_monthly (no trend, a 12-month cycle, irregular El Nino swings): window 36,
    horizon 12, 12 origins per fold; GRU on levels or with difference=12, WaveNet on
    levels, the mlp direct head on levels, and the mlp on a linear base over windows 24 and
    36 with the MAE loss.
  Every candidate uses the Forecaster's defaults otherwise (per-series scaling, MSE, MC
  dropout, refit on the whole series after calibrating). The backtest also scores
  statsforecast's AutoETS and AutoTheta (``--stats``; the stats extra), each refitted on
  every origin's history: MASE, and WQL, coverage and width from their own intervals.
(b) Intervals. Share of the backtest's actual values inside the model's 80% and 95%
intervals, raw MC dropout and calibrated (split conformal on each fold's held-out tail;
conformal intervals have no raw form), and the WQL of the model and of statsforecast's.
(c) Speed. 1,000 forecast origins of one series (co2_weekly) through the Forecaster's
batched path (``holdout_forecasts``: windows, transforms, the model on all origins at once,
inversion, the table), with one MC pass, against ONE batched ``seqnets.predict`` over the
same 1,000 prepared windows; same thread count. Acceptance: ratio <= 3.
(d) Imputation. Per dataset, 10% of the observed points removed at random (seeded) in
separate gaps of 1 to 24 steps; MAE on them of the ``Imputer`` (bidirectional GRU, 2 layers
of 32 units, window 96, 30 epochs, Adam lr 3e-3: a short probe on co2_weekly learnt faster
at 3e-3 than at Keras's 1e-3) and of linear interpolation (pandas ``interpolate``).

Writes forecast_acceptance.json and forecast_acceptance.md (and a backtest plot per
dataset) to --out (default benchmarks/results/forecasting).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import seqnets as sn
from seqnets.chapter.bench import time_call
from seqnets.data import dataset_info, dataset_names, load_dataset
from seqnets.forecast.backtesting import METHODS, per_fold
from seqnets.forecast.imputation import Imputer, gap_lengths
from seqnets.io import atomic_write_text
from seqnets.layers.ops.dispatch import default_threads, thread_count
from seqnets.plotting import backtest_errors

SETUPS = {
    "co2_weekly": {"window": 104, "horizon": 13, "step": 52, "candidates": [
        {"model": "gru", "difference": 1}, {"model": "gru", "difference": 52},
        {"model": "wavenet", "difference": 1},
        {"model": "mlp", "strategy": "direct", "difference": 1},
        {"model": "mlp", "strategy": "direct", "difference": 1, "base": "linear", "loss": "mae",
         "window": (52, 104, 156), "uncertainty": "conformal"}]},
    "elnino_monthly": {"window": 36, "horizon": 12, "step": 12, "candidates": [
        {"model": "gru", "difference": None}, {"model": "gru", "difference": 12},
        {"model": "wavenet", "difference": None},
        {"model": "mlp", "strategy": "direct", "difference": None},
        {"model": "mlp", "strategy": "direct", "difference": None, "base": "linear",
         "loss": "mae", "window": (24, 36)}]},
}
IMPUTER = {"window": 96, "units": 32, "layers": 2, "epochs": 30, "lr": 3e-3}
SPEED_DATASET, SPEED_ORIGINS = "co2_weekly", 1000
STATS = ("AutoETS", "AutoTheta")   # statsforecast's, fitted per origin (the stats extra)


def log(text: str) -> None:
    print(text, flush=True)


def read(name: str) -> tuple[pd.DataFrame, str | None]:
    """The dataset and the fill its missing values need."""
    return load_dataset(name), "interpolate" if dataset_info(name)["missing"] else None


# ----------------------------------------------------------------------------- (a), (b)


def choose(name: str, setup: dict, folds: int, opts: dict) -> tuple[dict, list[dict]]:
    """The candidate with the lowest held-out MAE on the data before the first test fold."""
    df, fill = read(name)
    cut = len(df) - setup["horizon"] - folds * setup["step"] + 1   # as backtest cuts fold 0
    scores = []
    for cand in setup["candidates"]:
        start = time.perf_counter()
        fc = sn.Forecaster(**{"window": setup["window"], "horizon": setup["horizon"],
                              **opts, **cand}).fit(df.iloc[:cut], fill=fill)
        scores.append({**cand, "valid_mae": fc.validation_["mae"],
                       "seconds": time.perf_counter() - start})
        log(f"  candidate {cand}: held-out MAE {fc.validation_['mae']:.4g} "
            f"({scores[-1]['seconds']:.0f} s)")
    best = min(scores, key=lambda s: s["valid_mae"])
    return {k: v for k, v in best.items() if k not in ("valid_mae", "seconds")}, scores


def backtest(name: str, setup: dict, choice: dict, folds: int, opts: dict,
             stats: tuple = ()) -> pd.DataFrame:
    df, fill = read(name)
    params = {"window": setup["window"], "horizon": setup["horizon"], **opts, **choice}
    # backtest() refits per fold from get_params(); the full-data fit only hands it the
    # series, so it trains for 0 epochs and gets its epochs back before the folds run
    fc = sn.Forecaster(**{**params, "epochs": 0}).fit(df, fill=fill)
    fc.epochs = params["epochs"]
    return fc.backtest(folds=folds, step=setup["step"], per_step=True, stats=stats)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain dicts, NaN as None (valid JSON)."""
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict(orient="records")]


def by_step(steps: pd.DataFrame) -> dict:
    """Per horizon step, mean over folds: MASE per method, and the model's coverage."""
    mean = steps.groupby(["method", "step"])["mase"].mean()
    model = steps[steps["method"] == "model"].groupby("step").mean(numeric_only=True)
    return {"mase": {m: [round(float(v), 4) for v in mean[m]] for m in METHODS},
            "coverage": {c: [round(float(v), 4) for v in model[c]]
                         for c in model.columns if "coverage_" in c}}


def summarise(frame: pd.DataFrame) -> dict:
    """Means over the folds: MASE and MAE of every method; coverage of the model; WQL,
    coverage and width of the model and of each statsforecast model (``probabilistic``)."""
    mean = frame.groupby("method", sort=False).mean(numeric_only=True)
    methods = list(mean.index)
    model = frame[frame["method"] == "model"]
    cover = {c: float(model[c].mean()) for c in frame.columns if "coverage_" in c}
    prob = {m: {c: float(mean.loc[m, c]) for c in mean.columns
                if c == "wql" or c.startswith(("coverage_", "width_"))}
            for m in methods if m == "model" or m not in METHODS}
    return {"mase": {m: float(mean.loc[m, "mase"]) for m in methods},
            "mae": {m: float(mean.loc[m, "mae"]) for m in methods}, "coverage": cover,
            "probabilistic": prob}


# ----------------------------------------------------------------------------- (c)


def best_of(fn, repeats: int = 5) -> float:
    """The fastest of ``repeats`` timed calls after a warm-up."""
    return time_call(fn, repeats, summary=min)


def speed(choice: dict, opts: dict) -> dict:
    """Seconds for 1,000 origins through the Forecaster vs one batched predict call."""
    setup = SETUPS[SPEED_DATASET]
    df, fill = read(SPEED_DATASET)
    fc = sn.Forecaster(**{"window": setup["window"], "horizon": setup["horizon"], **opts,
                          "epochs": 1, "mc_samples": 1, **choice,
                          "holdout": SPEED_ORIGINS}).fit(df, fill=fill)
    ss = fc.series_
    origins = [np.arange(fc.cuts_[0], ss.lengths[0] - fc.horizon + 1)]
    assert len(origins[0]) == SPEED_ORIGINS
    x = fc._inputs(fc._transformed(ss), origins)                     # the same windows
    threads = default_threads(fc.model_)                             # as the Forecaster uses

    def raw():
        with thread_count(threads):
            sn.predict(fc.model_, x, batch_size=len(x))

    path = best_of(lambda: fc.holdout_forecasts(intervals=()))
    one = best_of(raw)
    fc.mc_samples = opts["mc_samples"]
    mc = best_of(lambda: fc.holdout_forecasts(intervals=(0.8, 0.95)), repeats=1)
    return {"dataset": SPEED_DATASET, "origins": SPEED_ORIGINS, "model": choice["model"],
            "window": fc.window, "threads": threads, "forecaster_s": path,
            "one_predict_s": one, "ratio": path / one, "accepted": path / one <= 3,
            "mc_samples": fc.mc_samples, "forecaster_mc_s": mc,
            "mc_ratio_per_pass": mc / fc.mc_samples / one}


# ----------------------------------------------------------------------------- (d)


def remove_points(y: np.ndarray, rate: float, max_gap: int, seed: int) -> np.ndarray:
    """Boolean mask of removed points: separate interior gaps of 1 to ``max_gap`` observed
    points (one kept point between gaps and next to every missing value) until ``rate`` of
    the observed points are gone."""
    rng = np.random.default_rng(seed)
    free = ~np.isnan(y)
    hole = np.zeros(len(y), dtype=bool)
    goal = rate * free.sum()
    while hole.sum() < goal:
        length = int(rng.integers(1, max_gap + 1))
        start = int(rng.integers(1, len(y) - length - 1))
        around = slice(start - 1, start + length + 1)
        if free[around].all() and not hole[around].any():
            hole[start:start + length] = True
    return hole


def imputation(name: str, settings: dict, seed: int) -> dict:
    df, _ = read(name)
    hole = remove_points(df["y"].to_numpy(), 0.10, 24, seed)
    holed = df.assign(y=df["y"].where(~hole))
    start = time.perf_counter()
    filled = Imputer("bigru", seed=seed, **settings).fit(holed).fill()["y"].to_numpy()
    seconds = time.perf_counter() - start
    linear = holed["y"].interpolate(method="linear", limit_direction="both").to_numpy()
    truth = df["y"].to_numpy()
    lengths = np.repeat(gap_lengths(hole), gap_lengths(hole))   # each point's gap length
    row = {"dataset": name, "removed": int(hole.sum()), "gaps": len(gap_lengths(hole)),
           "imputer_mae": float(np.abs(filled[hole] - truth[hole]).mean()),
           "linear_mae": float(np.abs(linear[hole] - truth[hole]).mean()),
           "imputer_seconds": seconds, "by_gap_length": {}}
    for lo, hi in ((1, 6), (7, 12), (13, 24)):
        sel = (lengths >= lo) & (lengths <= hi)
        if sel.any():
            err = np.abs(filled[hole] - truth[hole])[sel].mean()
            lin = np.abs(linear[hole] - truth[hole])[sel].mean()
            row["by_gap_length"][f"{lo}-{hi}"] = {"points": int(sel.sum()),
                                                  "imputer_mae": float(err),
                                                  "linear_mae": float(lin)}
    return row


# ----------------------------------------------------------------------------- report


def markdown(results: dict) -> str:
    s = results["settings"]
    lines = ["# Forecasting acceptance", "",
             f"`{s['command']}` — {s['folds']} folds, {s['epochs']} epochs, torch "
             f"{s['torch']}, {s['machine']}; wall time {s['wall_seconds']:.0f} s.", "",
             "## (a) MASE, mean over the backtest folds (lower is better)", "",
             "| dataset | model (chosen before the test folds) | model | naive | "
             "seasonal naive | linear | " + " | ".join(s["stats"]) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(s["stats"])]
    for name, r in results["datasets"].items():
        m = r["mase"]
        lines.append(f"| {name} | {r['choice']} | " + " | ".join(
            f"**{m[k]:.3f}**" if m[k] == min(m.values()) else f"{m[k]:.3f}"
            for k in (*METHODS, *s["stats"])) + " |")
    lines += ["", "## (b) Interval coverage over the backtest (model)", "",
              "| dataset | 80% raw | 80% calibrated | 95% raw | 95% calibrated |",
              "|---|---|---|---|---|"]
    for name, r in results["datasets"].items():
        c = r["coverage"]   # no raw coverage for conformal intervals: they have no raw form
        lines.append(f"| {name} | " + " | ".join(
            "— (conformal)" if c.get(k) is None or c[k] != c[k] else f"{c[k]:.3f}" for k in
            ("raw_coverage_80", "coverage_80", "raw_coverage_95", "coverage_95")) + " |")
    lines += ["", "WQL (quantiles 0.025, 0.1, 0.5, 0.9, 0.975 from the intervals and the "
              "forecast; lower is better), coverage and mean width over the mean |actual| "
              "(calibrated for the model; statsforecast's own intervals):", "",
              "| dataset | method | WQL | 80% covered | 95% covered | width 80% | width 95% |",
              "|---|---|---|---|---|---|---|"]
    for name, r in results["datasets"].items():
        for method, p in r["probabilistic"].items():
            lines.append(f"| {name} | {method} | " + " | ".join(
                f"{p.get(k, float('nan')):.4f}" if k == "wql" else
                f"{p.get(k, float('nan')):.3f}" for k in
                ("wql", "coverage_80", "coverage_95", "width_80", "width_95")) + " |")
    lines += ["", "Per horizon step (1 = one step ahead), mean over folds:", ""]
    for name, r in results["datasets"].items():
        steps = r["by_step"]
        lines.append(f"- {name}: MASE " + " ".join(f"{v:.2f}" for v in steps["mase"]["model"]))
        for c in ("coverage_80", "coverage_95"):
            if c in steps["coverage"]:
                lines.append(f"  - {c}: " + " ".join(f"{v:.2f}" for v in steps["coverage"][c]))
    if "speed" in results:
        v = results["speed"]
        lines += ["", "## (c) Backtest speed", "",
                  f"{v['origins']} origins of {v['dataset']} ({v['model']}, window "
                  f"{v['window']}, {v['threads']} thread(s)): Forecaster path "
                  f"{v['forecaster_s'] * 1e3:.1f} ms, one batched predict "
                  f"{v['one_predict_s'] * 1e3:.1f} ms: **ratio {v['ratio']:.2f}** "
                  f"(acceptance <= 3: {'yes' if v['accepted'] else 'NO'}). With "
                  f"{v['mc_samples']} MC passes and intervals: {v['forecaster_mc_s']:.2f} s, "
                  f"{v['mc_ratio_per_pass']:.2f}x one predict per pass."]
    lines += ["", "## (d) Imputation: MAE on 10% removed points (gaps of 1-24 steps)", "",
              "| dataset | removed points | gaps | Imputer (bidirectional GRU) | linear "
              "interpolation | by gap length (Imputer / linear) |", "|---|---|---|---|---|---|"]
    for r in results["imputation"]:
        parts = ", ".join(f"{k}: {b['imputer_mae']:.3f} / {b['linear_mae']:.3f}"
                          for k, b in r["by_gap_length"].items())
        lines.append(f"| {r['dataset']} | {r['removed']} | {r['gaps']} | "
                     f"{r['imputer_mae']:.4f} | {r['linear_mae']:.4f} | {parts} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every fit "
                        "(default 20; imputer 30; quick 2)")
    parser.add_argument("--folds", type=int, default=None, help="backtest folds (default 5)")
    parser.add_argument("--datasets", default=",".join(dataset_names()))
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 epochs, 2 folds, one candidate, small models")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "forecasting"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stats", default=",".join(STATS),
                        help="statsforecast models scored beside the model in the backtest "
                        f"(default {','.join(STATS)}; '' for none; needs seqnets[stats])")
    args = parser.parse_args()
    stats = tuple(n.strip() for n in args.stats.split(",") if n.strip())
    epochs = args.epochs or (2 if args.quick else 20)
    folds = args.folds or (2 if args.quick else 5)
    opts = {"epochs": epochs, "seed": args.seed, "mc_samples": 20 if args.quick else 100}
    imputer = dict(IMPUTER, epochs=args.epochs or IMPUTER["epochs"])
    if args.quick:
        opts["model_options"] = {"units": 8}
        imputer.update(units=8, layers=1, epochs=epochs)
    out = Path(args.out)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    wall = time.perf_counter()
    results = {"datasets": {}, "imputation": []}
    for name in names:
        setup = dict(SETUPS[name])
        if args.quick:
            setup["candidates"] = setup["candidates"][:1]
        log(f"{name}: choosing among {len(setup['candidates'])} candidate(s)")
        choice, scores = choose(name, setup, folds, opts)
        log(f"{name}: backtest of {choice}, {folds} folds")
        steps = backtest(name, setup, choice, folds, opts, stats)
        frame = per_fold(steps)
        log(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        backtest_errors(steps, out / f"forecast_acceptance_{name}.png", title=name)
        results["datasets"][name] = {"setup": setup,
                                     "choice": choice, "selection": scores,
                                     "folds": records(frame), "by_step": by_step(steps),
                                     **summarise(frame)}
        log(json.dumps(results["datasets"][name]["by_step"]))
    if SPEED_DATASET in names:
        choice = results["datasets"][SPEED_DATASET]["choice"]
        log("speed: 1,000 origins through the Forecaster vs one batched predict")
        results["speed"] = speed(choice, opts)
        log(json.dumps(results["speed"], indent=1))
    for name in names:
        log(f"{name}: imputation")
        results["imputation"].append(imputation(name, imputer, args.seed))
        log(json.dumps(results["imputation"][-1], indent=1))
    results["settings"] = {
        "command": "python benchmarks/forecast_acceptance.py " + " ".join(sys.argv[1:]),
        "epochs": epochs, "folds": folds, "imputer": imputer, "seed": args.seed, "stats": stats,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "wall_seconds": time.perf_counter() - wall}
    report = markdown(results)
    atomic_write_text(out / "forecast_acceptance.json",
                      json.dumps(results, indent=1, default=float) + "\n")
    atomic_write_text(out / "forecast_acceptance.md", report)
    log("\n" + report)
    log(f"Results: {out}/forecast_acceptance.json, {out}/forecast_acceptance.md")


if __name__ == "__main__":
    main()
