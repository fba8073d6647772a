"""A long-format Parquet dataset folder read lazily, one shard of the series per rank.

    shard = read_parquet_shard("sales/", time="ds", target="y", id="store")  # this rank's
    train = shard.window_set(window=24, horizon=1)      # windows gathered batch by batch

One pass over the id column lists the series (sorted); rank ``r`` of ``world`` takes
``ids[r::world]``. A second pass reads only the time, target and id columns, a record batch
at a time, and keeps this rank's rows: one compact float32 array of every series' values,
sorted by time, with per-series offsets. The checks of :func:`~seqnets.data.read_series`
apply (missing, infinite or non-numeric values, missing, unsorted, duplicate or irregular
timestamps, short or constant series), each a :class:`~seqnets.errors.DataError` naming the
file and the row (0-based, within that file) and the fix. Per-series scaling statistics
(mean and standard deviation) come from the same pass. Windows are views of the compact
array, gathered per batch: no window matrix is ever built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..checks import positive_int
from ..errors import ConfigError, DataError
from .table_checks import FLOAT32_MAX

__all__ = ["ParquetShard", "WindowSet", "pyarrow_modules", "read_parquet_shard"]


def pyarrow_modules():
    """``(pyarrow, pyarrow.compute, pyarrow.dataset)``, or an ImportError that says how to
    install them."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.dataset as ds
    except ImportError as exc:
        raise ImportError('reading Parquet datasets needs pyarrow: pip install '
                          '"seqnets[tables]"') from exc
    return pa, pc, ds


def _rank_world(rank: int | None, world: int | None) -> tuple[int, int]:
    if rank is None or world is None:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            r, w = dist.get_rank(), dist.get_world_size()
        else:
            r, w = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        rank = r if rank is None else rank
        world = w if world is None else world
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"rank {rank} of world {world}: need 0 <= rank < world")
    return rank, world


@dataclass
class _Files:
    """The dataset's files and the global row number each starts at."""

    paths: list[str]
    bases: np.ndarray  # int64 [files + 1]

    def where(self, row: int) -> str:
        f = int(np.searchsorted(self.bases, row, side="right")) - 1
        return f"'{self.paths[f]}', row {row - int(self.bases[f])}"


class ParquetShard:
    """This rank's series of a Parquet dataset: values, times and scaling statistics.

    ``ids`` (sorted), ``starts`` (int64 ``[k + 1]``: series ``i`` is
    ``values[starts[i]:starts[i + 1]]``), ``values`` (float32), ``first_time`` and ``step``
    (int64 per series; timestamps as nanoseconds), ``time_zone`` (None: the time column
    holds integer steps; ``""``: naive timestamps; else their zone), ``mean`` and ``std``
    (float64 per series), ``series_count`` (all ranks together), ``rows`` (this rank's),
    ``rank`` and ``world`` (whose share this is)."""

    def __init__(self, ids: tuple, starts: np.ndarray, values: np.ndarray,
                 first_time: np.ndarray, step: np.ndarray, series_count: int,
                 files: list[str], time_zone: str | None = None, rank: int = 0,
                 world: int = 1) -> None:
        self.ids, self.starts, self.values = ids, starts, values
        self.first_time, self.step, self.time_zone = first_time, step, time_zone
        self.series_count, self.files = series_count, files
        self.rank, self.world = rank, world
        counts = np.diff(starts)
        v = values.astype(np.float64)  # per-series sums; the shard is this rank's alone
        self.mean = np.add.reduceat(v, starts[:-1]) / counts if len(ids) else np.zeros(0)
        sq = np.add.reduceat((v - np.repeat(self.mean, counts)) ** 2, starts[:-1]) \
            if len(ids) else np.zeros(0)
        self.std = np.sqrt(sq / counts)

    @property
    def rows(self) -> int:
        return int(self.starts[-1])

    def __len__(self) -> int:
        return len(self.ids)

    def series(self, i: int) -> np.ndarray:
        """Series ``i``'s values in time order (a view)."""
        return self.values[self.starts[i]:self.starts[i + 1]]

    def window_set(self, window: int, horizon: int = 1, scale: bool = True) -> WindowSet:
        """Every window of ``window`` steps and the ``horizon`` steps after it, of every
        series, scaled by the series' mean and standard deviation unless ``scale=False``."""
        return WindowSet(self, positive_int(window, "window"), positive_int(horizon, "horizon"),
                         scale)


class WindowSet:
    """The windows of a :class:`ParquetShard`, indexed ``0..len-1`` series by series:
    ``ws[rows]`` (an index tensor or a slice) gathers ``(x [b, window, 1], y [b, horizon])``
    from views of the shard's values. What :func:`~seqnets.training.fit_sharded` takes."""

    def __init__(self, shard: ParquetShard, window: int, horizon: int, scale: bool) -> None:
        counts = np.diff(shard.starts) - (window + horizon) + 1
        short = np.flatnonzero(counts < 1)
        if len(short):
            i = int(short[0])
            steps = int(shard.starts[i + 1] - shard.starts[i])
            raise DataError(f"series {shard.ids[i]!r} has {steps} steps, fewer than window "
                            f"+ horizon ({window} + "
                            f"{horizon}). Fix: pass min_length={window + horizon} to "
                            "read_parquet_shard to refuse short series early, or drop them")
        self.shard, self.window, self.horizon = shard, window, horizon
        self.cum = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        flat = torch.from_numpy(shard.values)
        self._x = flat.unfold(0, window, 1)  # views: every start position's window
        self._y = flat.unfold(0, horizon, 1)
        one = np.ones(len(shard.ids)) if not scale else shard.std
        self._mean = torch.from_numpy((shard.mean if scale else 0 * one).astype(np.float32))
        self._std = torch.from_numpy(one.astype(np.float32))

    def __len__(self) -> int:
        return int(self.cum[-1])

    def origins(self, rows: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each window's series (index into ``shard.ids``) and offset in that series."""
        w = np.arange(len(self))[rows] if isinstance(rows, slice) else np.asarray(rows)
        s = np.searchsorted(self.cum, w, side="right") - 1
        return s, w - self.cum[s]

    def __getitem__(self, rows: Any) -> tuple[torch.Tensor, torch.Tensor]:
        s, off = self.origins(rows)
        p = torch.from_numpy(self.shard.starts[s] + off)
        st = torch.from_numpy(s)
        mean, std = self._mean[st, None], self._std[st, None]
        x = (self._x[p] - mean) / std
        y = (self._y[p + self.window] - mean) / std
        return x.unsqueeze(-1), y


def _plain(pa, col):
    """A dictionary-encoded column (pandas' categoricals) as its values."""
    return col.dictionary_decode() if pa.types.is_dictionary(col.type) else col


def _numeric_target(pa, col, files: _Files, f: int, target: str) -> None:
    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            or pa.types.is_null(t)):
        raise DataError(f"non-numeric target in {files.where(int(files.bases[f]))}: column "
                        f"'{target}' holds {t}. Fix: store the target as numbers (e.g. "
                        f"df['{target}'] = pd.to_numeric(df['{target}']))")


def _time_ints(pa, pc, col, files: _Files, row0: int, time: str) -> np.ndarray:
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        ns = pa.timestamp("ns", tz=getattr(t, "tz", None))  # whatever unit: nanoseconds
        col = pc.cast(col, ns).cast(pa.int64())
    elif not pa.types.is_integer(t):
        raise DataError(f"time column '{time}' in {files.where(row0)} holds {t}. Fix: store "
                        "timestamps or integer steps")
    if col.null_count:
        bad = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"missing timestamp in {files.where(row0 + bad)}, column '{time}'. "
                        "Fix: fill in or drop the rows without a timestamp")
    return col.cast(pa.int64()).to_numpy(zero_copy_only=False)


def read_parquet_shard(path: str | os.PathLike, time: str = "ds", target: str = "y",
                       id: str = "id", *, rank: int | None = None, world: int | None = None,
                       sort: bool = False, min_length: int = 2,
                       batch_rows: int = 65_536) -> ParquetShard:
    """Read rank ``rank``'s share of the series of the Parquet dataset at ``path`` (a
    folder of files, or one file) a record batch at a time.

    ``rank`` and ``world`` default to the process group's (or torchrun's ``RANK`` and
    ``WORLD_SIZE``; 0 and 1 alone). ``sort=True`` sorts each series by time instead of
    refusing timestamps that go back (in file order, then row order). Raises
    :class:`~seqnets.errors.DataError` naming the file and row of the first bad value."""
    pa, pc, ds = pyarrow_modules()
    from_group = rank is None and world is None  # the shares of a joined process group
    rank, world = _rank_world(rank, world)
    min_length = max(2, positive_int(min_length, "min_length"))  # a step needs two rows
    name = os.fspath(path)
    if not os.path.exists(name):
        raise DataError(f"no Parquet dataset at '{name}'. Fix: check the path")
    try:
        dataset = ds.dataset(name, format="parquet")
    except Exception as exc:  # noqa: BLE001 - any reader failure names the folder
        raise DataError(f"cannot read '{name}' as a Parquet dataset: {exc}. Fix: check that "
                        "it holds complete Parquet files") from exc
    lost = [c for c in (time, target, id) if c not in dataset.schema.names]
    if lost:
        raise DataError(f"missing column(s) {lost} in '{name}': the columns are "
                        f"{dataset.schema.names}. Fix: pass time=, target= and id= naming "
                        "existing columns")
    fragments = list(dataset.get_fragments())
    paths = [fr.path for fr in fragments]

    # pass 1: the id column alone, to list the series and count their rows
    counts: dict = {}
    bases = [0]
    for f, fr in enumerate(fragments):
        rows = 0
        for batch in fr.to_batches(columns=[id], batch_size=batch_rows):
            col = _plain(pa, batch.column(0))
            if col.null_count:
                bad = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
                raise DataError(f"missing id in '{paths[f]}', row {rows + bad}, column "
                                f"'{id}'. Fix: give every row its series' id")
            vc = pc.value_counts(col)
            for v, c in zip(vc.field(0).to_pylist(), vc.field(1).to_pylist(), strict=True):
                counts[v] = counts.get(v, 0) + c
            rows += len(col)
        bases.append(bases[-1] + rows)
    files = _Files(paths, np.asarray(bases, dtype=np.int64))
    if not counts:
        raise DataError(f"no rows in '{name}'. Fix: give a dataset with data rows")
    ids = tuple(sorted(counts))[rank::world]
    k = len(ids)
    sizes = np.asarray([counts[i] for i in ids], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(starts[-1])
    values = np.empty(n, np.float32)
    times = np.empty(n, np.int64)
    where = np.empty(n, np.int64)  # each value's global row, to name it in an error
    fill = np.zeros(k, np.int64)
    id_type = dataset.schema.field(id).type
    if pa.types.is_dictionary(id_type):  # a pandas categorical: its values' type
        id_type = id_type.value_type
    value_set = pa.array(list(ids), type=id_type)

    # pass 2: this rank's rows, batch by batch, into the compact arrays
    for f, fr in enumerate(fragments):
        row0 = int(files.bases[f])
        for batch in fr.to_batches(columns=[time, target, id], batch_size=batch_rows):
            g = pc.fill_null(pc.index_in(_plain(pa, batch.column(2)), value_set=value_set),
                             -1)
            g = g.to_numpy(zero_copy_only=False)
            sel = np.flatnonzero(g >= 0)
            if len(sel):
                _numeric_target(pa, batch.column(1), files, f, target)
                v = batch.column(1).cast(pa.float64()).to_numpy(zero_copy_only=False)[sel]
                bad = ~np.isfinite(v) | (np.abs(v) > FLOAT32_MAX)
                if bad.any():
                    j = int(np.flatnonzero(bad)[0])
                    what = "a missing (NaN or null)" if np.isnan(v[j]) else \
                        "an infinite or too large (beyond float32)"
                    raise DataError(f"{what} value in {files.where(row0 + int(sel[j]))}, "
                                    f"column '{target}', series {ids[g[sel[j]]]!r}. Fix: fill "
                                    "or drop the missing values, or rescale the target")
                t = _time_ints(pa, pc, batch.column(0), files, row0, time)[sel]
                gs = g[sel]
                order = np.argsort(gs, kind="stable")
                gs = gs[order]
                per = np.bincount(gs, minlength=k)
                first = np.concatenate([[0], np.cumsum(per)])[:-1]
                pos = starts[gs] + fill[gs] + np.arange(len(gs)) - first[gs]
                values[pos] = v[order]
                times[pos] = t[order]
                where[pos] = row0 + sel[order]
                fill += per
            row0 += batch.num_rows
    _check_series(ids, starts, values, times, where, files, sort, min_length, time, target,
                  id)
    first_time = times[starts[:-1]] if k else np.zeros(0, np.int64)
    step = times[starts[:-1] + 1] - first_time if k else np.zeros(0, np.int64)
    other = np.flatnonzero(step != step[0]) if k else []
    if len(other):
        i = int(other[0])
        raise DataError(f"series of different steps: series {ids[0]!r} (first in "
                        f"{files.where(int(where[starts[0]]))}) steps by {int(step[0])}, "
                        f"series {ids[i]!r} (first in {files.where(int(where[starts[i]]))}) "
                        f"by {int(step[i])}, column '{time}'. Fix: one frequency per "
                        "dataset (resample the series onto one grid)")
    del times, where
    if from_group:
        _same_step_on_every_rank(step, time)
    t = dataset.schema.field(time).type
    zone = (getattr(t, "tz", None) or "") if pa.types.is_timestamp(t) or pa.types.is_date(t) \
        else None
    return ParquetShard(ids, starts, values, first_time, step, len(counts), paths, zone,
                        rank, world)


def _same_step_on_every_rank(step: np.ndarray, time: str) -> None:
    """In a joined process group of several ranks, refuse a dataset whose ranks' series
    step by different amounts (each rank checked its own series already); every rank
    raises alike."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return
    big = np.iinfo(np.int64).max
    bounds = torch.tensor([int(step.min()) if len(step) else big,
                           -int(step.max()) if len(step) else big], dtype=torch.int64)
    dist.all_reduce(bounds, op=dist.ReduceOp.MIN)  # the smallest step, minus the largest
    low, high = int(bounds[0]), -int(bounds[1])
    if low != high:
        mine = f"steps by {int(step[0])}" if len(step) else "has no series"
        raise DataError(f"series of different steps on different ranks: steps from {low} to "
                        f"{high}, column '{time}' (this rank's share {mine}). Fix: one "
                        "frequency per dataset (resample the series onto one grid)")


def _check_series(ids, starts, values, times, where, files: _Files, sort: bool,
                  min_length: int, time: str, target: str, id: str) -> None:
    """Refuse (or, with ``sort``, sort) the compact arrays' series in place."""
    k = len(ids)
    sizes = np.diff(starts)
    short = np.flatnonzero(sizes < min_length)
    if len(short):
        i = int(short[0])
        raise DataError(f"series {ids[i]!r} has {int(sizes[i])} rows (first in "
                        f"{files.where(int(where[starts[i]]))}), fewer than min_length="
                        f"{min_length}. Fix: drop the short series or lower min_length")
    seg = np.repeat(np.arange(k), sizes)
    inner = np.ones(len(times) - 1 if len(times) else 0, bool)
    inner[starts[1:-1] - 1] = False  # a diff across two series compares nothing
    d = np.diff(times)
    back = np.flatnonzero(inner & (d < 0))
    if len(back):
        if not sort:
            j = int(back[0])
            raise DataError(f"unsorted timestamps in series {ids[seg[j]]!r}: "
                            f"{files.where(int(where[j + 1]))} comes before "
                            f"{files.where(int(where[j]))} in time, column '{time}'. Fix: "
                            f"sort the files by ['{id}', '{time}'], or pass sort=True")
        order = np.lexsort((times, seg))
        values[:] = values[order]
        times[:] = times[order]
        where[:] = where[order]
        d = np.diff(times)
    dup = np.flatnonzero(inner & (d == 0))
    if len(dup):
        j = int(dup[0])
        raise DataError(f"duplicate timestamps in series {ids[seg[j]]!r}: "
                        f"{files.where(int(where[j]))} and {files.where(int(where[j + 1]))} "
                        f"share time {int(times[j])}, column '{time}'. Fix: drop or aggregate "
                        f"the duplicates (e.g. df.groupby(['{id}', '{time}']).mean())")
    first_step = np.repeat(times[starts[:-1] + 1] - times[starts[:-1]], sizes)[:-1] \
        if len(times) else d
    off = np.flatnonzero(inner & (d != first_step))
    if len(off):
        j = int(off[0])
        raise DataError(f"irregular timestamps in series {ids[seg[j]]!r}: the step to "
                        f"{files.where(int(where[j + 1]))} is {int(d[j])}, the series "
                        f"starts with steps of {int(first_step[j])}, column '{time}'. Fix: "
                        "resample the series onto a regular grid (read_series(..., "
                        "resample=...) per file) and fill the gaps")
    const = np.flatnonzero(np.maximum.reduceat(values, starts[:-1])
                           == np.minimum.reduceat(values, starts[:-1])) if k else []
    if len(const):
        i = int(const[0])
        raise DataError(f"constant series {ids[i]!r} (first in "
                        f"{files.where(int(where[starts[i]]))}), column '{target}': a "
                        "constant series has no spread to scale by. Fix: drop it")
