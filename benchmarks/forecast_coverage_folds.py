"""Interval coverage and MASE on the two shipped series over many backtest folds.

    .venv/bin/python benchmarks/forecast_coverage_folds.py --folds 20 \
        --out benchmarks/results/forecasting/coverage_20_folds.md

The acceptance run (``forecast_acceptance.py``) backtests 5 folds, each a year of forecast
origins: 5 years of test period on each series, and the forecasts of one year share its
weather, so the coverage of 5 folds swings with the years they happen to hold. This script
backtests
each series' model (the recipe the acceptance run chose before its test folds) over more
folds, the same settings otherwise (20 epochs, 100 MC passes, seed 42), and prints the mean
per method: MASE, and the calibrated and raw coverage of the model's intervals, then the
model's coverage fold by fold. The earlier of these folds lie in the data the recipe was
chosen on (the choice, not the training).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import seqnets as sn
from seqnets.io import atomic_write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecast_acceptance import SETUPS, read  # noqa: E402

# the acceptance run's choices: co2_weekly the mlp over windows 52/104/156 on a linear base
# (its last candidate), elnino_monthly the GRU on levels
CHOSEN = {"co2_weekly": SETUPS["co2_weekly"]["candidates"][-1],
          "elnino_monthly": {"model": "gru", "difference": None}}
COLUMNS = ["mase", "wql", "coverage_80", "raw_coverage_80", "coverage_95", "raw_coverage_95"]


def run(name: str, folds: int) -> tuple[str, float]:
    setup = SETUPS[name]
    df, fill = read(name)
    start = time.perf_counter()
    # the full-data fit only hands backtest() the series; each fold refits for 20 epochs
    fc = sn.Forecaster(**{"window": setup["window"], "horizon": setup["horizon"], "epochs": 0,
                          "seed": 42, "mc_samples": 100, **CHOSEN[name]}).fit(df, fill=fill)
    fc.epochs = 20
    res = fc.backtest(folds=folds, step=setup["step"])
    table = res.groupby("method")[COLUMNS].mean()
    lines = ["| method | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for method, row in table.iterrows():
        cells = ["" if v != v else f"{v:.4f}" if c == "wql" else f"{v:.3f}"
                 for c, v in row.items()]  # NaN: no intervals (or no raw form)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    # the model's coverage fold by fold, oldest first: the last 5 are the acceptance run's
    model = res[res["method"] == "model"].sort_values("fold")
    for p in ("80", "95"):
        cov = model[f"coverage_{p}"].to_numpy()
        lines.append(f"\nModel's {p}% coverage per fold, oldest first: "
                     + ", ".join(f"{c:.2f}" for c in cov)
                     + f"; the last 5 folds {cov[-5:].mean():.3f}, the folds before them "
                     f"{cov[:-5].mean():.3f}")
    return "\n".join(lines), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="a Markdown report")
    args = parser.parse_args()
    parts = [f"# Coverage over {args.folds} backtest folds\n",
             f"`python benchmarks/forecast_coverage_folds.py --folds {args.folds}`\n"]
    for name in CHOSEN:
        table, seconds = run(name, args.folds)
        s = SETUPS[name]
        parts.append(f"## {name}: {CHOSEN[name]}, {args.folds} folds of {s['step']} origins, "
                     f"horizon {s['horizon']}, {seconds:.0f} s\n\n"
                     f"{table}\n")
        print(parts[-1], flush=True)
    if args.out:
        atomic_write_text(args.out, "\n".join(parts))


if __name__ == "__main__":
    main()
