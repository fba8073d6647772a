"""Pen sketches in their three encodings, with exact conversions between them.

- **stroke-3** (sketch-rnn's files): ``[n, 3]`` rows ``(dx, dy, pen_lifted)``; the first row
  is the first point's offset from the origin, ``pen_lifted = 1`` ends a stroke (the pen
  leaves the paper after that point), and a sketch ends with the pen lifted.
- **absolute strokes** (QuickDraw's): a list of ``[n_i, 2]`` point arrays, one per stroke.
- **stroke-5** (sketch-rnn's model input): ``[max_len, 5]`` rows ``(dx, dy, p1, p2, p3)``,
  ``p1`` pen down, ``p2`` pen up (the stroke ends), ``p3`` end of sketch; padded after the
  sketch with ``(0, 0, 0, 0, 1)``.

Integer coordinates convert exactly. ``stroke_scale``
and ``normalize_strokes`` are sketch-rnn's normalisation (one factor for ``dx`` and ``dy``: the
standard deviation of the offsets over a dataset); ``crop_strokes`` cuts a sketch to a length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..checks import positive_int, positive_number
from ..errors import DataError, ShapeError

__all__ = ["crop_strokes", "normalize_strokes", "stroke3_to_stroke5", "stroke3_to_strokes",
           "stroke5_to_stroke3", "stroke_scale", "strokes_to_stroke3"]


def _stroke3(sketch, what: str = "a stroke-3 sketch") -> np.ndarray:
    a = np.asarray(sketch)
    if a.ndim != 2 or a.shape[1] != 3 or len(a) == 0:
        raise ShapeError(f"{what} must be [n, 3] rows (dx, dy, pen_lifted) with n > 0, got "
                         f"shape {a.shape}. Fix: pass one sketch's rows")
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise DataError(f"{what} must hold real numbers, got dtype {a.dtype}")
    if not np.isin(a[:, 2], (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(a[:, 2], (0, 1)))[0])
        raise DataError(f"{what}: pen_lifted must be 0 or 1, row {bad} has {a[bad, 2].item()!r}")
    return a


def stroke3_to_strokes(sketch) -> list[np.ndarray]:
    """Stroke-3 ``[n, 3]`` -> absolute strokes: a list of ``[n_i, 2]`` point arrays (the
    running sums of the offsets, split after each lifted pen; a last stroke whose pen was
    never lifted still ends the sketch). Integer offsets give int64 points (sums cannot
    overflow), float ones keep their dtype."""
    a = _stroke3(sketch)
    wide = np.int64 if np.issubdtype(a.dtype, np.integer) else a.dtype
    points = np.cumsum(a[:, :2], axis=0, dtype=wide)
    ends = np.flatnonzero(a[:, 2] == 1) + 1
    return [p for p in np.split(points, ends) if len(p)]


def strokes_to_stroke3(strokes: Sequence) -> np.ndarray:
    """Absolute strokes (``[n_i, 2]`` point arrays) -> stroke-3 ``[n, 3]``: offsets from the
    previous point (the first from the origin), the pen lifted at each stroke's last point.
    The dtype is the points'."""
    arrays = [np.asarray(s) for s in strokes]
    if not arrays:
        raise DataError("a sketch needs at least one stroke, got none")
    for i, s in enumerate(arrays):
        if s.ndim != 2 or s.shape[1] != 2 or len(s) == 0:
            raise ShapeError(f"stroke {i} must be [n, 2] points with n > 0, got shape "
                             f"{s.shape}. Fix: pass each stroke as rows (x, y)")
    points = np.concatenate(arrays)
    out = np.zeros((len(points), 3), dtype=points.dtype)
    out[:, :2] = np.diff(points, axis=0, prepend=np.zeros((1, 2), points.dtype))
    out[np.cumsum([len(s) for s in arrays]) - 1, 2] = 1
    return out


def stroke3_to_stroke5(sketch, max_len: int | None = None) -> np.ndarray:
    """Stroke-3 ``[n, 3]`` -> stroke-5 ``[max_len, 5]`` (default ``max_len = n + 1``, so that
    one end-of-sketch row follows the sketch). Rows past the sketch are ``(0, 0, 0, 0, 1)``.

    Raises:
        DataError: the sketch is longer than ``max_len`` (crop it first: ``crop_strokes``).
    """
    a = _stroke3(sketch)
    n = len(a)
    max_len = n + 1 if max_len is None else positive_int(max_len, "max_len")
    if n > max_len:
        raise DataError(f"the sketch has {n} points, more than max_len={max_len}. Fix: "
                        f"crop_strokes(sketch, {max_len}) first, or raise max_len")
    out = np.zeros((max_len, 5), dtype=a.dtype)
    out[:n, :2] = a[:, :2]
    out[:n, 3] = a[:, 2]
    out[:n, 2] = 1 - a[:, 2]
    out[n:, 4] = 1
    return out


def stroke5_to_stroke3(sketch) -> np.ndarray:
    """Stroke-5 ``[L, 5]`` -> stroke-3: the rows before the first end-of-sketch row
    (``p3 = 1``), with ``pen_lifted = p2``. The dtype is the input's."""
    a = np.asarray(sketch)
    if a.ndim != 2 or a.shape[1] != 5:
        raise ShapeError(f"a stroke-5 sketch must be [L, 5] rows (dx, dy, p1, p2, p3), got "
                         f"shape {a.shape}")
    pens = a[:, 2:]
    if not (np.isin(pens, (0, 1)).all() and (pens.sum(axis=1) == 1).all()):
        bad = int(np.flatnonzero(~(np.isin(pens, (0, 1)).all(axis=1)
                                   & (pens.sum(axis=1) == 1)))[0])
        raise DataError(f"stroke-5 row {bad}: (p1, p2, p3) must be one-hot, got "
                        f"{tuple(pens[bad].tolist())}")
    end = np.flatnonzero(a[:, 4] == 1)
    n = int(end[0]) if len(end) else len(a)
    if n == 0:
        raise DataError("the stroke-5 sketch ends before its first point (row 0 has p3 = 1)")
    return np.column_stack([a[:n, :2], a[:n, 3]]).astype(a.dtype, copy=False)


def crop_strokes(sketch, max_len: int) -> np.ndarray:
    """The first ``max_len`` rows of a stroke-3 sketch, its last kept point lifting the pen
    (so the cropped sketch still ends its stroke). A shorter sketch comes back unchanged."""
    a = _stroke3(sketch)
    max_len = positive_int(max_len, "max_len")
    if len(a) <= max_len:
        return a.copy()
    out = a[:max_len].copy()
    out[-1, 2] = 1
    return out


def stroke_scale(sketches: Sequence) -> float:
    """sketch-rnn's normalising factor: the standard deviation of every ``dx`` and ``dy``
    offset of a dataset's stroke-3 sketches together (compute it on the training split)."""
    arrays = [_stroke3(s, f"sketch {i}") for i, s in enumerate(sketches)]
    if not arrays:
        raise DataError("stroke_scale needs at least one sketch, got none")
    scale = float(np.std(np.concatenate([a[:, :2] for a in arrays]).astype(np.float64)))
    if not np.isfinite(scale) or scale == 0:
        raise DataError(f"the offsets' standard deviation is {scale}: every sketch is a single "
                        "repeated point. Fix: give sketches that move")
    return scale


def normalize_strokes(sketches: Sequence, scale: float | None = None) -> list[np.ndarray]:
    """Stroke-3 sketches as float32 with ``dx, dy`` divided by ``scale`` (default: the
    sketches' own :func:`stroke_scale`; pass the training split's for the others)."""
    arrays = [_stroke3(s, f"sketch {i}") for i, s in enumerate(sketches)]
    scale = stroke_scale(arrays) if scale is None else positive_number(scale, "scale")
    out = []
    for a in arrays:
        b = a.astype(np.float32)
        b[:, :2] /= np.float32(scale)
        out.append(b)
    return out
