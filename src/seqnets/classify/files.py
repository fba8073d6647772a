"""Labelled sequences from files, for training, evaluating and predicting from the shell.

``read_labelled(path)`` takes:

- a sketch-rnn ``.npz`` file (every sketch labelled by the file's name, ``cat.npz`` → ``cat``)
  or a folder of them (one class a file), reading the ``split`` asked for (``train``,
  ``valid``, ``test``);
- a QuickDraw ``.ndjson`` file (each drawing labelled by its ``word``) or a folder of them;
- a UEA/UCR ``.ts`` file (its class labels; none for ``@classLabel false``).

Sketches come as stroke-3 ``(dx, dy, pen_lifted)`` float32 arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.quickdraw import read_quickdraw
from ..data.sketch_npz import read_sketch_npz
from ..data.ts_files import read_ts
from ..errors import DataError

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Labelled:
    """Sequences, their labels (``None`` when the file has none) and where they came from:
    per sequence, ``file`` or ``file:split:index``."""

    sequences: list
    labels: list | None
    sources: list
    description: str


def read_labelled(path: str | os.PathLike, split: str = "train") -> Labelled:
    """The sequences of ``path`` (see the module's help) with their labels."""
    if split not in SPLITS:
        raise DataError(f"split must be one of {SPLITS}, got {split!r}")
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p} does not exist; give a .npz, .ndjson or .ts file, or a folder "
                        "of .npz or .ndjson files")
    if p.is_dir():
        kinds = {f.suffix for f in p.iterdir() if f.suffix in (".npz", ".ndjson")}
        if len(kinds) != 1:
            found = "both .npz and .ndjson files" if kinds else "no .npz or .ndjson file"
            raise DataError(f"{p} holds {found}; a data folder holds one class a file, all "
                            "of one format (cat.npz, dog.npz, ...)")
        kind = kinds.pop()
    else:
        kind = p.suffix
    if kind == ".npz":
        return _npz(sorted(p.glob("*.npz")) if p.is_dir() else [p], split)
    if kind == ".ndjson":
        drawings = read_quickdraw(p)
        seqs = [s.astype(np.float32) for s in drawings.stroke3()]
        return Labelled(seqs, list(drawings.labels), list(drawings.sources),
                        f"{len(seqs)} QuickDraw drawings, {len(drawings.classes)} classes "
                        f"({p})")
    if kind == ".ts":
        data = read_ts(p)
        labels = None if data.labels is None else list(data.labels)
        return Labelled(list(data.series), labels, [f"{p}:{i}" for i in range(len(data))],
                        f"{len(data)} series of {data.problem or p.stem} ({p})")
    raise DataError(f"{p}: unknown format {kind!r}; give a .npz, .ndjson or .ts file, or a "
                    "folder of .npz or .ndjson files")


def _npz(files: list[Path], split: str) -> Labelled:
    seqs, labels, sources = [], [], []
    for f in files:
        for i, s in enumerate(read_sketch_npz(f, splits=(split,))[split]):
            seqs.append(np.asarray(s, dtype=np.float32))
            labels.append(f.stem)
            sources.append(f"{f}:{split}:{i}")
    if not seqs:
        raise DataError(f"the {split!r} split of {', '.join(map(str, files))} holds no sketch")
    return Labelled(seqs, labels, sources, f"{len(seqs)} sketches ({split} split), "
                    f"{len(files)} classes ({files[0].parent if len(files) > 1 else files[0]})")
