"""Inputs known ahead: covariates given for the future (``future=``) and calendar features.

A model reads a window of past steps. A value known ``horizon`` steps ahead (a price, a
promotion, a holiday, the hour of the day) enters that window shifted: the model's input at
step ``t`` holds it at ``t + horizon``. The last ``horizon`` steps of a window then carry the
whole forecast period's values (with ``window >= horizon``), and any architecture (recurrent,
convolutional, dense) reads them with no change; a causal model at step ``t`` has seen every
value up to ``t + horizon``, the steps its output at ``t`` forecasts.

So the model's columns (:func:`model_view`) are the targets, the past-only covariates, then
each ``future=`` column and each calendar feature shifted ``horizon`` steps earlier. In a
series as read, the last ``horizon`` steps of those shifted columns are unknown; no training
window or held-out origin reads them (their targets would lie past the end), so they hold the
last known value. A forecast after the end reads them: :func:`extend` appends the ``future=``
values of the next ``horizon`` steps (``predict(future=...)``), and calendar features come
from the timestamps.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..data.series import SeriesSet, require_pandas
from ..data.table_checks import _fmt_time as fmt
from ..errors import ConfigError, DataError
from .backtesting import step_seconds

__all__ = ["calendar_names", "check_columns", "extend", "model_view", "read_future",
           "with_future"]

_DAY = 86400.0


def calendar_names(freq) -> tuple[str, ...]:
    """The calendar features of a frequency: position in the day and the week (sub-daily),
    in the week and the year (daily, business daily), in the year (weekly, monthly,
    quarterly); each as a sine and cosine pair. Refuses integer steps and yearly data."""
    if isinstance(freq, int | np.integer):
        raise ConfigError("calendar=True reads the timestamps; these series have integer "
                          "steps. Fix: give a datetime time column, or calendar=False")
    base = re.sub(r"^\d+", "", str(freq)).split("-")[0]
    if step_seconds(freq) is not None:
        parts = ("day", "week")
    elif base in ("D", "B"):
        parts = ("week", "year")
    elif base in ("W", "M", "MS", "ME", "SM", "SMS", "Q", "QS", "QE"):
        parts = ("year",)
    else:
        raise ConfigError(f"calendar=True has no features for steps of {freq!r} (a year or "
                          "longer repeats no calendar cycle). Fix: calendar=False")
    return tuple(f"{p}_{f}" for p in parts for f in ("sin", "cos"))


def _calendar(times, freq) -> np.ndarray:
    """The features of :func:`calendar_names` at ``times`` (a DatetimeIndex), ``[T, k]``."""
    names = calendar_names(freq)
    day = (times.hour * 3600 + times.minute * 60 + times.second) / _DAY
    phases = {"day": day, "week": (times.day_of_week + day) / 7.0,
              "year": (times.day_of_year - 1 + day) / (365.0 + times.is_leap_year)}
    cols = []
    for name in names:
        part, fn = name.split("_")
        angle = 2 * np.pi * np.asarray(phases[part], dtype=np.float64)
        cols.append(np.sin(angle) if fn == "sin" else np.cos(angle))
    return np.stack(cols, axis=1).astype(np.float32)


def check_columns(ss: SeriesSet, future: tuple, calendar: bool) -> None:
    """Refuse ``future=`` names that are not covariates of ``ss``, and a calendar for
    series without timestamps, before any work."""
    missing = [c for c in future if c not in ss.covariates]
    if missing:
        raise DataError(f"future= names {missing}, which are not covariates of the series "
                        f"(covariates: {list(ss.covariates)}). Fix: name columns of the "
                        "table")
    if calendar:
        calendar_names(ss.freq)


def model_view(ss: SeriesSet, future: tuple, calendar: bool, horizon: int) -> SeriesSet:
    """The columns a model reads: targets, past-only covariates, then the ``future``
    columns and the calendar features, each shifted ``horizon`` steps earlier (see the
    module's text). ``ss`` itself when there is neither."""
    if not future and not calendar:
        return ss
    past = [c for c in ss.covariates if c not in future]
    cols = list(ss.columns)
    keep = [cols.index(c) for c in list(ss.targets) + past]
    ahead = [cols.index(c) for c in future]
    names = tuple(past) + tuple(f"{c}@+{horizon}" for c in future)
    if calendar:
        names += tuple(f"{c}@+{horizon}" for c in calendar_names(ss.freq))
    values = []
    for i, v in enumerate(ss.values):
        parts = [v[:, keep]]
        if ahead:
            lead = v[:, ahead]
            held = np.repeat(lead[-1:], min(horizon, len(v)), axis=0)  # unknown: never read
            parts.append(np.concatenate([lead[horizon:], held])[:len(v)])
        if calendar:
            times = ss.index[i].append(ss.future_index(i, horizon))
            parts.append(_calendar(times[horizon:], ss.freq))
        values.append(np.concatenate(parts, axis=1))
    return SeriesSet(ss.ids, ss.index, values, ss.targets, names, ss.freq, ss.time_name,
                     ss.id_name, ss.source)


def read_future(table: Any, ss: SeriesSet, future: tuple, horizon: int) -> list[np.ndarray]:
    """The ``future`` columns of the ``horizon`` steps after each series' end, from a table
    (a DataFrame, or a CSV / Parquet file) with the time column, the id column (several
    series) and those columns; rows for other times are ignored. ``[horizon, len(future)]``
    per series, in ``ss``'s order."""
    pd = require_pandas()
    name = "the future table"
    if isinstance(table, str) or hasattr(table, "__fspath__"):
        from ..data.tables import read_table
        table, name = read_table(table), f"'{table}'"
    if not isinstance(table, pd.DataFrame):
        raise ConfigError(f"future= takes a DataFrame or a CSV / Parquet file, got "
                          f"{type(table).__name__}")
    several = ss.ids != (0,)
    need = [ss.time_name] + ([ss.id_name] if several else []) + list(future)
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise DataError(f"{name} lacks the column(s) {missing}; it needs {need}: the "
                        f"values of {list(future)} for the {horizon} steps after each series")
    times = pd.to_datetime(table[ss.time_name]) if isinstance(
        ss.index[0], pd.DatetimeIndex) else table[ss.time_name]
    out = []
    for i, sid in enumerate(ss.ids):
        rows = table[(table[ss.id_name] == sid).to_numpy()] if several else table
        t = times[rows.index] if several else times
        want = ss.future_index(i, horizon)
        at = pd.Index(t).get_indexer(want) if pd.Index(t).is_unique else None
        if at is None:
            raise DataError(f"{name}: series {sid!r} has duplicate times. Fix: one row per "
                            "series and time")
        if (at < 0).any():
            gap = want[at < 0][0]
            raise DataError(f"{name}: no row for series {sid!r} at {fmt(gap)} (its forecast "
                            f"needs {list(future)} at the {horizon} steps from "
                            f"{fmt(want[0])} to {fmt(want[-1])})")
        vals = rows[list(future)].to_numpy(dtype=np.float64)[at]
        if not np.isfinite(vals).all():
            raise DataError(f"{name}: missing or non-numeric values of {list(future)} for "
                            f"series {sid!r} between {fmt(want[0])} and {fmt(want[-1])}")
        out.append(vals.astype(np.float32))
    return out


def extend(ss: SeriesSet, rows: list[np.ndarray], future: tuple) -> SeriesSet:
    """``ss`` with ``len(rows[i])`` steps appended to each series: the ``future`` columns
    from ``rows`` (:func:`read_future`), NaN elsewhere (the targets and past covariates of
    the future, which no forecast reads)."""
    cols = list(ss.columns)
    ahead = [cols.index(c) for c in future]
    index, values = [], []
    for i, (v, r) in enumerate(zip(ss.values, rows, strict=True)):
        extra = np.full((len(r), v.shape[1]), np.nan, dtype=np.float32)
        extra[:, ahead] = r
        values.append(np.concatenate([v, extra]))
        index.append(ss.index[i].append(ss.future_index(i, len(r))))
    return SeriesSet(ss.ids, index, values, ss.targets, ss.covariates, ss.freq, ss.time_name,
                     ss.id_name, ss.source)


def with_future(ss: SeriesSet, table: Any, future: tuple, horizon: int) -> SeriesSet:
    """``ss`` extended by the ``future`` columns' values at the ``horizon`` steps forecast,
    from ``table`` (``predict(future=...)``); ``ss`` itself without ``future`` columns."""
    if not future:
        if table is not None:
            raise ConfigError("predict(future=...) gives values of future= columns; this "
                              "Forecaster was fitted without any (Forecaster(future=...))")
        return ss
    if table is None:
        raise ConfigError(f"this Forecaster reads {list(future)} ahead (future=): "
                          f"predict(future=table) needs their values at the {horizon} steps "
                          "after each series, in a table with the time (and id) column and "
                          "those columns")
    return extend(ss, read_future(table, ss, future, horizon), future)
