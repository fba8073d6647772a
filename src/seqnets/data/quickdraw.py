"""QuickDraw's ``.ndjson`` files: one drawing a line, as Google publishes them.

    drawings = read_quickdraw("sketches/")   # a file, or a folder of them (one class a file)
    drawings.labels[0], drawings.classes     # 'cat', ('cat', 'dog')
    drawings.stroke3()                       # [int16 [n, 3], ...] for the models

A line is a JSON object: ``word`` (the class), ``countrycode``, ``timestamp``, ``recognized``,
``key_id`` and ``drawing``, a list of strokes ``[[x0, x1, ...], [y0, y1, ...]]`` (the raw
files add a third list, ``t``, the milliseconds since the first point; it is kept). Fields
other than ``word`` and ``drawing`` are kept as each drawing's metadata.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import flag, positive_int
from ..errors import DataError
from .files import atomic_write
from .strokes import strokes_to_stroke3

__all__ = ["Drawings", "read_quickdraw", "write_quickdraw"]

_META_TYPES = {"countrycode": str, "timestamp": str, "recognized": bool, "key_id": (str, int)}
_INT16 = np.iinfo(np.int16)


@dataclass(frozen=True)
class Drawings:
    """Drawings read from QuickDraw files.

    Attributes:
        drawings: per drawing, its strokes as float64 ``[n_i, 2]`` (x, y) arrays, or
            ``[n_i, 3]`` (x, y, t) for the raw files.
        labels: per drawing, its ``word``.
        meta: per drawing, its other fields (``countrycode``, ``timestamp``, ...) as read.
        sources: per drawing, ``"file:line"``.
    """

    drawings: tuple
    labels: tuple
    meta: tuple
    sources: tuple

    @property
    def classes(self) -> tuple:
        """The distinct labels, sorted."""
        return tuple(sorted(set(self.labels)))

    def __len__(self) -> int:
        return len(self.labels)

    def stroke3(self) -> list[np.ndarray]:
        """Each drawing as an ``int16 [n, 3]`` stroke-3 sketch (x, y rounded to integers,
        which the simplified files already are; ``t`` dropped)."""
        out = []
        for strokes, src in zip(self.drawings, self.sources, strict=True):
            s3 = strokes_to_stroke3([np.rint(s[:, :2]) for s in strokes])
            if s3.min() < _INT16.min or s3.max() > _INT16.max:
                raise DataError(f"{src}: offsets outside int16 [{_INT16.min}, {_INT16.max}]. "
                                "Fix: scale the drawing down")
            out.append(s3.astype(np.int16))
        return out


def _files(path: str | os.PathLike) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix == ".ndjson" and f.is_file())
        if not files:
            raise DataError(f"no .ndjson files in the folder '{p}'. Fix: put one QuickDraw "
                            "file per class there (e.g. cat.ndjson)")
        return files
    if not p.is_file():
        raise DataError(f"file not found: '{p}'. Fix: check the path")
    return [p]


def _number(v) -> bool:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float (10**400)
        return False


def _stroke(stroke, where: str) -> np.ndarray:
    if not isinstance(stroke, list) or len(stroke) not in (2, 3) \
            or not all(isinstance(c, list) for c in stroke):
        raise DataError(f"{where} is not [[x...], [y...]] (or [[x...], [y...], [t...]]). Fix: "
                        "write each stroke as two (or three) lists of numbers")
    names = "xyt"
    if len({len(c) for c in stroke}) != 1:
        sizes = ", ".join(f"{names[i]} has {len(c)}" for i, c in enumerate(stroke))
        raise DataError(f"{where}: the coordinate lists differ in length ({sizes}). Fix: give "
                        "every point its x and y (and t)")
    if not stroke[0]:
        raise DataError(f"{where} has no points. Fix: drop empty strokes")
    for i, c in enumerate(stroke):
        bad = next((k for k, v in enumerate(c) if not _number(v)), None)
        if bad is not None:
            raise DataError(f"{where}: {names[i]}[{bad}] is {c[bad]!r}, not a finite number. "
                            "Fix: coordinates must be numbers")
    return np.array(stroke, dtype=np.float64).T


def _record(line: str, where: str) -> tuple:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}). Fix: "
                        "each line must be one complete JSON object") from None
    except ValueError as exc:  # e.g. a number past int()'s digit limit
        raise DataError(f"{where}: unreadable JSON ({str(exc)[:120]}). Fix: each line must be "
                        "one QuickDraw drawing of plain numbers") from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply to be a drawing. Fix: each line "
                        "must be one object with 'word' and 'drawing'") from None
    if not isinstance(obj, dict):
        raise DataError(f"{where}: a {type(obj).__name__}, not a JSON object. Fix: each line "
                        "must be one object with 'word' and 'drawing'")
    for field in ("word", "drawing"):
        if field not in obj:
            raise DataError(f"{where}: no '{field}' field (fields: {sorted(obj)}). Fix: every "
                            "drawing needs 'word' (its class) and 'drawing' (its strokes)")
    word, drawing = obj["word"], obj["drawing"]
    if not isinstance(word, str) or not word.strip():
        raise DataError(f"{where}: 'word' is {word!r}, not a class name. Fix: give a "
                        "non-empty string")
    if not isinstance(drawing, list) or not drawing:
        raise DataError(f"{where}: 'drawing' is {drawing!r:.60}, not a non-empty list of "
                        "strokes. Fix: write the strokes as [[[x...], [y...]], ...]")
    strokes = tuple(_stroke(s, f"{where}: 'drawing' stroke {i}") for i, s in enumerate(drawing))
    if len({s.shape[1] for s in strokes}) != 1:
        raise DataError(f"{where}: some strokes have t and some do not. Fix: give every "
                        "stroke the same lists")
    meta = {k: v for k, v in obj.items() if k not in ("word", "drawing")}
    for k, v in meta.items():
        want = _META_TYPES.get(k)
        if want is not None and (not isinstance(v, want) or (want is not bool
                                                             and isinstance(v, bool))):
            raise DataError(f"{where}: '{k}' is {v!r}, a {type(v).__name__}. Fix: QuickDraw's "
                            f"'{k}' is a {getattr(want, '__name__', 'string')}")
    return strokes, word, meta


def read_quickdraw(path: str | os.PathLike, limit: int | None = None,
                   recognized_only: bool = False) -> Drawings:
    """Read a QuickDraw ``.ndjson`` file, or every ``.ndjson`` file of a folder (sorted by
    name), simplified or raw.

    Args:
        path: a file, or a folder of them (QuickDraw ships one file per class).
        limit: read at most this many drawings per file (the first ones).
        recognized_only: keep only drawings whose ``recognized`` is true.

    Raises:
        DataError: a missing file, an empty file, and any line that is not a JSON object
            with a ``word`` and a ``drawing`` of strokes of equally long lists of finite
            numbers; the message names the file and the line.
    """
    if limit is not None:
        positive_int(limit, "limit")
    flag(recognized_only, "recognized_only")
    drawings, labels, metas, sources = [], [], [], []
    for file in _files(path):
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"'{file}' is not UTF-8 text ({exc.reason} at byte {exc.start}). "
                            "Fix: give an .ndjson file (gunzip a downloaded .ndjson.gz "
                            "first)") from None
        kept = 0
        for number, line in enumerate(text.splitlines(), start=1):
            if limit is not None and kept >= limit:
                break
            if not line.strip():
                continue
            where = f"{file}:{number}"
            strokes, word, meta = _record(line, where)
            kept += 1
            if recognized_only and not meta.get("recognized", True):
                continue
            drawings.append(strokes)
            labels.append(word)
            metas.append(meta)
            sources.append(where)
        if kept == 0:
            raise DataError(f"'{file}' holds no drawings. Fix: give a file with one JSON "
                            "drawing a line")
    return Drawings(tuple(drawings), tuple(labels), tuple(metas), tuple(sources))


def _plain(values: np.ndarray) -> list:
    """Numbers for JSON: integral values as ints, as QuickDraw writes them."""
    return [int(v) if float(v).is_integer() else float(v) for v in values.tolist()]


def write_quickdraw(path: str | os.PathLike, drawings: Sequence, labels: Sequence[str],
                    meta: Sequence[Mapping] | None = None) -> Path:
    """Write drawings (each a list of ``[n_i, 2]`` or ``[n_i, 3]`` point arrays) with their
    labels (and metadata, e.g. ``countrycode``) as one ``.ndjson`` file, atomically."""
    if len(drawings) != len(labels) or (meta is not None and len(meta) != len(drawings)):
        raise DataError(f"{len(drawings)} drawings but {len(labels)} labels"
                        + ("" if meta is None else f" and {len(meta)} metadata records")
                        + ". Fix: give one label (and metadata record) per drawing")
    lines = []
    for i, (strokes, word) in enumerate(zip(drawings, labels, strict=True)):
        record = {"word": word, **(dict(meta[i]) if meta is not None else {})}
        cols = []
        for j, s in enumerate(strokes):
            a = np.asarray(s, dtype=np.float64)
            if a.ndim != 2 or a.shape[1] not in (2, 3) or len(a) == 0 \
                    or not np.isfinite(a).all():
                raise DataError(f"drawing {i}, stroke {j}: shape {a.shape}; a stroke must be "
                                "finite [n, 2] (x, y) or [n, 3] (x, y, t) points, n > 0")
            cols.append([_plain(c) for c in a.T])
        record["drawing"] = cols
        line = json.dumps(record, separators=(",", ":"))
        _record(line, f"drawing {i}")  # what is written must read back
        lines.append(line)
    return atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
