"""The checks a table passes on its way to a :class:`~seqnets.data.SeriesSet`: per series,
sorted, unique and regular timestamps, no missing values unless a fill is asked for, one
common step; each failure a :class:`~seqnets.errors.DataError` naming the file, column,
series, rows and the fix."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .series import require_pandas

FILLS = ("interpolate", "ffill")
KEEP = "keep"  # read_series_with_gaps: missing values stay NaN
_SHOW = 5  # rows or timestamps quoted in a message before "... (N in all)"
# series are float32 (SeriesSet): a larger value would silently become inf
FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT64_STEPS = 2.0**62  # float time steps beyond this do not convert to int64 exactly
# steps a regular grid may hold: one far-off timestamp (year 1 among 2020's days) must not
# make a grid of millions of steps, or billions, only to say that it is irregular
_MAX_GRID = 10_000_000


# ----------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Source:
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
    pd = require_pandas()
    if isinstance(t, pd.Timestamp):
        try:
            return str(t.date()) if t == t.normalize() and t.tz is None else str(t)
        except (NotImplementedError, ValueError, OverflowError):  # past year 9999
            return str(t)
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
    pd = require_pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3.1 announces an offset return type
        f = pd.infer_freq(t)
    return None if f is None else pd.tseries.frequencies.to_offset(f).freqstr


# ----------------------------------------------------------------------------- the reader


class Reader:
    """One read: the options, the source, and the checks that raise with them."""

    def __init__(self, pd, src: Source, time: str, on_index: bool, id_col, columns: list,
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
            bad = np.flatnonzero((v != np.round(v)) | ~(np.abs(v) < _INT64_STEPS))
            if len(bad):
                self.fail("non-integer time steps", f"{self.src.rows(bad, 'hold')} "
                          f"{_listing(v[bad])}", "use timestamps or whole-number steps "
                          "(of size below 2**62)", label)
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
        huge = np.flatnonzero(np.abs(arr) > FLOAT32_MAX)
        if len(huge):
            self.fail("values too large", f"{self.src.rows(huge, 'hold')} {_listing(arr[huge])}"
                      f", beyond float32's range (±{FLOAT32_MAX:.4g}) that series are kept in",
                      "rescale the column (e.g. divide it by a power of ten)", name)
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

    def grid_size(self, t, step) -> float:
        """How many steps the regular grid from ``t[0]`` to ``t[-1]`` holds, unbuilt."""
        pd = self.pd
        try:
            if isinstance(t, pd.DatetimeIndex):
                one = (t[0] + pd.tseries.frequencies.to_offset(step)) - t[0]
                return (t[-1] - t[0]) / one + 1
            return (int(t[-1]) - int(t[0])) / step + 1
        except (ValueError, OverflowError, ZeroDivisionError):  # past the datetime range
            return float("inf")

    def check_span(self, t, step, sid, multi, limit: float) -> None:
        n = self.grid_size(t, step)
        if n > limit:
            unit = f"'{step}'" if isinstance(step, str) else f"{step} steps"
            self.fail("timestamps too far apart", f"from {_fmt_time(t[0])} to "
                      f"{_fmt_time(t[-1])} a regular grid of {unit} holds {n:.3g} steps, for "
                      f"{len(t)} rows", "check the first and last timestamps (one may be "
                      "mistyped), or resample to a coarser step", self.time, sid, multi)

    def irregular(self, t, rows, step, sid, multi):
        self.check_span(t, step, sid, multi, min(_MAX_GRID, max(100 * len(t), 100_000)))
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
        self.check_span(t, self.resample, None, False, _MAX_GRID)
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
        if self.fill == KEEP:
            return vals
        frame = self.pd.DataFrame(vals)
        if self.fill == "interpolate":
            frame = frame.interpolate(method="linear", limit_direction="both")
        else:
            frame = frame.ffill().bfill()
        return frame.to_numpy(np.float64)


def split_series(reader: Reader, frame, id) -> list:
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


def check_series(src: Source, cleaned: list, targets: list, min_length: int,
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


def common_step(reader: Reader, cleaned: list, datetime: bool, multi: bool):
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
