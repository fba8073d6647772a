"""The validated result of reading tables: :class:`SeriesSet`, series on one regular grid.

pandas is optional (``pip install "seqnets[tables]"``): :func:`require_pandas` imports it when
a function needs it, never when ``seqnets`` is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["SeriesSet", "require_pandas"]


def require_pandas():
    """pandas, or an ImportError saying how to install it (the tables extra)."""
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
            with np.errstate(over="ignore"):  # overflow is refused just below, by name
                a = np.array(v, dtype=np.float32)  # a private copy: the caller's stays theirs
            if np.isinf(a).any() and not np.isinf(np.asarray(v, dtype=np.float64)).any():
                raise DataError(f"series {sid!r}: values beyond float32's range (±3.4e38), "
                                "which series are kept in. Fix: rescale the values (e.g. "
                                "divide by a power of ten)")
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

    def take(self, positions) -> SeriesSet:
        """The series at ``positions``, in that order, as a SeriesSet of their own."""
        positions = [int(i) for i in positions]
        return SeriesSet(tuple(self.ids[i] for i in positions),
                         tuple(self.index[i] for i in positions),
                         tuple(self.values[i] for i in positions), self.targets,
                         self.covariates, self.freq, self.time_name, self.id_name, self.source)

    def targets_of(self, i: int) -> np.ndarray:
        """Targets of the ``i``-th series, ``[T_i, n_targets]`` (a read-only view)."""
        return self.values[i][:, :self.n_targets]

    def covariates_of(self, i: int) -> np.ndarray:
        """Covariates of the ``i``-th series, ``[T_i, n_covariates]`` (a read-only view)."""
        return self.values[i][:, self.n_targets:]

    def future_index(self, i: int, horizon: int):
        """The ``horizon`` timestamps that follow the ``i``-th series, on its grid."""
        pd = require_pandas()
        idx = self.index[i]
        if isinstance(idx, pd.DatetimeIndex):
            return pd.date_range(idx[-1], periods=horizon + 1, freq=self.freq,
                                 name=idx.name)[1:]
        step = int(self.freq)
        start = idx[-1] + step
        return pd.RangeIndex(start, start + horizon * step, step, name=idx.name)

    def to_frame(self):
        """A long DataFrame: id, time, targets, covariates (float32), one row per step."""
        pd = require_pandas()
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
