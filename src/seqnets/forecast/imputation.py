"""Gap filling with a model that sees both sides of a gap.

    imp = Imputer("bigru", window=64, epochs=20).fit(df, time="ds", target="y")
    filled = imp.fill()      # id (with id=), time, y with its gaps filled, imputed (bool)

How it works. Each series is standardised with the mean and standard deviation of its
OBSERVED values. Training windows of ``window`` steps are cut from every series; in each,
random gaps of 1 to ``max_gap`` steps are hidden until about ``mask_rate`` of the window is
(new gaps every epoch). The model, ``Bidirectional(GRU(units, return_sequences=True))`` ×
``layers`` → ``TimeDistributed(Dense(1))``, reads two features per step: the value (0 where
hidden or missing) and a mask (1 observed, 0 not). Its loss is the MSE on the hidden steps
that were truly observed, and only on those. Each window is centred on the mean of its
visible values, so that a trending series looks alike everywhere.

To fill, every window that contains a missing step is fed with all the missing steps masked;
each missing step gets the mean of its predictions over those windows. Observed values are
returned unchanged, bit for bit.

Missing values must be empty cells on a regular grid: a table whose gaps are missing ROWS is
refused by :func:`~seqnets.data.read_series` as irregular (resample it first).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

from ..checks import positive_int
from ..data.series import require_pandas
from ..data.tables import read_series_with_gaps
from ..errors import ConfigError, NotFittedError
from ..layers import GRU, LSTM, Bidirectional, Dense, TimeDistributed
from ..models import Sequential
from ..training import fit as train
from ..training import make_optimizer, predict

__all__ = ["Imputer", "gap_lengths", "masked_mse", "random_gaps"]

MODELS = {"bigru": GRU, "bilstm": LSTM}


def masked_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE over the steps whose weight is 1: ``out [B, T, 1]``, ``y [B, T, 2]`` holding the
    target then the weight (1 on hidden, truly observed steps; 0 elsewhere)."""
    target, weight = y[..., 0], y[..., 1]
    return ((out[..., 0] - target) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)


def random_gaps(rng: np.random.Generator, n: int, width: int, max_gap: int,
                rate: float) -> np.ndarray:
    """``[n, width]`` booleans: per row, gaps of 1 to ``max_gap`` steps (uniform lengths and
    places) added until at least ``rate × width`` steps (at least one) are hidden."""
    hide = np.zeros((n, width), dtype=bool)
    goal = max(1, round(rate * width))
    longest = max(1, min(max_gap, width - 1))
    steps = np.arange(width)
    for _ in range(goal):
        short = hide.sum(axis=1) < goal
        if not short.any():
            break
        length = rng.integers(1, longest + 1, size=n)
        start = rng.integers(0, width - length + 1)
        gap = (steps >= start[:, None]) & (steps < (start + length)[:, None])
        hide |= gap & short[:, None]
    return hide


def gap_lengths(missing: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True in a boolean vector, in order."""
    edges = np.diff(np.concatenate([[0], np.asarray(missing, dtype=np.int8), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def _encode(z: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs ``[n, W, 2]`` (value centred on the window's visible mean, 0 where not
    visible; visibility) and each window's centre ``[n, 1]``."""
    count = visible.sum(axis=1, keepdims=True)
    centre = np.where(visible, z, 0.0).sum(axis=1, keepdims=True) / np.maximum(count, 1)
    x = np.stack([np.where(visible, z - centre, 0.0), visible], axis=-1)
    return x.astype(np.float32), centre


class Imputer:
    """Fill missing values of series with a bidirectional recurrent model; scikit-learn
    conventions (``__init__`` stores, ``fit`` returns self, learned state ends in ``_``).

    Args:
        model: ``"bigru"`` or ``"bilstm"``.
        window: steps per training and filling window (capped at the shortest series).
        units: units per direction; layers: stacked bidirectional layers (1 to 3).
        max_gap: the longest gap hidden in training (steps).
        mask_rate: the share of each training window hidden, about.
        epochs, batch_size, lr: training (Adam, Keras defaults).
        seed: seeds initialisation, the hidden gaps and training.
        quiet: no per-epoch line on stderr.
    """

    def __init__(self, model: str = "bigru", window: int = 64, *, units: int = 32,
                 layers: int = 1, max_gap: int = 24, mask_rate: float = 0.15,
                 epochs: int = 20, batch_size: int = 32, lr: float | None = None,
                 seed: int = 0, quiet: bool = True):
        self.model, self.window, self.units, self.layers = model, window, units, layers
        self.max_gap, self.mask_rate, self.epochs = max_gap, mask_rate, epochs
        self.batch_size, self.lr, self.seed, self.quiet = batch_size, lr, seed, quiet

    def __repr__(self) -> str:
        return f"Imputer({self.model!r}, window={self.window}, units={self.units})"

    def _check(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"unknown imputation model {self.model!r}; use one of "
                              f"{sorted(MODELS)}")
        positive_int(self.window, "window", 2)
        positive_int(self.units, "units")
        if positive_int(self.layers, "layers") > 3:
            raise ConfigError(f"layers must be 1, 2 or 3, got {self.layers!r}")
        positive_int(self.max_gap, "max_gap")
        positive_int(self.batch_size, "batch_size")
        positive_int(self.epochs, "epochs", 0)
        rate = self.mask_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < 1:
            raise ConfigError(f"mask_rate must be in (0, 1), got {rate!r}")
        if self.lr is not None and not (isinstance(self.lr, int | float) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number or None, got {self.lr!r}")

    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this Imputer is not fitted yet: call .fit(data) first")

    # -- fitting --------------------------------------------------------------------------

    def fit(self, data: Any, time: str | None = "ds", target: str = "y",
            id: str | None = None, **read_options) -> Imputer:
        """Read ``data`` (a DataFrame, array or CSV/Parquet path; see ``read_series``, whose
        ``sort``, ``resample`` and ``agg`` pass through: empty resampling bins are gaps to
        fill), scale each series by its observed values and train the model; returns self."""
        self._check()
        if not isinstance(target, str):
            raise ConfigError(f"the Imputer fills one target column: give its name (e.g. "
                              f"target='y'), got {target!r}")
        unknown = set(read_options) - {"sort", "resample", "agg"}
        if unknown:
            raise ConfigError(f"unknown read options {sorted(unknown)}; the Imputer takes "
                              "sort, resample and agg")
        self._read(data, time, target, id, read_options)
        self.window_ = min(self.window, min(len(v) for v in self.values_))
        z = [(v - c) / s for v, c, s in zip(self.values_, self.center_, self.scale_,
                                             strict=True)]
        wins = [np.lib.stride_tricks.sliding_window_view(a, self.window_) for a in z]
        zw = np.concatenate(wins)                                  # (n, W), NaN where missing
        observed = ~np.isnan(zw)
        self.model_ = self._build()
        opt = make_optimizer("adam", list(self.model_.parameters()), self.lr)
        rng = np.random.default_rng(self.seed)
        self.history_ = {"loss": []}
        for epoch in range(self.epochs):
            hide = random_gaps(rng, len(zw), self.window_, self.max_gap, self.mask_rate)
            x, centre = _encode(zw, observed & ~hide)
            weight = observed & hide
            y = np.stack([np.where(weight, zw - centre, 0.0), weight], axis=-1)
            hist = train(self.model_, (x, y.astype(np.float32)), epochs=1,
                         batch_size=self.batch_size, optimizer=opt, loss=masked_mse,
                         seed=self.seed + epoch, quiet=True)
            self.history_["loss"].append(hist["loss"][0])
            if not self.quiet:
                print(f"Imputer epoch {epoch + 1}/{self.epochs} - masked mse "
                      f"{hist['loss'][0]:.4g}", file=sys.stderr, flush=True)
        return self

    def _read(self, data, time, target, id, read_options) -> None:
        """Validate with read_series's checks, keeping the gaps (NaN) and the values as given."""
        read = read_series_with_gaps(data, time=time, target=target, id=id, min_length=3,
                                     **read_options)
        values = [v[:, 0] for v in read.values]
        self.ids_, self.index_, self.values_ = read.ids, read.index, values
        self.names_ = (None if id is None else id, read.time_name, target)
        self.center_ = [float(np.nanmean(v)) for v in values]
        self.scale_ = [float(np.nanstd(v)) or 1.0 for v in values]
        self.gaps_ = np.concatenate([gap_lengths(np.isnan(v)) for v in values])  # lengths

    def _build(self) -> Sequential:
        cls = MODELS[self.model]
        layers = [Bidirectional(cls(self.units, return_sequences=True))
                  for _ in range(self.layers)]
        return Sequential([*layers, TimeDistributed(Dense(1))], input_size=2, seed=self.seed,
                          name=self.model)

    # -- filling --------------------------------------------------------------------------

    def _fill_one(self, z: np.ndarray) -> np.ndarray:
        """Predictions (scaled units) for the missing steps of one scaled series ``z``."""
        w, missing = self.window_, np.isnan(z)
        counts = np.concatenate([[0], np.cumsum(missing)])
        starts = np.flatnonzero(counts[w:] - counts[:-w] > 0)        # windows with a gap
        view = np.lib.stride_tricks.sliding_window_view(z, w)[starts]  # (n, W)
        visible = ~np.isnan(view)
        x, centre = _encode(view, visible)
        pred = predict(self.model_, x, batch_size=1024)[..., 0] + centre   # (n, W)
        total, seen = np.zeros(len(z)), np.zeros(len(z))
        pos = starts[:, None] + np.arange(w)
        np.add.at(total, pos[~visible], pred[~visible])
        np.add.at(seen, pos[~visible], 1.0)
        return total[missing] / seen[missing]

    def fill(self):
        """The fitted table on its grid with every gap filled: columns id (when ``fit`` had
        ``id=``), time, the target, and ``imputed`` (True on filled steps)."""
        self._fitted()
        pd = require_pandas()
        id_name, time_name, target = self.names_
        parts = []
        for sid, idx, v, c, s in zip(self.ids_, self.index_, self.values_, self.center_,
                                     self.scale_, strict=True):
            missing = np.isnan(v)
            out = v.copy()
            if missing.any():
                out[missing] = self._fill_one((v - c) / s) * s + c
            part = pd.DataFrame({time_name: np.asarray(idx), target: out, "imputed": missing})
            if id_name is not None:
                part.insert(0, id_name, [sid] * len(v))
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    def transform(self):
        """Same as :meth:`fill` (scikit-learn's name)."""
        return self.fill()

    def fit_transform(self, data: Any, time: str | None = "ds", target: str = "y",
                      id: str | None = None):
        """``fit(...)`` then ``fill()``."""
        return self.fit(data, time=time, target=target, id=id).fill()
