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

Newer history given as a Parquet file or a Parquet dataset folder is read by each rank for
its own series only (a filter on the id column, :func:`rank_rows`); other history (a CSV
file, a table) is read whole and cut.
"""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path
from typing import Any

from ..data.files import atomic_write
from ..errors import DataError

__all__ = ["for_series", "forecast_part", "part_name", "rank_ids"]


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


def rank_rows(fc, data: Any, ids, id_column: str | None = None):
    """The rows of the series ``ids`` of ``data`` as a DataFrame when ``data`` is the path
    of a Parquet file or of a folder of Parquet files (a dataset) and the model's series
    have an id column (``id_column``, default the training data's): read through
    ``pyarrow.dataset`` with a filter on that column, so that the other series' rows never
    reach this process. None for any other ``data`` (read it whole)."""
    if not isinstance(data, str | os.PathLike):
        return None
    path = Path(data)
    if not (path.is_dir() or path.suffix.lower() in (".parquet", ".pq")):
        return None
    column = id_column or (None if fc.series_.ids == (0,) else fc.series_.id_name)
    if column is None:  # one series: all of it is this rank's
        return None
    from ..data.parquet_shards import pyarrow_modules

    pads = pyarrow_modules()[2]
    try:
        dataset = pads.dataset(str(path), format="parquet")
    except (OSError, ValueError) as exc:  # pyarrow's errors for a missing or bad dataset
        raise DataError(f"cannot read '{path}' as Parquet: {type(exc).__name__}: {exc}. "
                        "Fix: give a Parquet file or a folder of Parquet files") from None
    if column not in dataset.schema.names:
        raise DataError(f"'{path}' has no id column {column!r} (its columns: "
                        f"{dataset.schema.names}). Fix: pass --id (id=) with the column "
                        "that names the series")
    return dataset.to_table(filter=pads.field(column).isin(list(ids))).to_pandas()
