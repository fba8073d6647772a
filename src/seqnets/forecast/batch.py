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
    history = fc.series_ if data is None else fc.history(data, **read_options)
    ids = rank_ids(history.ids, rank, world)
    if not ids:
        return None
    part = for_series(fc, ids)
    newer = None if data is None else history.take([history.position(i) for i in ids])
    frame = part.predict(intervals=intervals, data=newer, future=future)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return atomic_write(Path(folder) / part_name(rank, world), buffer.getvalue())
