"""Bach chorales: the shipped JSB dataset, folders and CSV files in its layout, and the
arpeggio windows of next-note prediction.

A chorale is an integer array ``[steps, 4]``: one row per sixteenth note, the MIDI note of
soprano, alto, tenor and bass (0 = silence). In a CSV file it is a header
``note0,note1,note2,note3`` and one row per step::

    data = load_chorales()                      # the shipped 229 / 76 / 77 chorales
    data.test[2][:8]                            # the first 8 chords of test chorale 2
    mine = load_chorales("my_chorales/")        # train/, valid/, test/ (or CSVs directly)
    x, y = arpeggio_windows(data.train)         # [N, 131] note classes, targets shifted by 1

MIDI files: :mod:`seqnets.data.chorale_midi`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..checks import positive_int
from ..errors import ConfigError, DataError
from .files import atomic_write

__all__ = ["COLUMNS", "HIGHEST", "LOWEST", "N_CLASSES", "SPLITS", "VOICES", "Chorales",
           "arpeggio_windows", "check_chorale", "from_classes", "load_chorales",
           "read_chorale", "read_chorale_folder", "to_classes", "write_chorale"]

VOICES = ("soprano", "alto", "tenor", "bass")
COLUMNS = ("note0", "note1", "note2", "note3")
SPLITS = ("train", "valid", "test")
LOWEST, HIGHEST = 36, 81  # the dataset's note range (MIDI C2..A5)
N_CLASSES = HIGHEST - LOWEST + 2  # 47: silence, then one class per note
SHIPPED = "jsb_chorales"


@dataclass(frozen=True)
class Chorales:
    """Chorales by split: ``train``, ``valid``, ``test`` (lists of ``[steps, 4]`` int64
    arrays) and the file name of each (``names["test"][2]``)."""

    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]
    names: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""

    def split(self, name: str) -> list[np.ndarray]:
        if name not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def voice_ranges(self, split: str = "train") -> np.ndarray:
        """``[4, 2]``: the lowest and highest note each voice sounds in ``split``."""
        notes = np.concatenate(self.split(split))
        out = np.zeros((4, 2), dtype=np.int64)
        for v in range(4):
            sounding = notes[:, v][notes[:, v] > 0]
            out[v] = (sounding.min(), sounding.max()) if len(sounding) else (0, 0)
        return out


def check_chorale(chorale: object, where: str = "chorale",
                  note_range: tuple[int, int] = (LOWEST, HIGHEST)) -> np.ndarray:
    """``chorale`` as an int64 ``[steps, 4]`` array, if it is one: four voices, whole
    numbers, each 0 (silence) or inside ``note_range``. Errors name the step and voice."""
    try:
        arr = np.asarray(chorale)
    except Exception as err:  # noqa: BLE001 - say what was passed
        raise DataError(f"{where}: cannot be read as an array ({err})") from None
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise DataError(f"{where}: a chorale is [steps, 4] (soprano, alto, tenor, bass), "
                        f"got shape {arr.shape}")
    if len(arr) == 0:
        raise DataError(f"{where}: no steps")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataError(f"{where}: notes must be numbers, got dtype {arr.dtype}")
    bad = ~np.isfinite(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, bool)
    if arr.dtype.kind == "f":
        bad |= np.where(np.isfinite(arr), arr != np.round(arr), True)
    if bad.any():
        step, v = np.argwhere(bad)[0]
        raise DataError(f"{where}: step {step}, voice {VOICES[v]}: {arr[step, v]!r} is not a "
                        "whole MIDI note number")
    arr = arr.astype(np.int64)
    lo, hi = note_range
    outside = (arr != 0) & ((arr < lo) | (arr > hi))
    if outside.any():
        step, v = np.argwhere(outside)[0]
        raise DataError(f"{where}: step {step}, voice {VOICES[v]}: note {arr[step, v]} is "
                        f"outside {lo}..{hi} (0 = silence); transpose it, or pass "
                        "note_range=(low, high)")
    return arr


def _parse_csv(text: str, name: str, note_range: tuple[int, int]) -> np.ndarray:
    lines = text.splitlines()
    if not lines or [c.strip() for c in lines[0].split(",")] != list(COLUMNS):
        got = lines[0] if lines else "an empty file"
        raise DataError(f"{name}, line 1: the header must be {','.join(COLUMNS)}, got {got!r}")
    rows = []
    lo, hi = note_range
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != 4:
            raise DataError(f"{name}, line {number}: 4 notes (soprano, alto, tenor, bass) "
                            f"per row, got {len(cells)}: {line!r}")
        row = []
        for v, cell in enumerate(cells):
            try:
                note = float(cell)
            except ValueError:
                note = None
            if note is None or not np.isfinite(note) or note != int(note):
                raise DataError(f"{name}, line {number}, voice {VOICES[v]} ({COLUMNS[v]}): "
                                f"{cell.strip()!r} is not a whole MIDI note number")
            note = int(note)
            if note != 0 and not lo <= note <= hi:
                raise DataError(f"{name}, line {number}, voice {VOICES[v]} ({COLUMNS[v]}): "
                                f"note {note} is outside {lo}..{hi} (0 = silence); transpose "
                                "it, or pass note_range=(low, high)")
            row.append(note)
        rows.append(row)
    if not rows:
        raise DataError(f"{name}: no steps after the header")
    return np.asarray(rows, dtype=np.int64)


def read_chorale(path: str | os.PathLike,
                 note_range: tuple[int, int] = (LOWEST, HIGHEST)) -> np.ndarray:
    """One chorale CSV as ``[steps, 4]`` int64 (header ``note0,note1,note2,note3``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text (CSV) file") from None
    return _parse_csv(text, str(path), note_range)


def write_chorale(path: str | os.PathLike, chorale: object) -> Path:
    """Write a chorale as CSV in the dataset's layout, atomically; returns the path."""
    arr = check_chorale(chorale, str(path), note_range=(1, 127))
    buf = io.StringIO()
    buf.write(",".join(COLUMNS) + "\n")
    for row in arr:
        buf.write(",".join(str(int(n)) for n in row) + "\n")
    return atomic_write(path, buf.getvalue().encode("utf-8"))


def read_chorale_folder(folder: str | os.PathLike,
                        note_range: tuple[int, int] = (LOWEST, HIGHEST),
                        ) -> tuple[list[np.ndarray], list[str]]:
    """Every ``*.csv`` in ``folder`` (sorted by name): the chorales and their file names."""
    folder = Path(folder)
    files = sorted(folder.glob("*.csv"))
    return [read_chorale(f, note_range) for f in files], [f.name for f in files]


def load_chorales(folder: str | os.PathLike | None = None,
                  note_range: tuple[int, int] = (LOWEST, HIGHEST)) -> Chorales:
    """The chorales of ``folder`` by split; the shipped JSB dataset when ``folder`` is None.

    A folder holds ``train/``, ``valid/`` and ``test/`` folders of CSV files (missing splits
    are empty), or CSV files directly (then all of them are ``test``, for evaluation and
    seeding generation)."""
    if folder is None:
        with resources.as_file(resources.files("seqnets.data.datasets") / SHIPPED) as root:
            return _load(Path(root), note_range, "the shipped JSB chorales")
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder of chorale CSV files")
    return _load(root, note_range, str(root))


def _load(root: Path, note_range: tuple[int, int], source: str) -> Chorales:
    found = {s: read_chorale_folder(root / s, note_range) for s in SPLITS if (root / s).is_dir()}
    if not found:
        loose = read_chorale_folder(root, note_range)
        if not loose[0]:
            raise DataError(f"{root}: no chorale CSV files (expected train/, valid/, test/ "
                            "folders or *.csv files)")
        found = {"test": loose}
    if not any(found.get(s, ([], []))[0] for s in SPLITS):
        raise DataError(f"{root}: its train/, valid/ and test/ folders hold no CSV files")
    parts = {s: found.get(s, ([], [])) for s in SPLITS}
    return Chorales(*(parts[s][0] for s in SPLITS), names={s: parts[s][1] for s in SPLITS},
                    source=source)


def to_classes(chorale: np.ndarray, lowest: int = LOWEST) -> np.ndarray:
    """Notes as classes: 0 stays 0 (silence), note ``n`` becomes ``n - lowest + 1``."""
    arr = np.asarray(chorale, dtype=np.int64)
    return np.where(arr == 0, 0, arr - lowest + 1)


def from_classes(classes: np.ndarray, lowest: int = LOWEST) -> np.ndarray:
    """The inverse of :func:`to_classes`."""
    arr = np.asarray(classes, dtype=np.int64)
    return np.where(arr == 0, 0, arr + lowest - 1)


def arpeggio_windows(chorales: list[np.ndarray], window: int = 32, shift: int = 16,
                     lowest: int = LOWEST) -> tuple[np.ndarray, np.ndarray]:
    """The textbook's training pairs: windows of ``window + 1`` chords every ``shift``
    chords (a chorale's incomplete last window dropped), notes as classes, each window
    flattened into an arpeggio (soprano, alto, tenor, bass, next chord, ...).

    Returns ``(X, Y)``, int64 ``[N, 4*(window+1) - 1]``: ``Y`` is ``X`` shifted by one note,
    so ``Y[:, j]`` is the note after ``X[:, j]``; it belongs to voice ``(j + 1) % 4``.
    """
    positive_int(window, "window")
    positive_int(shift, "shift")
    rows = []
    for chorale in chorales:
        classes = to_classes(chorale, lowest)
        for start in range(0, len(classes) - window, shift):
            rows.append(classes[start:start + window + 1].reshape(-1))
    if not rows:
        raise DataError(f"no chorale has the {window + 1} chords one window needs")
    arr = np.stack(rows)
    return arr[:, :-1].copy(), arr[:, 1:].copy()
