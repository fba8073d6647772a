"""sketch-rnn's ``.npz`` files: splits (``train``, ``valid``, ``test``) of stroke-3 sketches.

    splits = read_sketch_npz("cat.npz")        # {"train": [int16 [n, 3], ...], "valid": ..., ...}
    write_sketch_npz("cat.npz", splits)

Real files store each split as a pickled NumPy object array of ``int16 [n, 3]`` arrays. Loading
a pickle can run any code the file names, so ``np.load(allow_pickle=True)`` is never used: the
pickled members are read by an unpickler that can build only NumPy arrays of numbers (its
allow-list holds the few NumPy functions that rebuild an array and nothing else) and refuses
any other name with a :class:`~seqnets.errors.DataError`, before anything from it runs. Members
that are plain arrays (an ``int [N, n, 3]`` block of equal-length sketches) are read with
``allow_pickle=False``.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from .files import atomic_write

__all__ = ["SPLITS", "read_sketch_npz", "write_sketch_npz"]

SPLITS = ("train", "valid", "test")
_INT16 = np.iinfo(np.int16)

# what pickles of int arrays and object arrays of them name (NumPy 1 and 2, protocols 2-5)
_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]
_FROMBUFFER = np.ndarray.__reduce_ex__(np.zeros(1), 5)[0]


class _NdarrayName:
    """What the name ``numpy.ndarray`` unpickles to: a token :func:`_reconstruct` accepts, so
    that the class itself is never callable from a file."""


_NDARRAY = _NdarrayName()


def _reconstruct(cls, shape, typecode):
    """``ndarray.__reduce__``'s constructor, for exactly the empty array it always asks for."""
    if cls is not _NDARRAY or tuple(shape) != (0,) or typecode not in (b"b", "b"):
        raise pickle.UnpicklingError(f"unexpected array constructor arguments "
                                     f"({getattr(cls, '__name__', cls)!r}, {shape!r}, "
                                     f"{typecode!r})")
    return _RECONSTRUCT(np.ndarray, (0,), b"b")


def _frombuffer(buffer, dtype, shape, order):
    """Protocol 5's constructor of a numeric array, numbers only."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError(f"a buffer array must hold numbers, got dtype {dtype!r}")
    return _FROMBUFFER(buffer, dtype, shape, order)


def _latin1(text, encoding):
    """Python 3's protocol-2 spelling of bytes, ``_codecs.encode(text, 'latin1')``, only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected encode({type(text).__name__}, {encoding!r})")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _latin1,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
}


class _Refused(Exception):
    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")


class _ArraysOnly(pickle.Unpickler):
    """An unpickler whose only globals are the NumPy array constructors in ``_ALLOWED``."""

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Refused(module, name)
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed")


def _member(archive: zipfile.ZipFile, where: str, key: str) -> np.ndarray:
    """One ``.npy`` member as an array, pickles through :class:`_ArraysOnly` only."""
    raw = archive.read(f"{key}.npy")
    fp = io.BytesIO(raw)
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        _, _, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if not dtype.hasobject:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    try:
        value = _ArraysOnly(fp, encoding="latin1").load()  # latin1: Python 2 era files
    except _Refused as exc:
        raise DataError(f"{where}: key '{key}' holds a pickle that asks for {exc}, which is not "
                        "a NumPy array constructor; seqnets refused it and ran nothing from it. "
                        "Fix: use files from a source you trust, or rewrite the sketches with "
                        "write_sketch_npz") from None
    if not isinstance(value, np.ndarray):
        raise DataError(f"{where}: key '{key}' holds a pickled {type(value).__name__}, not an "
                        "array of sketches. Fix: store each split as an array of stroke-3 "
                        "arrays (write_sketch_npz)")
    return value


def _sketches(value: np.ndarray, where: str, key: str) -> list[np.ndarray]:
    """A split's array as a list of checked ``int16 [n, 3]`` sketches."""
    if value.dtype == object and value.ndim == 1:
        items = list(value)
    elif np.issubdtype(value.dtype, np.integer) and value.ndim == 3:
        items = list(value)  # equal lengths: NumPy stored one block
    else:
        raise DataError(f"{where}: key '{key}' is a {value.dtype} array of shape {value.shape}, "
                        "not sketches (an object array of [n, 3] arrays, or an integer "
                        "[N, n, 3] block). Fix: write the splits with write_sketch_npz")
    return [_sketch(s, f"{where}: key '{key}', sketch {i}") for i, s in enumerate(items)]


def _sketch(s, where: str) -> np.ndarray:
    if not isinstance(s, np.ndarray) or not np.issubdtype(s.dtype, np.integer):
        what = s.dtype if isinstance(s, np.ndarray) else type(s).__name__
        raise DataError(f"{where} is {what}, not integer stroke-3 rows. Fix: store each sketch "
                        "as an int16 [n, 3] array (dx, dy, pen_lifted)")
    if s.ndim != 2 or s.shape[1] != 3 or len(s) == 0:
        raise DataError(f"{where} has shape {s.shape}, not [n, 3] with n > 0 (dx, dy, "
                        "pen_lifted). Fix: store each sketch as its rows of offsets")
    if s.size and (s.min() < _INT16.min or s.max() > _INT16.max):
        raise DataError(f"{where} has offsets outside int16 [{_INT16.min}, {_INT16.max}]. Fix: "
                        "scale the sketch down before saving")
    bad = np.flatnonzero((s[:, 2] != 0) & (s[:, 2] != 1))
    if len(bad):
        raise DataError(f"{where}, row {int(bad[0])}: pen_lifted is {int(s[bad[0], 2])}, not 0 "
                        "or 1. Fix: the third column must be 1 where a stroke ends, else 0")
    return s.astype(np.int16)


def read_sketch_npz(path: str | os.PathLike,
                    splits: Sequence[str] = SPLITS) -> dict[str, list[np.ndarray]]:
    """The splits of a sketch-rnn ``.npz``: ``{split: [int16 [n, 3] stroke-3 sketch, ...]}``.

    Raises:
        DataError: a missing file or split, a file that is not a complete ``.npz``, a pickle
            naming anything but NumPy's array constructors (refused before it runs), and
            sketches that are not integer ``[n, 3]`` rows with pens 0 or 1.
    """
    where = os.fspath(path)
    if not Path(where).is_file():
        raise DataError(f"file not found: '{where}'. Fix: check the path")
    try:
        with zipfile.ZipFile(where) as archive:
            keys = [n[:-4] for n in archive.namelist() if n.endswith(".npy")]
            missing = [s for s in splits if s not in keys]
            if missing:
                raise DataError(f"'{where}' has no split {', '.join(map(repr, missing))}; its "
                                f"keys are {keys}. Fix: save the splits under the names "
                                f"{list(splits)}")
            out = {}
            for key in splits:
                try:
                    out[key] = _sketches(_member(archive, where, key), where, key)
                except DataError:
                    raise
                except Exception as exc:  # any failure to parse a member names it
                    raise DataError(f"{where}: key '{key}' is not a readable array "
                                    f"({type(exc).__name__}: {exc}). Fix: the file is "
                                    "truncated or corrupt; download or write it again"
                                    ) from None
            return out
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DataError(f"'{where}' is not a complete .npz archive ({exc}). Fix: the file is "
                        "truncated or not an .npz; download or write it again") from None


def write_sketch_npz(path: str | os.PathLike, splits: Mapping[str, Sequence],
                     compress: bool = True) -> Path:
    """Write ``{split: [stroke-3 sketch, ...]}`` as sketch-rnn does (each split a pickled object
    array of ``int16 [n, 3]`` arrays), atomically. Returns the path."""
    arrays = {}
    for key, sketches in splits.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise DataError(f"split names must be identifiers such as 'train', got {key!r}")
        checked = [_sketch(np.asarray(s), f"split '{key}', sketch {i}")
                   for i, s in enumerate(sketches)]
        a = np.empty(len(checked), dtype=object)
        for i, s in enumerate(checked):  # item by item: equal shapes must not merge
            a[i] = s
        arrays[key] = a
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **arrays)
    return atomic_write(path, buffer.getvalue())
