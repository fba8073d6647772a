#!/usr/bin/env python
"""taylor's test week against the weeks before it: can any calibration on past weeks give
the test week 80% +- 3 coverage?

    /tmp/fcenv/bin/python src/seqnets/forecast/tools_side.py taylor /tmp/taylor.json
    .venv/bin/python benchmarks/forecast_taylor_calibration.py --tools-json /tmp/taylor.json \
        --weeks 4 --out benchmarks/results/forecasting/taylor_calibration_4weeks.md

The recipe of ``forecast_taylor.py`` (mlp on a linear base, window 336, conformal
intervals), fitted on the 3,696 half-hours before the test week with ``holdout`` set to the
last ``--weeks`` weeks of origins (336 a week). Conformal intervals are, per step ahead,
a quantile of the held-out scores (absolute error over each window's mean absolute step
change). This script takes those scores, calibrates on each held-out week alone and on the
last k weeks together, and scores each calibration on the test week's 7 daily origins (the
scores of the refitted model that forecasts them). It also gives the bound: per step, the
smallest ``ceil(336 p)``-th score of any single week. The conformal quantile of a union of
weeks is never below that, so no calibration set made of whole held-out weeks (in any
combination) gives narrower intervals than the bound; if the bound already covers more than
83% of the test week, none of them reaches 80 +- 3. Last, each held-out week is scored as
if it were the test week, calibrated on the week before it: how much one week's coverage
moves from week to week.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

import seqnets as sn
from seqnets.forecast import intervals as iv

sys.path.insert(0, str(Path(__file__).resolve().parent))
import forecast_taylor as taylor  # noqa: E402  (the recipe and the data frame)

WEEK = 336
LEVELS = (0.8, 0.95)


def plain_quantile(scores: np.ndarray, level: float) -> np.ndarray:
    """Per step, the ``ceil(n·level)``-th smallest of ``n`` scores: without the conformal
    ``n + 1``, so that a union of weeks' conformal quantile is never below the smallest of
    these (fewer than ``ceil(n·level)`` scores of each week lie below it)."""
    s = np.sort(scores, axis=0)
    return s[math.ceil(len(s) * level) - 1]


def covered(scores: np.ndarray, q: np.ndarray) -> float:
    """The share of scores ``[n, H]`` at or below the per-step bound ``q`` ``[H]``."""
    return float(np.mean(scores <= q[None, :]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools-json", type=Path, default=None,
                        help="taylor as tools_side.py wrote it (else run it with --tools-python)")
    parser.add_argument("--tools-python", default=None)
    parser.add_argument("--weeks", type=int, default=4, help="held-out weeks of origins")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tools = json.loads(args.tools_json.read_text(encoding="utf-8")) if args.tools_json \
        else taylor.tools_side(args.tools_python)
    y, n_train, origins, h = (np.asarray(tools["y"]), tools["train"], tools["origins"],
                              tools["horizon"])
    frame = taylor.frame
    n_cal = args.weeks * WEEK
    fc = sn.Forecaster(horizon=h, quiet=True, holdout=n_cal, **taylor.RECIPE).fit(
        frame(y[:n_train]))
    held = np.asarray(fc.scores_, dtype=np.float64)           # [n_cal, H], oldest first
    assert held.shape[0] == n_cal, held.shape
    history = fc.history(frame(y))
    result = fc.forecast_origins(history, [np.asarray(origins)])
    test = fc.origin_scores(history, [np.asarray(origins)], result)       # [7, H]
    weeks = [held[i * WEEK:(i + 1) * WEEK] for i in range(args.weeks)]   # oldest first
    rows = []

    def row(name: str, q: dict) -> None:
        rows.append([name] + [f"{covered(test, q[p]):.3f}" for p in LEVELS]
                    + [f"{float(np.mean(q[0.8])):.2f}"])

    for i, w in enumerate(weeks):
        row(f"week {args.weeks - i} before the test week, alone",
            {p: iv.conformal_factor(w, p) for p in LEVELS})
    for k in range(1, args.weeks + 1):
        part = held[len(held) - k * WEEK:]
        row(f"the last {k} week(s) together", {p: iv.conformal_factor(part, p) for p in LEVELS})
    bound = {p: np.min([plain_quantile(w, p) for w in weeks], axis=0) for p in LEVELS}
    row("bound: per step, the smallest single week's quantile", bound)
    lines = ["| calibrated on | 80% covered | 95% covered | mean 80% half-width (units) |",
             "|---|---|---|---|"] + ["| " + " | ".join(r) + " |" for r in rows]
    # how much one week's coverage varies: each held-out week scored as if it were the test
    # week, calibrated on the week before it (the same model's scores)
    nexts = [[covered(weeks[i], iv.conformal_factor(weeks[i - 1], p)) for p in LEVELS]
             for i in range(1, len(weeks))]
    lines += ["", "Each held-out week scored as a test week, calibrated on the week before it "
              "(80% / 95% covered): " + ", ".join(f"{a:.3f} / {b:.3f}" for a, b in nexts)]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(
            f"`benchmarks/forecast_taylor_calibration.py --weeks {args.weeks}`: {n_cal} "
            f"held-out origins; the test week: {len(origins)} origins x {h} steps.\n\n"
            f"{text}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
