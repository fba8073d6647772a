"""What a Classifier reads: sequences of any length with their labels, checked; a stratified
split; per-channel scaling; padded batches in length order.

Sequences are arrays ``[T_i, C]`` (recordings, sketches) or ``[T_i, C, H, W]`` (videos),
every one with the same step shape; labels are strings or integers. A reader's output is
taken as it is: :class:`~seqnets.data.TsData` (its series and labels), and
:class:`~seqnets.data.Drawings` (its sketches as stroke-3, and their words).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..data.quickdraw import Drawings
from ..data.ts_files import TsData
from ..errors import DataError, ShapeError


def sequences_and_labels(X: Any, y: Any = None, need_labels: bool = True,
                         max_length: int | None = None) -> tuple[list[np.ndarray], Any]:
    """``(sequences, labels)``: float32 arrays ``[T_i, ...]`` (cut to ``max_length`` steps)
    and a 1-D label array (``None`` when not needed and not given)."""
    if isinstance(X, TsData):
        y = X.labels if y is None else y
        X = list(X.series)
    elif isinstance(X, Drawings):
        y = X.labels if y is None else y
        X = X.stroke3()
    if isinstance(X, np.ndarray) and X.dtype != object:
        X = list(X)  # an equal-length array [N, T, ...]
    if not isinstance(X, (list, tuple)):
        raise DataError(f"X must be a list of arrays [steps, channels] (or a TsData / Drawings "
                        f"from seqnets.data), got {type(X).__name__}")
    if not X:
        raise DataError("X is empty: give at least one sequence")
    seqs = [_sequence(s, i, max_length) for i, s in enumerate(X)]
    shape = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.shape[1:] != shape:
            raise ShapeError(f"sequence {i} has steps of shape {s.shape[1:]}, sequence 0 of "
                             f"{shape}; every sequence needs the same channels")
    if y is None:
        if need_labels:
            raise DataError("y is missing: give one label per sequence")
        return seqs, None
    labels = np.asarray(list(y) if not isinstance(y, np.ndarray) else y)
    if labels.ndim != 1 or len(labels) != len(seqs):
        raise ShapeError(f"y must hold one label per sequence ({len(seqs)}), got shape "
                         f"{labels.shape}")
    if labels.dtype == object and any(v is None for v in labels.tolist()):
        raise DataError("y holds missing labels (None); every sequence needs its class")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise DataError("y holds non-integer numbers; labels are class names or integers")
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iuUSO" and labels.dtype != bool:
        raise DataError(f"labels must be strings or integers, got dtype {labels.dtype}")
    if labels.dtype.kind in "SO":
        labels = labels.astype(str)
    return seqs, labels


def _sequence(s: Any, i: int, max_length: int | None) -> np.ndarray:
    try:
        a = np.asarray(s)
    except Exception as err:  # noqa: BLE001 - report what the user passed
        raise DataError(f"sequence {i} cannot be read as an array: {err}") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise DataError(f"sequence {i} must be numeric, got dtype {a.dtype}")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim not in (2, 4):
        raise ShapeError(f"sequence {i} must be [steps, channels] or [frames, channels, "
                         f"height, width], got shape {a.shape}")
    if len(a) == 0:
        raise DataError(f"sequence {i} is empty; every sequence needs at least one step")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        bad = int(np.argwhere(~np.isfinite(a))[0][0])
        raise DataError(f"sequence {i} holds NaN or infinite values (first at step {bad}); "
                        "fill the missing values (e.g. interpolate) or drop the sequence")
    return a[:max_length] if max_length is not None else a


def stratified_split(labels: np.ndarray, fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, valid)`` indices: ``fraction`` of each class (rounded, at least one) held
    out, none from a class of a single sequence."""
    rng = np.random.default_rng(seed)
    valid = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            continue
        rng.shuffle(idx)
        valid.extend(idx[:min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))])
    valid = np.sort(np.array(valid, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), valid), valid


def channel_stats(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (axis 1 of every step), the mean and standard deviation over every step
    (and pixel) of ``seqs``; a constant channel gets 1."""
    total = sum(s.shape[0] * int(np.prod(s.shape[2:])) for s in seqs)
    axes = (0, *range(2, seqs[0].ndim))
    mean = sum(s.sum(axis=axes, dtype=np.float64) for s in seqs) / total
    var = sum(((s - mean.reshape(_shape(s))) ** 2).sum(axis=axes, dtype=np.float64)
              for s in seqs) / total
    std = np.sqrt(var)
    std[std < 1e-12] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def _shape(s: np.ndarray) -> tuple:
    return (1, -1, *([1] * (s.ndim - 2)))


def scaled(seqs: list[np.ndarray], mean: np.ndarray | None,
           std: np.ndarray | None) -> list[np.ndarray]:
    if mean is None:
        return seqs
    return [(s - mean.reshape(_shape(s))) / std.reshape(_shape(s)) for s in seqs]


def padded(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One batch ``[N, max T_i, ...]`` padded with zeros at the end, and the lengths."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    x = np.zeros((len(seqs), int(lengths.max()), *seqs[0].shape[1:]), dtype=np.float32)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = s
    return x, lengths


def chunks_by_length(seqs: list[np.ndarray], size: int
                     ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(indices, x, lengths)`` for chunks of ``size`` sequences of similar lengths, so that
    inference pads each chunk only to its own longest."""
    order = np.argsort([len(s) for s in seqs], kind="stable")
    for start in range(0, len(order), size):
        idx = order[start:start + size]
        x, lengths = padded([seqs[i] for i in idx])
        yield idx, x, lengths
