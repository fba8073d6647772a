"""Tables in, validated series out: DataFrames, NumPy arrays, CSV and Parquet files.

    ss = read_series("sales.csv", time="ds", target="y", id="store", covariates=["price"],
                     fill="interpolate", min_length=window + horizon)
    ss.ids, ss.freq, ss.values[0].shape      # ('a', 'b'), 'D', (T, 2): targets, then covariates

Every problem is a :class:`~seqnets.errors.DataError` that names what is wrong, where (file,
column, series, rows) and the fix. Nothing is repaired behind the user's back: unsorted, duplicate
or irregular timestamps and missing values are refused unless an argument asks for the repair
(``sort=True``, ``resample=``, ``fill=``).

pandas is optional (``pip install "seqnets[tables]"``): it is imported when a function here runs,
never when ``seqnets`` is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import positive_int
from ..errors import ConfigError, DataError
from .series import SeriesSet, require_pandas
from .table_checks import FILLS, KEEP, Reader, Source, check_series, common_step, split_series

__all__ = ["SeriesSet", "read_series", "read_table"]

AGGS = ("mean", "sum", "median", "min", "max", "first", "last")


# ----------------------------------------------------------------------------- inputs


def _names(value, what: str) -> list:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    names = list(value)
    if len(set(names)) != len(names):
        raise ConfigError(f"{what} names a column twice: {names}")
    return names


def unreadable(name: str, what: str, exc: Exception) -> DataError:
    """The error for a file its parser failed on (``what``: "CSV" or "Parquet")."""
    return DataError(f"cannot read '{name}' as {what}: {type(exc).__name__}: {exc}. Fix: "
                     f"check that the file is a complete {what} table (open it, or "
                     f"re-export it)")


def _read_file(pd, path) -> tuple:
    name = os.fspath(path)
    p = Path(name)
    suffixes = [s.lower() for s in p.suffixes]
    compressed = suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz", ".zst")
    suffix = suffixes[-2] if compressed and len(suffixes) > 1 else (
        suffixes[-1] if suffixes else "")
    kind = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet",
            ".pq": "parquet"}.get(suffix)
    if kind is None:
        raise DataError(f"unsupported file type '{suffix or p.name}' for '{name}'. Fix: save "
                        "the table as CSV (.csv) or Parquet (.parquet)")
    if not p.exists():
        raise DataError(f"file not found: '{name}' (working directory: {os.getcwd()}). Fix: "
                        "check the path")
    try:
        if kind == "csv":
            frame = pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
        else:
            frame = pd.read_parquet(p)
    except ImportError as exc:
        raise ImportError(f'reading {name} needs pyarrow: pip install "seqnets[tables]"'
                          ) from exc
    except Exception as exc:  # any parser's failure becomes one error naming the file
        raise unreadable(name, "CSV" if kind == "csv" else "Parquet", exc) from exc
    if len(frame) == 0:
        raise DataError(f"no rows in '{name}'. Fix: give a table with data rows")
    return frame, Source(kind, name)


def read_table(path):
    """A CSV or Parquet file as a DataFrame, with the errors of :func:`read_series` (file not
    found, unsupported type, unreadable, no rows)."""
    return _read_file(require_pandas(), path)[0]


def _from_array(pd, data, time, targets, covariates, wide):
    a = np.asarray(data)
    if a.ndim not in (1, 2) or a.size == 0:
        raise DataError(f"an array of series must be [T] or [T, F] with T > 0, got shape "
                        f"{a.shape}. Fix: reshape it (one row per time step)")
    a2 = a.reshape(len(a), -1)
    width = a2.shape[1]
    if wide:
        if covariates:
            raise ConfigError("a wide array holds only series; put covariates in a DataFrame "
                              "(one column each) and pass wide=True there")
        names = targets or list(range(width))
    else:
        names = (targets or ["y"]) + covariates
    if len(names) != width:
        raise ConfigError(f"the array has {width} columns but target={targets or None} and "
                          f"covariates={covariates or None} name {len(names)}. Fix: name every "
                          "column, targets first then covariates, e.g. target=['a', 'b']")
    frame = pd.DataFrame(a2, columns=names)
    frame.insert(0, time, np.arange(len(a2)))
    return frame, names if wide else (targets or ["y"])


def _check_options(fill, resample, agg, sort, min_length, wide, id):
    if fill is not None and fill not in FILLS and fill != KEEP:
        raise ConfigError(f"fill must be None, 'interpolate' or 'ffill', got {fill!r}")
    if agg not in AGGS:
        raise ConfigError(f"agg must be one of {AGGS}, got {agg!r}")
    positive_int(min_length, "min_length")
    if not isinstance(sort, bool):
        raise ConfigError(f"sort must be True or False, got {sort!r}")
    if wide and id is not None:
        raise ConfigError("a wide table names its series by column; id= is for long tables "
                          "(one row per series and time)")


def _check_resample(pd, resample, datetime: bool):
    if resample is None:
        return None
    if datetime:
        if isinstance(resample, bool | int | float):
            raise ConfigError(f"resample={resample!r}: timestamps resample to a pandas "
                              "frequency such as 'D', 'W', 'MS' or 'h'")
        try:
            return pd.tseries.frequencies.to_offset(resample).freqstr
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"resample={resample!r} is not a pandas frequency ({exc}); try "
                              "'D', 'W', 'MS' or 'h'") from exc
    if isinstance(resample, bool) or not isinstance(resample, int | np.integer) or resample < 1:
        raise ConfigError(f"resample={resample!r}: integer time steps resample to a positive "
                          "integer bin width")
    return int(resample)


# ----------------------------------------------------------------------------- the function


def read_series(data: Any, time: str | None = "ds", target: str | Sequence[str] | None = None,
                id: str | None = None, covariates: str | Sequence[str] | None = None, *,
                wide: bool = False, fill: str | None = None, resample: Any = None,
                agg: str = "mean", sort: bool = False, min_length: int = 2) -> SeriesSet:
    """Read, validate and (only on request) repair series from a table.

    Args:
        data: a pandas DataFrame or Series, a NumPy array, or the path (str or Path) of a
            CSV (``.csv``, ``.tsv``, compressed too) or Parquet (``.parquet``) file.
            An array ``[T]`` or ``[T, F]`` is one series on integer steps 0..T-1 whose columns
            are the targets then the covariates, named by ``target`` and ``covariates``
            (``wide=True``: one series per column).
        time: the time column (timestamps, or integer steps); ``None``, or a name that is the
            index's name, takes the index.
        target: long tables: the target column or columns (default ``"y"``; several make a
            multivariate target). Wide tables: the series columns (default: every column but
            time and covariates).
        id: long tables: the column that tells the series apart; ``None`` for one series.
        covariates: extra input columns (per series in long tables, shared in wide ones).
            Other columns are ignored.
        wide: one column per series (sharing the time column) instead of one row per series
            and time.
        fill: ``None`` refuses missing values; ``"interpolate"`` draws straight lines between
            neighbours, ``"ffill"`` carries the last value forward; either way a gap at the
            start or end takes the nearest value.
        resample: a pandas frequency (``"D"``, ``"W"``, ``"MS"``, ...; an integer bin width for
            integer steps) to aggregate irregular or duplicate timestamps onto; empty bins
            become missing values (see ``fill``).
        agg: how ``resample`` aggregates a bin: one of ``mean``, ``sum``, ``median``, ``min``,
            ``max``, ``first``, ``last`` (an empty bin is missing, never 0).
        sort: sort each series by time instead of refusing unsorted timestamps.
        min_length: the fewest steps a series may have (e.g. window + horizon).

    Returns:
        a :class:`SeriesSet`.

    Raises:
        DataError: missing columns, an unreadable file, non-numeric or infinite values,
            missing, unsorted, duplicate or irregular timestamps, series of different
            frequencies, missing values (unless ``fill``), series shorter than
            ``min_length``, and constant targets.
        ConfigError: contradictory or invalid arguments.
    """
    if fill == KEEP:  # internal: read_series_with_gaps; a SeriesSet never holds NaN
        raise ConfigError(f"fill must be None, 'interpolate' or 'ffill', got {fill!r}")
    read = _read(data, time, target, id, covariates, wide, fill, resample, agg, sort,
                 min_length)
    return SeriesSet(**vars(read))  # the same fields; SeriesSet makes float32 copies


@dataclass(frozen=True)
class _Read:
    """What one validated read gives: :class:`SeriesSet`'s fields, values in float64."""

    ids: tuple
    index: tuple
    values: tuple
    targets: tuple
    covariates: tuple
    freq: str | int
    time_name: str
    id_name: str
    source: str | None


def read_series_with_gaps(data: Any, time: str | None = "ds", target: str | None = None,
                          id: str | None = None, *, wide: bool = False, resample: Any = None,
                          agg: str = "mean", sort: bool = False, min_length: int = 2) -> _Read:
    """As :func:`read_series`, with every check, but missing values kept as NaN (on the
    regular grid, empty resampling bins included) and values in float64: the input of an
    imputer. Returns an object with ``SeriesSet``'s fields (``ids``, ``index``, ``values``,
    ``targets``, ``time_name``, ``id_name``, ...)."""
    return _read(data, time, target, id, None, wide, KEEP, resample, agg, sort, min_length)


def _read(data, time, target, id, covariates, wide, fill, resample, agg, sort,
          min_length) -> _Read:
    pd = require_pandas()
    _check_options(fill, resample, agg, sort, min_length, wide, id)
    targets, covs = _names(target, "target"), _names(covariates, "covariates")
    time_name = time if time is not None else "ds"
    frame, src, targets = _as_frame(pd, data, time, time_name, targets, covs, wide)

    # the time column: a column, else the index
    on_index = time is None or (time not in frame.columns and frame.index.name == time)
    if wide and not targets:
        targets = [c for c in frame.columns if c != time and c not in covs]
    targets = targets or ["y"]
    _check_columns(frame, src, None if on_index else time, id, targets, covs)
    time_col = pd.Series(frame.index) if on_index else frame[time].reset_index(drop=True)

    value_cols = targets + covs
    reader = Reader(pd, src, time_name, on_index, id, value_cols, sort, resample, agg, fill)
    t_all = reader.times(time_col, time_name)
    datetime = isinstance(t_all, pd.DatetimeIndex)
    reader.resample = _check_resample(pd, resample, datetime)
    role = {c: "target" for c in targets} | {c: "covariate" for c in covs}
    vals_all = np.column_stack([reader.numeric(frame[c].reset_index(drop=True), c, role[c])
                                for c in value_cols])

    multi = id is not None
    cleaned = [(sid, *reader.block(t_all[rows], rows, vals_all[rows], sid, multi))
               for sid, rows in split_series(reader, frame, id)]
    freq = common_step(reader, cleaned, datetime, multi)
    if wide:  # one block holding every series column (then the covariates): split it
        _, t, vals, _ = cleaned[0]
        n = len(targets)
        cleaned = [(c, t, np.column_stack([vals[:, j], vals[:, n:]]), freq)
                   for j, c in enumerate(targets)]
        targets = ["y"]
    check_series(src, cleaned, targets, min_length,
                  "wide" if wide else "long" if multi else "lone")

    index = [pd.DatetimeIndex(t, freq=freq, name=time_name) if datetime else
             pd.RangeIndex(int(t[0]), int(t[-1]) + freq, freq, name=time_name)
             for _, t, _, _ in cleaned]
    return _Read(ids=tuple(sid for sid, *_ in cleaned), index=tuple(index),
                 values=tuple(v for *_, v, _ in cleaned), targets=tuple(targets),
                 covariates=tuple(covs), freq=freq, time_name=time_name,
                 id_name=id if id is not None else "id", source=src.path)


def _as_frame(pd, data, time, time_name, targets, covs, wide) -> tuple:
    """(DataFrame, its Source, targets) from any accepted input."""
    if isinstance(data, str | os.PathLike):
        frame, src = _read_file(pd, data)
    elif isinstance(data, pd.DataFrame):
        frame, src = data, Source("frame")
    elif isinstance(data, pd.Series):
        name = targets[0] if len(targets) == 1 and not wide else (data.name or "y")
        frame, src = data.to_frame(name=name), Source("frame")
        targets = targets or [name]
        if time is not None:
            frame = frame.rename_axis(time)
    elif isinstance(data, np.ndarray | list | tuple):
        frame, targets = _from_array(pd, data, time_name, targets, covs, wide)
        src = Source("array")
    else:
        raise DataError(f"cannot read series from a {type(data).__name__}. Fix: pass a "
                        "DataFrame, a NumPy array, or a CSV or Parquet path")
    if len(frame) == 0:
        raise DataError(f"no rows{src.where}. Fix: give a table with data rows")
    return frame, src, targets


def _check_columns(frame, src: Source, time, id, targets, covs) -> None:
    """Every named column exists, once, and plays one role (``time`` None: the index)."""
    roles = [("time", [time] if time is not None else []), ("id", [id] if id is not None else []),
             ("target", targets), ("covariates", covs)]
    lost = [(role, c) for role, cols in roles for c in cols if c not in frame.columns]
    if lost:
        named = ", ".join(f"{c!r} ({role})" for role, c in lost)
        available = ", ".join(repr(c) for c in frame.columns)
        index = "" if frame.index.name is None else f"; the index is named {frame.index.name!r}"
        hint = " (time=None takes the index)" if time in [c for _, c in lost] else ""
        raise DataError(f"missing column{'s' if len(lost) > 1 else ''} {named}{src.where}: the "
                        f"columns are {available}{index}. Fix: pass the names of existing "
                        f"columns{hint}")
    used = [c for _, cols in roles for c in cols]
    twice = sorted({str(c) for c in used if used.count(c) > 1})
    if twice:
        raise ConfigError(f"column(s) {twice} are given more than one role (time, id, target, "
                          "covariates); give each column one role")
    doubled = sorted({str(c) for c in used if list(frame.columns).count(c) > 1})
    if doubled:
        raise DataError(f"duplicate column name(s) {doubled}{src.where}. Fix: rename the "
                        "columns so that each name is used once")
