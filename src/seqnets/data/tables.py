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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["SeriesSet", "read_series"]

FILLS = ("interpolate", "ffill")
_KEEP = "keep"  # read_series_with_gaps: missing values stay NaN
AGGS = ("mean", "sum", "median", "min", "max", "first", "last")
_SHOW = 5  # rows or timestamps quoted in a message before "... (N in all)"


def _pandas():
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - exercised with pandas hidden
        raise ImportError('tables need pandas: pip install "seqnets[tables]"') from exc
    return pandas


# ----------------------------------------------------------------------------- the result


@dataclass(frozen=True, eq=False)
class SeriesSet:
    """Validated series on one regular time grid, ready for windows; immutable.

    Attributes:
        ids: one id per series: the ``id`` column's values in order of first appearance, the
            column names of a wide table, or ``(0,)`` for a lone series.
        index: per series, its timestamps: a ``pandas.DatetimeIndex`` carrying ``freq``, or a
            ``pandas.RangeIndex`` for integer time steps.
        values: per series, a read-only float32 array ``[T_i, n_targets + n_covariates]``: the
            targets first, then the covariates, in the order of ``targets`` and ``covariates``.
        targets: the target column names (``("y",)`` for a wide table).
        covariates: the covariate (extra input feature) column names, possibly ``()``.
        freq: the pandas frequency alias (``"W-SAT"``, ``"MS"``, ``"h"``) or, for integer time,
            the integer step.
        time_name: the time column's name, for tables written back (``to_frame``).
        id_name: the id column's name (``"id"`` when the input had none).
        source: the file the series came from, if any.
    """

    ids: tuple
    index: tuple
    values: tuple
    targets: tuple
    covariates: tuple = ()
    freq: str | int = 1
    time_name: str = "ds"
    id_name: str = "id"
    source: str | None = None

    def __post_init__(self):
        n = len(self.ids)
        if not (len(self.index) == len(self.values) == n):
            raise ConfigError(f"a SeriesSet needs one index and one array per id: {n} ids, "
                              f"{len(self.index)} indexes, {len(self.values)} arrays")
        width = len(self.targets) + len(self.covariates)
        arrays = []
        for sid, idx, v in zip(self.ids, self.index, self.values, strict=True):
            a = np.array(v, dtype=np.float32)  # a private copy: the caller's array stays theirs
            if a.ndim != 2 or a.shape != (len(idx), width):
                raise ConfigError(f"series {sid!r}: values must be [T, {width}] with T = "
                                  f"{len(idx)} timestamps, got {a.shape}")
            a.flags.writeable = False
            arrays.append(a)
        for name in ("ids", "index", "targets", "covariates"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "values", tuple(arrays))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    @property
    def n_covariates(self) -> int:
        return len(self.covariates)

    @property
    def columns(self) -> tuple:
        """Names of the columns of each ``values`` array: targets, then covariates."""
        return self.targets + self.covariates

    @property
    def lengths(self) -> tuple:
        return tuple(len(i) for i in self.index)

    def position(self, sid) -> int:
        """Position of the series whose id is ``sid``."""
        try:
            return self.ids.index(sid)
        except ValueError:
            raise KeyError(f"no series {sid!r}; ids are {list(self.ids)[:10]}") from None

    def targets_of(self, i: int) -> np.ndarray:
        """Targets of the ``i``-th series, ``[T_i, n_targets]`` (a read-only view)."""
        return self.values[i][:, :self.n_targets]

    def covariates_of(self, i: int) -> np.ndarray:
        """Covariates of the ``i``-th series, ``[T_i, n_covariates]`` (a read-only view)."""
        return self.values[i][:, self.n_targets:]

    def future_index(self, i: int, horizon: int):
        """The ``horizon`` timestamps that follow the ``i``-th series, on its grid."""
        pd = _pandas()
        idx = self.index[i]
        if isinstance(idx, pd.DatetimeIndex):
            return pd.date_range(idx[-1], periods=horizon + 1, freq=self.freq,
                                 name=idx.name)[1:]
        step = int(self.freq)
        start = idx[-1] + step
        return pd.RangeIndex(start, start + horizon * step, step, name=idx.name)

    def to_frame(self):
        """A long DataFrame: id, time, targets, covariates (float32), one row per step."""
        pd = _pandas()
        parts = []
        for sid, idx, v in zip(self.ids, self.index, self.values, strict=True):
            part = pd.DataFrame(v, columns=list(self.columns))
            part.insert(0, self.time_name, np.asarray(idx))
            part.insert(0, self.id_name, [sid] * len(idx))
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        lengths = self.lengths
        span = f"{min(lengths)}" if min(lengths) == max(lengths) else \
            f"{min(lengths)}-{max(lengths)}"
        return (f"SeriesSet({len(self)} series of {span} steps, freq={self.freq!r}, "
                f"targets={list(self.targets)}, covariates={list(self.covariates)})")

    def describe(self) -> str:
        """One line: how many series, their lengths and the frequency."""
        lengths = sorted(set(self.lengths))
        steps = f"{lengths[0]}" if len(lengths) == 1 else f"{lengths[0]}-{lengths[-1]}"
        return f"{len(self)} series of {steps} steps (freq {self.freq})"


# ----------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class _Source:
    kind: str  # "csv", "parquet", "frame", "array"
    path: str | None = None

    @property
    def where(self) -> str:
        if self.path is not None:
            return f" in '{self.path}'"
        return " in the array" if self.kind == "array" else " in the DataFrame"

    def rows(self, positions, verb: str = "") -> str:
        """'rows 3, 4 (lines 5, 6) hold': 0-based data rows (as ``df.iloc``); CSV line
        numbers assume one header line and no blank or multi-line records. ``verb`` (plural
        form) agrees with the count."""
        pos = [int(p) for p in positions]
        one = len(pos) == 1
        text = ("row " if one else "rows ") + _listing(pos)
        if self.kind == "csv":
            text += (" (line " if one else " (lines ") + _listing([p + 2 for p in pos]) + ")"
        if verb:
            text += " " + ({"have": "has", "fall": "falls", "share": "shares"}.get(
                verb, verb + "s") if one else verb)
        return text


def _listing(items, show: int = _SHOW) -> str:
    items = list(items)
    text = ", ".join(str(i) for i in items[:show])
    return text + (f", ... ({len(items)} in all)" if len(items) > show else "")


def _fmt_time(t) -> str:
    pd = _pandas()
    if isinstance(t, pd.Timestamp):
        return str(t.date()) if t == t.normalize() and t.tz is None else str(t)
    return str(t)


def _td_alias(td) -> str:
    """A readable pandas alias for a fixed step: 7 days -> '7D', 90 minutes -> '90min'."""
    ns = int(td.value)
    for unit, size in (("D", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9),
                       ("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns % size == 0:
            return unit if ns == size else f"{ns // size}{unit}"
    return f"{ns}ns"


def _infer_freq(t) -> str | None:
    pd = _pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3.1 announces an offset return type
        f = pd.infer_freq(t)
    return None if f is None else pd.tseries.frequencies.to_offset(f).freqstr


# ----------------------------------------------------------------------------- the reader


class _Reader:
    """One read: the options, the source, and the checks that raise with them."""

    def __init__(self, pd, src: _Source, time: str, on_index: bool, id_col, columns: list,
                 sort: bool, resample, agg: str, fill):
        self.pd, self.src = pd, src
        self.time, self.on_index = time, on_index  # the time column's name; in the index?
        self.id_col, self.columns = id_col, columns
        self.sort, self.resample, self.agg, self.fill = sort, resample, agg, fill

    def fail(self, problem: str, detail: str, fix: str, column: str | None = None,
             sid=None, multi: bool = False):
        where = self.src.where
        if column is not None:
            on_index = self.on_index and column == self.time
            where += ", the index" if on_index else f", column '{column}'"
        if multi:
            where += f", series {sid!r}"
        raise DataError(f"{problem}{where}: {detail}. Fix: {fix}.")

    # -- whole-table checks ---------------------------------------------------------------

    def times(self, col, label: str | None):
        """The time column as a DatetimeIndex or an int64 Index, or a DataError."""
        pd = self.pd
        api = pd.api.types
        missing = col.isna().to_numpy()
        if missing.any():
            self.fail("missing timestamps", self.src.rows(np.flatnonzero(missing), "have") +
                      " no time", "fill in or drop those rows", label)
        if api.is_bool_dtype(col) or api.is_timedelta64_dtype(col) or \
                api.is_complex_dtype(col):
            self.fail("the time column holds neither timestamps nor integer steps",
                      f"its dtype is {col.dtype}",
                      "give timestamps (e.g. 2020-01-31) or integer steps", label)
        if api.is_datetime64_any_dtype(col):
            return pd.DatetimeIndex(col)
        kind = api.infer_dtype(col, skipna=True)
        if api.is_integer_dtype(col) or kind == "integer":
            return pd.Index(col.to_numpy(np.int64))
        if api.is_float_dtype(col) or kind in ("floating", "mixed-integer-float", "decimal"):
            v = col.to_numpy(np.float64)
            bad = np.flatnonzero(v != np.round(v))
            if len(bad):
                self.fail("non-integer time steps", f"{self.src.rows(bad, 'hold')} "
                          f"{_listing(v[bad])}", "use timestamps or whole-number steps", label)
            return pd.Index(v.astype(np.int64))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "could not infer format" chatter
                parsed = pd.to_datetime(col, errors="coerce")
                if parsed.isna().any():  # ISO 8601 dates and date-times mixed are fine too
                    iso = pd.to_datetime(col, errors="coerce", format="ISO8601")
                    parsed = iso if iso.notna().all() else parsed
        except (ValueError, TypeError) as exc:
            self.fail("unreadable timestamps", str(exc),
                      "use one timestamp format, one time zone (ISO 8601, e.g. "
                      "2020-01-31 or 2020-01-31T12:00:00)", label)
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            values = _listing(repr(col.iloc[i]) for i in bad)
            self.fail("unreadable timestamps", f"{self.src.rows(bad, 'hold')} {values}, which "
                      f"do not read as timestamps in the format of the first row "
                      f"({col.iloc[0]!r})", "use one timestamp format in every row (ISO 8601, "
                      "e.g. 2020-01-31)", label)
        return pd.DatetimeIndex(parsed)

    def numeric(self, col, name: str, role: str) -> np.ndarray:
        """A target or covariate column as float64 (NaN where missing), or a DataError."""
        pd = self.pd
        api = pd.api.types
        fix = ("convert it to numbers; categories become numbers with one-hot columns "
               "(pd.get_dummies)")
        if api.is_bool_dtype(col):
            arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
        elif api.is_numeric_dtype(col) and not api.is_complex_dtype(col):
            arr = col.to_numpy(dtype=np.float64, na_value=np.nan)
        elif (api.is_datetime64_any_dtype(col) or api.is_timedelta64_dtype(col)
              or isinstance(col.dtype, pd.CategoricalDtype) or api.is_complex_dtype(col)):
            self.fail(f"non-numeric {role} column", f"its dtype is {col.dtype}", fix, name)
        else:
            conv = pd.to_numeric(col, errors="coerce")
            bad = np.flatnonzero((conv.isna() & col.notna()).to_numpy())
            if len(bad):
                values = _listing(repr(col.iloc[i]) for i in bad)
                self.fail(f"non-numeric {role} column", f"{self.src.rows(bad, 'hold')} {values}",
                          "clean those values, or turn them into missing values with "
                          f"pd.to_numeric(df[{name!r}], errors='coerce') and pass "
                          "fill='interpolate' or fill='ffill'",
                          name)
            arr = conv.to_numpy(dtype=np.float64, na_value=np.nan)
        inf = np.flatnonzero(np.isinf(arr))
        if len(inf):
            self.fail("infinite values", f"{self.src.rows(inf, 'hold')} {_listing(arr[inf])}",
                      "replace them with finite numbers, or with NaN and pass "
                      "fill='interpolate' or fill='ffill'", name)
        return arr

    # -- per-series checks ----------------------------------------------------------------

    def block(self, t, rows: np.ndarray, vals: np.ndarray, sid, multi: bool):
        """Sort check, duplicates, grid (or resampling), missing values, for one series.
        Returns (time index, float64 values [T, C], inferred step or None)."""
        keys = [self.id_col, self.time] if multi else [self.time]
        if not t.is_monotonic_increasing:
            if self.sort:
                order = np.asarray(t.argsort(kind="stable"))
                t, rows, vals = t[order], rows[order], vals[order]
            else:
                back = np.flatnonzero(np.asarray(t[1:] < t[:-1]))
                i = back[0]
                detail = (f"{self.src.rows([rows[i + 1]])} ({_fmt_time(t[i + 1])}) comes after "
                          f"{self.src.rows([rows[i]])} ({_fmt_time(t[i])})")
                if len(back) > 1:
                    detail += f"; time goes back {len(back)} times in all"
                sort_by = "df.sort_index()" if self.on_index else f"df.sort_values({keys!r})"
                self.fail("unsorted timestamps", detail,
                          f"sort the table ({sort_by}), or pass sort=True", self.time, sid, multi)
        if self.resample is None:
            dup = np.flatnonzero(np.asarray(t.duplicated(keep=False)))
            if len(dup):
                fix = ("drop or aggregate the duplicates (e.g. df.groupby("
                       f"{keys!r}).mean()), or pass resample='<freq>' to aggregate them")
                if not multi:
                    fix += ("; if the table holds several series, name the column that tells "
                            "them apart with id=")
                self.fail("duplicate timestamps", f"{self.src.rows(rows[dup], 'share')} "
                          f"{_listing(sorted({_fmt_time(t[i]) for i in dup}))}", fix, self.time,
                          sid, multi)
            step = self.step(t, rows, sid, multi)
        else:
            t, vals = self.regrid(t, vals)
            rows = None
            step = self.resample
        return t, self.missing(t, rows, vals, sid, multi), step

    def step(self, t, rows, sid, multi):
        """The series' step (alias or int), None when too short to tell, or a DataError."""
        pd = self.pd
        if isinstance(t, pd.DatetimeIndex):
            if len(t) < 3:
                return None
            f = _infer_freq(t)
            if f is not None:
                return f
            self.irregular(t, rows, self.candidate(t), sid, multi)
        if len(t) < 3:
            return None
        d = np.diff(np.asarray(t))
        if (d == d[0]).all():
            return int(d[0])
        values, counts = np.unique(d, return_counts=True)
        self.irregular(t, rows, int(values[np.argmax(counts)]), sid, multi)

    def candidate(self, t) -> str:
        """The step most of an irregular series follows: the frequency pandas infers on most
        runs of 5 timestamps, else the most common gap."""
        pd = self.pd
        starts = np.unique(np.linspace(0, len(t) - 5, num=min(50, max(len(t) - 4, 1)),
                                       dtype=int)) if len(t) >= 5 else []
        found = [f for f in (_infer_freq(t[s:s + 5]) for s in starts) if f is not None]
        if found:
            names, counts = np.unique(found, return_counts=True)
            return str(names[np.argmax(counts)])
        gaps = pd.Series(t[1:] - t[:-1])
        return _td_alias(gaps.mode().iloc[0])

    def grid(self, t, step):
        pd = self.pd
        if isinstance(t, pd.DatetimeIndex):
            return pd.date_range(t[0], t[-1], freq=step)
        return pd.Index(np.arange(t[0], t[-1] + 1, step, dtype=np.int64))

    def irregular(self, t, rows, step, sid, multi):
        grid = self.grid(t, step)
        lost = grid.difference(t)
        off = np.flatnonzero(~np.asarray(t.isin(grid)))
        unit = f"'{step}'" if isinstance(step, str) else f"{step} steps"
        parts = []
        if len(lost):
            after = np.searchsorted(np.asarray(t), np.asarray(lost)) - 1  # the row before
            gaps = (f"{_fmt_time(x)} after {self.src.rows([rows[i]])}"
                    for x, i in zip(lost, after, strict=True))
            parts.append(f"{len(lost)} timestamp{'s are' if len(lost) > 1 else ' is'} "
                         f"missing: {_listing(gaps)}")
        if len(off):
            parts.append(f"{self.src.rows(rows[off])} ("
                         f"{_listing(_fmt_time(t[i]) for i in off)}) "
                         f"{'falls' if len(off) == 1 else 'fall'} off that grid")
        alias = f"'{step}'" if isinstance(step, str) else str(step)
        self.fail("irregular timestamps", f"most steps are {unit}, but " + "; ".join(parts),
                  f"pass resample={alias} (agg='mean' by default) to put the series on a "
                  "regular grid; steps with no data then become missing values, which "
                  "fill='interpolate' or fill='ffill' fills", self.time, sid, multi)

    def regrid(self, t, vals):
        """Aggregate onto the ``resample`` grid; empty bins become NaN (never zero)."""
        pd = self.pd
        frame = pd.DataFrame(vals)
        if isinstance(t, pd.DatetimeIndex):
            frame.index = t
            groups = frame.resample(self.resample)
        else:
            k = self.resample
            frame.index = np.asarray(t) // k * k
            groups = frame.groupby(level=0)
        out = groups.sum(min_count=1) if self.agg == "sum" else getattr(groups, self.agg)()
        if not isinstance(t, pd.DatetimeIndex):
            out = out.reindex(np.arange(out.index[0], out.index[-1] + k, k))
        return out.index, out.to_numpy(np.float64)

    def missing(self, t, rows, vals, sid, multi):
        nan = np.isnan(vals)
        if not nan.any():
            return vals
        cols = [j for j in range(vals.shape[1]) if nan[:, j].any()]
        if self.fill is None:
            j = cols[0]
            at = np.flatnonzero(nan[:, j])
            where = [_fmt_time(t[i]) + ("" if rows is None else f" ({self.src.rows([rows[i]])})")
                     for i in at]
            detail = f"{len(at)} missing at {_listing(where)}"
            if rows is None:
                detail += " (steps the resampling left empty count too)"
            if len(cols) > 1:
                detail += f"; columns {[self.columns[c] for c in cols[1:]]} have gaps too"
            self.fail("missing values", detail, "pass fill='interpolate' (straight lines "
                      "between neighbours) or fill='ffill' (carry the last value forward), "
                      "or fill them yourself", self.columns[j], sid, multi)
        empty = [self.columns[j] for j in cols if nan[:, j].all()]
        if empty:
            self.fail("no values at all", f"column(s) {empty} are empty, nothing to fill from",
                      "drop the series or give it values", empty[0], sid, multi)
        if self.fill == _KEEP:
            return vals
        frame = self.pd.DataFrame(vals)
        if self.fill == "interpolate":
            frame = frame.interpolate(method="linear", limit_direction="both")
        else:
            frame = frame.ffill().bfill()
        return frame.to_numpy(np.float64)


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
        what = "CSV" if kind == "csv" else "Parquet"
        raise DataError(f"cannot read '{name}' as {what}: {type(exc).__name__}: {exc}. Fix: "
                        f"check that the file is a complete {what} table (open it, or "
                        f"re-export it)") from exc
    if len(frame) == 0:
        raise DataError(f"no rows in '{name}'. Fix: give a table with data rows")
    return frame, _Source(kind, name)


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
    if fill is not None and fill not in FILLS and fill != _KEEP:
        raise ConfigError(f"fill must be None, 'interpolate' or 'ffill', got {fill!r}")
    if agg not in AGGS:
        raise ConfigError(f"agg must be one of {AGGS}, got {agg!r}")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise ConfigError(f"min_length must be a positive integer, got {min_length!r}")
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
    if fill == _KEEP:  # internal: read_series_with_gaps; a SeriesSet never holds NaN
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
    return _read(data, time, target, id, None, wide, _KEEP, resample, agg, sort, min_length)


def _read(data, time, target, id, covariates, wide, fill, resample, agg, sort,
          min_length) -> _Read:
    pd = _pandas()
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
    reader = _Reader(pd, src, time_name, on_index, id, value_cols, sort, resample, agg, fill)
    t_all = reader.times(time_col, time_name)
    datetime = isinstance(t_all, pd.DatetimeIndex)
    reader.resample = _check_resample(pd, resample, datetime)
    role = {c: "target" for c in targets} | {c: "covariate" for c in covs}
    vals_all = np.column_stack([reader.numeric(frame[c].reset_index(drop=True), c, role[c])
                                for c in value_cols])

    multi = id is not None
    cleaned = [(sid, *reader.block(t_all[rows], rows, vals_all[rows], sid, multi))
               for sid, rows in _split(reader, frame, id)]
    freq = _common_step(reader, cleaned, datetime, multi)
    if wide:  # one block holding every series column (then the covariates): split it
        _, t, vals, _ = cleaned[0]
        n = len(targets)
        cleaned = [(c, t, np.column_stack([vals[:, j], vals[:, n:]]), freq)
                   for j, c in enumerate(targets)]
        targets = ["y"]
    _check_series(src, cleaned, targets, min_length,
                  "wide" if wide else "long" if multi else "lone")

    index = [pd.DatetimeIndex(t, freq=freq, name=time_name) if datetime else
             pd.RangeIndex(int(t[0]), int(t[-1]) + freq, freq, name=time_name)
             for _, t, _, _ in cleaned]
    return _Read(ids=tuple(sid for sid, *_ in cleaned), index=tuple(index),
                 values=tuple(v for *_, v, _ in cleaned), targets=tuple(targets),
                 covariates=tuple(covs), freq=freq, time_name=time_name,
                 id_name=id if id is not None else "id", source=src.path)


def _as_frame(pd, data, time, time_name, targets, covs, wide) -> tuple:
    """(DataFrame, its _Source, targets) from any accepted input."""
    if isinstance(data, str | os.PathLike):
        frame, src = _read_file(pd, data)
    elif isinstance(data, pd.DataFrame):
        frame, src = data, _Source("frame")
    elif isinstance(data, pd.Series):
        name = targets[0] if len(targets) == 1 and not wide else (data.name or "y")
        frame, src = data.to_frame(name=name), _Source("frame")
        targets = targets or [name]
        if time is not None:
            frame = frame.rename_axis(time)
    elif isinstance(data, np.ndarray | list | tuple):
        frame, targets = _from_array(pd, data, time_name, targets, covs, wide)
        src = _Source("array")
    else:
        raise DataError(f"cannot read series from a {type(data).__name__}. Fix: pass a "
                        "DataFrame, a NumPy array, or a CSV or Parquet path")
    if len(frame) == 0:
        raise DataError(f"no rows{src.where}. Fix: give a table with data rows")
    return frame, src, targets


def _check_columns(frame, src: _Source, time, id, targets, covs) -> None:
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


def _split(reader: _Reader, frame, id) -> list:
    """(series id, row positions) per series: by the id column, or one block of every row."""
    if id is None:
        return [(0, np.arange(len(frame)))]
    codes, uniques = reader.pd.factorize(frame[id], use_na_sentinel=True)
    if (codes < 0).any():
        reader.fail("missing series ids", reader.src.rows(np.flatnonzero(codes < 0), "have") +
                    " no id", "fill in or drop those rows", id)
    order = np.argsort(codes, kind="stable")
    cuts = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
    return list(zip(uniques.tolist(), np.split(order, cuts), strict=True))


def _check_series(src: _Source, cleaned: list, targets: list, min_length: int,
                  layout: str = "long") -> None:
    """Long enough for windows, and no constant target. ``layout``: ``"long"`` (series told
    apart by an id column), ``"wide"`` (one column per series) or ``"lone"`` (one series)."""

    def name(sid, col=None):
        if layout == "wide":
            return f"column {sid!r}"
        if layout == "lone":
            return "the series" if col is None else f"column {col!r}"
        return f"series {sid!r}"

    short = [(sid, len(t)) for sid, t, _, _ in cleaned if len(t) < min_length]
    if short:
        what = _listing(f"{name(sid)} ({n} steps)" for sid, n in short)
        raise DataError(f"series shorter than min_length={min_length}{src.where}: {what}. "
                        "Fix: give more history, drop those series, or use a shorter window "
                        "or horizon.")
    flat = [(sid, targets[j], np.nanmax(vals[:, j])) for sid, _, vals, _ in cleaned
            for j in range(len(targets)) if np.nanmax(vals[:, j]) == np.nanmin(vals[:, j])]
    if flat:
        what = _listing(
            f"{name(sid, col)} (target {col!r}, every value {v:g})" if layout == "long"
            else f"{name(sid, col)} (every value {v:g})" for sid, col, v in flat)
        raise DataError(f"constant series{src.where}: {what}. A constant series has no spread "
                        "to scale by and nothing to learn. Fix: drop those series (or forecast "
                        "them as constants yourself).")


def _common_step(reader: _Reader, cleaned: list, datetime: bool, multi: bool):
    """The one frequency every series shares; series too short to infer one must fit it."""
    pd = reader.pd
    known = [(sid, step) for sid, _, _, step in cleaned if step is not None]
    if not known and datetime:
        reader.fail("too few timestamps to infer the frequency", "every series has fewer "
                    "than 3", "pass resample='<freq>' (e.g. 'D') to state it", None)
    if not known:  # integer steps, every series shorter than 3: take the first gap, or 1
        pairs = [(sid, int(t[1] - t[0])) for sid, t, _, _ in cleaned if len(t) > 1]
        known = pairs[:1] if pairs and pairs[0][1] > 0 else [(None, 1)]

    def same(a, b):
        if datetime:
            return pd.tseries.frequencies.to_offset(a) == pd.tseries.frequencies.to_offset(b)
        return a == b

    first_sid, freq = known[0]
    for sid, step in known[1:]:
        if not same(step, freq):
            col = ", the index" if reader.on_index else f", column '{reader.time}'"
            raise DataError(f"series of different frequencies{reader.src.where}{col}: series "
                            f"{first_sid!r} steps by {freq!r}, series {sid!r} by {step!r}. Fix: "
                            f"pass resample={freq!r} (or another common frequency) to put them "
                            "on one grid")
    for sid, t, _, step in cleaned:
        if step is None and len(t) > 1:
            grid = (pd.date_range(t[0], periods=len(t), freq=freq) if datetime
                    else pd.Index(t[0] + freq * np.arange(len(t))))
            if not grid.equals(pd.Index(t)):
                reader.fail("irregular timestamps", f"{_listing(_fmt_time(x) for x in t)} do "
                            f"not step by {freq!r} like the other series",
                            f"pass resample={freq!r} to put it on that grid", reader.time,
                            sid, multi)
    return freq
