"""Batch forecasts of many series, split across the ranks of a ``torchrun`` launch and
written as one Parquet dataset: a folder with one part per rank.

Rank ``r`` of ``W`` forecasts the series ``r, r + W, r + 2W, ...`` of the model (in the
model's order) with :func:`for_series` and writes them alone to
``part-<r>-of-<W>.parquet``; no rank holds all the forecasts, and
``pandas.read_parquet(folder)`` (or ``pyarrow.dataset``) reads the parts as one table.
Forecasts are per series, so the parts together equal a one-process forecast, except where
Monte-Carlo dropout samples the intervals: its masks are drawn per batch, so a series'
sampled bands depend on the batch it is forecast in (the mean and the bands of
conformal, quantile and parametric models do not).

Newer history given as a file is read by each rank for its own series only
(:func:`rank_rows`): a Parquet file or dataset folder through a filter on the id column, a
CSV (or TSV) file in chunks of :data:`CSV_CHUNK_ROWS` rows, each cut to the rank's series
before the next is read. A table given in memory is cut.

A model trained with :func:`~seqnets.training.fit_sharded` on a Parquet shard's windows
forecasts that shard's series with :func:`shard_forecast` (or writes them as the rank's
part with :func:`write_shard_forecast`), so the sharded path never gathers the series.
"""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..data.files import atomic_write
from ..data.series import require_pandas
from ..data.tables import unreadable
from ..errors import ConfigError, DataError

__all__ = ["for_series", "forecast_part", "part_name", "rank_ids", "rank_rows",
           "shard_forecast", "write_parts", "write_shard_forecast"]

# rows of a CSV history read at a time: a rank holds one chunk and its own series' rows
CSV_CHUNK_ROWS = 500_000


def for_series(fc, ids):
    """The fitted Forecaster ``fc`` restricted to the series ``ids`` (in that order): the
    same model and calibration, their per-series scaling; a shallow copy, nothing copied
    but the per-series parts."""
    fc._fitted()
    ss = fc.series_
    unknown = [i for i in ids if i not in set(ss.ids)]
    if unknown:
        raise DataError(f"series {unknown[:5]} are not among the {len(ss)} this model was "
                        f"trained on (e.g. {list(ss.ids)[:5]})")
    positions = [ss.position(i) for i in ids]
    part = copy.copy(fc)
    part.series_ = ss.take(positions)
    part.cuts_ = tuple(fc.cuts_[i] for i in positions)
    if fc.transforms_ is not None:
        part.transforms_ = fc.transforms_.take(positions)
    return part


def part_name(rank: int, world: int) -> str:
    """The file rank ``rank`` of ``world`` writes."""
    return f"part-{rank:05d}-of-{world:05d}.parquet"


def rank_ids(ids, rank: int, world: int) -> list:
    """The series rank ``rank`` of ``world`` forecasts: every ``world``-th, from its rank."""
    return list(ids)[rank::world]


def forecast_part(fc, folder: str | os.PathLike, rank: int = 0, world: int = 1,
                  data: Any = None, future: Any = None, intervals=(0.8, 0.95),
                  **read_options) -> Path | None:
    """Forecast this rank's share of the series and write it to ``folder`` as one Parquet
    part (atomically); returns its path, or None when the rank has no series (more ranks
    than series). ``data`` (newer history of all the series, as :meth:`Forecaster.history`
    reads it) and ``future`` are as for :meth:`Forecaster.predict`."""
    fc._fitted()
    ids = rank_ids(fc.series_.ids, rank, world)  # a history is read in the model's order
    if not ids:
        return None
    part = for_series(fc, ids)
    newer = None
    if data is not None:
        own = rank_rows(fc, data, ids, read_options.get("id"))
        if own is not None:
            newer = part.history(own, **read_options)
        else:
            history = fc.history(data, **read_options)
            newer = history.take([history.position(i) for i in ids])
    frame = part.predict(intervals=intervals, data=newer, future=future)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return atomic_write(Path(folder) / part_name(rank, world), buffer.getvalue())


def write_parts(fc, folder: str | os.PathLike, data: Any = None, future: Any = None,
                intervals=(0.8, 0.95), overwrite: bool = False, **read_options) -> Path:
    """Forecast every series into ``folder`` as a Parquet dataset, one part per rank: in a
    ``torchrun`` launch each rank forecasts and writes its own share (:func:`forecast_part`),
    in one process a single part holds all. A folder that already holds parts is refused
    unless ``overwrite=True`` (rank 0 then removes them before any rank writes). Returns
    ``folder``, complete on every rank when this returns."""
    import torch

    from ..training import distributed

    fc._fitted()
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; the parts go in a folder")
    old = sorted(out.glob("part-*.parquet")) if out.is_dir() else []
    if old and not overwrite:
        raise ConfigError(f"{out} already holds {len(old)} forecast part(s); pass "
                          "overwrite=True (--force) to replace them")
    group = distributed.from_environment(torch.device("cpu"))  # None in one process
    rank, world = (0, 1) if group is None else (group.rank, group.world)
    if rank == 0:  # the old parts go first, or they would join the new ones
        for path in old:
            path.unlink()
    if group is not None:  # no rank writes before rank 0 has cleared the folder
        group.sum([0.0])
    forecast_part(fc, out, rank, world, data=data, future=future, intervals=intervals,
                  **read_options)
    if group is not None:
        group.sum([0.0])  # every part is written when any rank returns
    return out


def rank_rows(fc, data: Any, ids, id_column: str | None = None):
    """The rows of the series ``ids`` of ``data`` as a DataFrame when ``data`` is the path
    of a Parquet file, a folder of Parquet files (a dataset) or a CSV/TSV file, and the
    model's series have an id column (``id_column``, default the training data's). Parquet
    is read through ``pyarrow.dataset`` with a filter on that column, so the other series'
    rows never reach this process; a CSV is read in chunks, each cut to ``ids`` at once.
    None for any other ``data`` (read it whole)."""
    if not isinstance(data, str | os.PathLike):
        return None
    path = Path(data)
    suffix = path.suffix.lower()
    if not (path.is_dir() or suffix in (".parquet", ".pq", ".csv", ".tsv")):
        return None
    column = id_column or (None if fc.series_.ids == (0,) else fc.series_.id_name)
    if column is None:  # one series: all of it is this rank's
        return None
    if suffix in (".csv", ".tsv"):
        return _csv_rows(path, column, ids, "\t" if suffix == ".tsv" else ",")
    from ..data.parquet_shards import pyarrow_modules

    pads = pyarrow_modules()[2]
    try:
        dataset = pads.dataset(str(path), format="parquet")
    except (OSError, ValueError) as exc:  # pyarrow's errors for a missing or bad dataset
        raise DataError(f"cannot read '{path}' as Parquet: {type(exc).__name__}: {exc}. "
                        "Fix: give a Parquet file or a folder of Parquet files") from None
    if column not in dataset.schema.names:
        raise DataError(_no_id_column(path, column, dataset.schema.names))
    return dataset.to_table(filter=pads.field(column).isin(list(ids))).to_pandas()


def _csv_rows(path: Path, column: str, ids, sep: str):
    """The rows of the series ``ids`` of a CSV file, read :data:`CSV_CHUNK_ROWS` at a time.
    The id column is read as text when the model's ids are text, so that a chunk whose ids
    all look like numbers is compared as the whole file would be."""
    pd = require_pandas()
    text = all(isinstance(i, str) for i in ids)
    wanted, parts = set(ids), []
    try:
        with pd.read_csv(path, sep=sep, chunksize=CSV_CHUNK_ROWS,
                         dtype={column: str} if text else None) as chunks:
            for chunk in chunks:
                if column not in chunk.columns:
                    raise DataError(_no_id_column(path, column, list(chunk.columns)))
                parts.append(chunk[chunk[column].isin(wanted)])
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"no such file: '{path}'; check the path") from None
    except Exception as exc:  # any parser's failure becomes one error naming the file
        raise unreadable(str(path), "CSV", exc) from None
    return pd.concat(parts, ignore_index=True)


def _no_id_column(path: Path, column: str, names: list) -> str:
    return (f"'{path}' has no id column {column!r} (its columns: {names}). Fix: pass --id "
            "(id=) with the column that names the series")


def shard_forecast(shard, model, window: int, batch_size: int = 4096):
    """The forecast of every series of a :class:`~seqnets.data.parquet_shards.ParquetShard`
    by a model trained on its window set (``shard.window_set(window, horizon)`` with
    :func:`~seqnets.training.fit_sharded`): each series' last ``window`` values, scaled by
    the series' mean and deviation as the window set scales them, in; the model's
    ``horizon`` outputs, scaled back, out. A DataFrame ``id``, ``time``, ``mean``, built
    ``batch_size`` series at a time (no matrix of all the windows)."""
    import torch

    from ..checks import positive_int
    from ..training import predict

    pd = require_pandas()
    window = positive_int(window, "window")
    lengths = np.diff(shard.starts)
    short = np.flatnonzero(lengths < window)
    if len(short):
        i = int(short[0])
        raise DataError(f"series {shard.ids[i]!r} has {int(lengths[i])} steps, fewer than "
                        f"the window of {window}. Fix: a shorter window, or drop the series")
    outs = []
    for a in range(0, len(shard), positive_int(batch_size, "batch_size")):
        b = min(a + batch_size, len(shard))
        idx = shard.starts[a + 1:b + 1, None] - window + np.arange(window)
        mean, std = shard.mean[a:b, None], shard.std[a:b, None]
        x = ((shard.values[idx] - mean) / std).astype(np.float32)[..., None]
        y = predict(model, torch.from_numpy(x), batch_size=batch_size).double().numpy()
        y = y[..., 0] if y.ndim == 3 and y.shape[-1] == 1 else y
        if y.ndim != 2:
            raise DataError(f"the model gives outputs of shape {tuple(y.shape)}; a shard "
                            "forecast needs [series, horizon] (train it on "
                            "shard.window_set(window, horizon))")
        outs.append(y * std + mean)
    y = np.concatenate(outs) if outs else np.zeros((0, 1))
    h = y.shape[1]
    ticks = shard.first_time[:, None] + shard.step[:, None] * (lengths[:, None] + np.arange(h))
    time = ticks.ravel()
    if shard.time_zone is not None:
        time = pd.to_datetime(time, unit="ns", utc=bool(shard.time_zone))
        time = time.tz_convert(shard.time_zone) if shard.time_zone else time
    return pd.DataFrame({"id": np.repeat(np.array(shard.ids, dtype=object), h), "time": time,
                         "mean": y.ravel()})


def write_shard_forecast(shard, model, folder: str | os.PathLike, window: int,
                         batch_size: int = 4096) -> Path | None:
    """:func:`shard_forecast` written to ``folder`` as this shard's Parquet part
    (``part_name(shard.rank, shard.world)``, atomically): under torchrun every rank writes
    its own, and the parts together are one dataset. None for a shard without series."""
    if not len(shard):
        return None
    buffer = io.BytesIO()
    shard_forecast(shard, model, window, batch_size).to_parquet(buffer, index=False)
    return atomic_write(Path(folder) / part_name(shard.rank, shard.world), buffer.getvalue())
