"""Arrays in, batches out: the checks a training or inference input passes, and the batch
sources of the loop (shuffled rows gathered a chunk at a time)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError, ShapeError


def as_tensor(array: Any, name: str, integer_ok: bool = True) -> torch.Tensor:
    """A NumPy array or tensor as a tensor: floats as float32, integers kept (class labels)."""
    if isinstance(array, torch.Tensor):
        t = array
    else:
        try:
            arr = np.asarray(array)
        except Exception as err:  # noqa: BLE001 - report what the user passed
            raise DataError(f"{name} cannot be read as an array: {err}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                       or arr.dtype == bool):
            raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_floating_point() and t.dtype != torch.float32:
        t = t.float()
    elif not t.is_floating_point():
        if not integer_ok:
            t = t.float()
        elif t.dtype == torch.bool:
            t = t.float()
        else:
            t = t.long()
    if t.dim() == 0:
        raise ShapeError(f"{name} must have a batch axis, got a scalar")
    if t.is_floating_point():
        _check_finite(t, name)
    return t


def _check_finite(t: torch.Tensor, name: str, chunk: int = 4096) -> None:
    """Refuse NaN and infinities, in chunks of samples: a strided view of windows is
    checked without materialising it."""
    for start in range(0, len(t), chunk):
        part = t[start:start + chunk]
        bad = ~torch.isfinite(part)
        if bool(bad.any()):
            first = bad.nonzero()[0]
            first[0] += start
            count = int(bad.sum()) + sum(int((~torch.isfinite(t[s:s + chunk])).sum())
                                         for s in range(start + chunk, len(t), chunk))
            raise DataError(f"{name} holds {count} NaN or infinite value(s), the first at "
                            f"index {first.tolist()}; fill or drop them before training")


def as_pair(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``(X, Y)`` and return it as tensors."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError(f"{name} must be a pair (X, Y) of arrays, got {type(data).__name__}")
    x = as_tensor(data[0], f"{name} X", integer_ok=False)
    y = as_tensor(data[1], f"{name} Y")
    if len(x) != len(y):
        raise ShapeError(f"{name}: X has {len(x)} samples but Y has {len(y)}. Fix: give "
                         "one target per input sample")
    if len(x) == 0:
        raise DataError(f"{name} is empty (0 samples). Fix: give at least one (X, Y) sample")
    return x, y


def as_data(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Validate ``(X, Y)`` or ``(X, Y, lengths)`` and return ``(x, y, lengths or None)``.

    ``lengths`` (``[N]`` integers, each in ``[1, T]``) are the valid steps of each padded
    sequence of ``X`` ``[N, T, ...]`` (:func:`pad_sequences` builds both)."""
    if isinstance(data, (tuple, list)) and len(data) == 3:
        x, y = as_pair(tuple(data[:2]), name)
        if data[2] is None:  # no lengths: sequences of one length
            return x, y, None
        return x, y, as_lengths(data[2], x, name)
    if isinstance(data, (tuple, list)) and len(data) != 2:
        raise DataError(f"{name} must be (X, Y) or (X, Y, lengths), got {len(data)} items")
    return (*as_pair(data, name), None)


def as_lengths(lengths: Any, x: torch.Tensor, name: str) -> torch.Tensor:
    """``lengths`` as a long tensor ``[N]``, checked against the padded ``x`` ``[N, T, ...]``."""
    t = lengths if isinstance(lengths, torch.Tensor) else as_tensor(lengths, f"{name} lengths")
    if t.is_floating_point() or t.dtype == torch.bool:
        raise DataError(f"{name} lengths must be integers (valid steps per sequence), got "
                        f"dtype {t.dtype}")
    if x.dim() < 3:
        raise ShapeError(f"{name}: lengths need sequences [N, T, ...], X has shape "
                         f"{tuple(x.shape)}")
    if t.dim() != 1 or len(t) != len(x):
        raise ShapeError(f"{name}: lengths must have shape [{len(x)}] (one per sequence), got "
                         f"{tuple(t.shape)}")
    t = t.long()
    if len(t) and (int(t.min()) < 1 or int(t.max()) > x.shape[1]):
        bad = int(((t < 1) | (t > x.shape[1])).nonzero()[0])
        raise DataError(f"{name}: sequence {bad} has length {int(t[bad])}; every length must "
                        f"be in 1..{x.shape[1]} (the padded steps of X)")
    return t


def bucket_order(lengths: torch.Tensor, batch_size: int, generator: torch.Generator,
                 pool: int = 16) -> torch.Tensor:
    """A shuffled order whose consecutive batches hold sequences of similar lengths.

    The rows are shuffled, cut into pools of ``pool`` batches, each pool sorted by length and
    cut into batches, and the batches shuffled: every batch is then padded only to its own
    longest sequence (the loop cuts it there), which saves most of the padding's work while
    the batches still mix at random."""
    order = torch.randperm(len(lengths), generator=generator)
    span = batch_size * pool
    batches = []
    for start in range(0, len(order), span):
        chunk = order[start:start + span]
        chunk = chunk[torch.sort(lengths[chunk], stable=True).indices]
        batches += list(torch.split(chunk, batch_size))
    shuffled = torch.randperm(len(batches), generator=generator)
    return torch.cat([batches[int(i)] for i in shuffled]) if batches else order


def batch_slices(n: int, batch_size: int, order: torch.Tensor | None) -> Iterator[Any]:
    """Row selectors of the batches of ``n`` rows: slices, or index tensors from ``order``."""
    for start in range(0, n, batch_size):
        if order is None:
            yield slice(start, min(start + batch_size, n))
        else:
            yield order[start:start + batch_size]


GATHER_BYTES = 8 << 20  # shuffled rows gathered per indexing call, at most about this much


def batch_triples(x: torch.Tensor, y: torch.Tensor, lengths: torch.Tensor | None,
                  batch_size: int, order: torch.Tensor | None
                  ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """``(x, y, lengths)`` batches in ``order``; without lengths, :func:`batch_pairs`' batches
    with ``None``. With lengths each batch is cut to its longest sequence."""
    if lengths is None:
        for xb, yb in batch_pairs(x, y, batch_size, order):
            yield xb, yb, None
        return
    for rows in batch_slices(len(x), batch_size, order):
        lb = lengths[rows]
        yield x[rows, :int(lb.max())], y[rows], lb


def batch_pairs(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                order: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` batches in ``order`` (None: as stored).

    Shuffled rows are gathered a chunk of batches at a time: one indexing call per chunk
    instead of two per step (each costs as much as a small layer), the same batches in the
    same order, and memory bounded by the chunk (a dataset of window views is never copied
    whole)."""
    n = len(x)
    if order is None or n == 0:
        for rows in batch_slices(n, batch_size, None):
            yield x[rows], y[rows]
        return
    row_bytes = x[0].numel() * x.element_size() + y[0].numel() * y.element_size()
    per_chunk = max(1, GATHER_BYTES // max(1, row_bytes * batch_size)) * batch_size
    for begin in range(0, n, per_chunk):
        idx = order[begin:begin + per_chunk]
        xc, yc = x[idx], y[idx]
        for rows in batch_slices(len(idx), batch_size, None):
            yield xc[rows], yc[rows]


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def pad_sequences(sequences: Any, maxlen: int | None = None, dtype: torch.dtype = torch.float32,
                  padding: str = "post", truncating: str = "post",
                  value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A list of variable-length sequences as one padded batch and its lengths.

    ``sequences``: arrays or tensors ``[T_i, C]`` (or ``[T_i]``, read as one channel), the
    same ``C`` for all. Returns ``(x, lengths)``: ``x`` ``[B, T, C]`` of ``dtype`` with
    ``T = max T_i`` (or ``maxlen``), each sequence at the start of its row and ``value``
    after it, and ``lengths`` ``[B]`` (torch.long) its valid steps, the form every layer's
    ``lengths`` argument takes (``model(x, lengths=lengths)``; see
    :mod:`seqnets.layers.lengths`).

    Keras's ``pad_sequences``, with these differences: the result is ``[B, T, C]`` floats
    with the lengths beside it; padding is at the end (``padding="post"``, the only choice:
    the layers read lengths as "padding after"); ``truncating`` defaults to ``"post"`` (keep
    the first ``maxlen`` steps; ``"pre"`` keeps the last). Empty sequences are refused.
    """
    if padding != "post":
        raise DataError(f"padding must be 'post' (seqnets layers take lengths of sequences "
                        f"padded at the end), got {padding!r}")
    if truncating not in ("pre", "post"):
        raise DataError(f"truncating must be 'pre' or 'post', got {truncating!r}")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int)
                               or maxlen < 1):
        raise DataError(f"maxlen must be a positive integer or None, got {maxlen!r}")
    if isinstance(sequences, (np.ndarray, torch.Tensor)) and sequences.dtype != object:
        sequences = list(sequences)
    if not isinstance(sequences, (list, tuple)) or not sequences:
        raise DataError("pad_sequences needs a non-empty list of sequences [T_i, C], got "
                        f"{type(sequences).__name__}" + (" (empty)" if not sequences else ""))
    rows = []
    for i, seq in enumerate(sequences):
        t = _sequence(seq, i, dtype)
        if t.dim() == 1:
            t = t[:, None]
        if t.dim() != 2:
            raise ShapeError(f"sequence {i} must be [steps, channels] or [steps], got shape "
                             f"{tuple(t.shape)}")
        if len(t) == 0:
            raise DataError(f"sequence {i} is empty; every sequence needs at least one step")
        if rows and t.shape[1] != rows[0].shape[1]:
            raise ShapeError(f"sequence {i} has {t.shape[1]} channels, sequence 0 has "
                             f"{rows[0].shape[1]}; every sequence needs the same channels")
        if maxlen is not None and len(t) > maxlen:
            t = t[:maxlen] if truncating == "post" else t[-maxlen:]
        rows.append(t)
    lengths = torch.tensor([len(t) for t in rows], dtype=torch.long)
    steps = maxlen if maxlen is not None else int(lengths.max())
    x = torch.full((len(rows), steps, rows[0].shape[1]), float(value), dtype=dtype)
    for i, t in enumerate(rows):
        x[i, :len(t)] = t
    return x, lengths


def _sequence(seq: Any, i: int, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(seq, torch.Tensor):
        return seq.detach().to(dtype)
    try:
        arr = np.asarray(seq)
    except Exception as err:  # noqa: BLE001 - report what the user passed
        raise DataError(f"sequence {i} cannot be read as an array: {err}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(f"sequence {i} must be numeric, got dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
