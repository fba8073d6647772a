"""The UEA/UCR archive's ``.ts`` files: labelled recordings of any length and channel count.

    data = read_ts("JapaneseVowels_TRAIN.ts")
    data.series[0].shape, data.labels[0], data.classes   # (20, 12) float32 [T, C], '1', ('1', ...)

A file is comments (``#`` or ``%``), a header of ``@`` tags (``@problemName``, ``@timeStamps``,
``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``,
``@classLabel true <labels...>`` or ``false``; case does not matter), then ``@data`` and one
case a line: its channels separated by ``:``, each a comma-separated list of values, and the
class label last. ``?`` is a missing value (NaN). The header is checked against the data:
every claim it makes (dimensions, equal lengths, the length, no missing values, the labels)
must hold. Files with time stamps or regression targets (``@targetLabel true``) are refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .files import atomic_write

__all__ = ["TsData", "read_ts", "write_ts"]

_BOOLS = ("timestamps", "missing", "univariate", "equallength")


@dataclass(frozen=True)
class TsData:
    """A ``.ts`` file's cases.

    Attributes:
        series: per case, float32 ``[T_i, C]`` (NaN where the file has ``?``).
        labels: per case, its class label as written; ``None`` for ``@classLabel false``.
        classes: the labels ``@classLabel`` declares, in its order.
        problem: ``@problemName``.
        header: every header tag (lower case) and its text.
    """

    series: tuple
    labels: tuple | None
    classes: tuple
    problem: str
    header: dict

    def __len__(self) -> int:
        return len(self.series)


def _header(lines: list[str], where: str) -> tuple[dict, int]:
    """The tags (lower-cased name -> (text, line number)) and the index of ``@data``'s line."""
    tags: dict = {}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith(("#", "%")):
            continue
        if not line.startswith("@"):
            raise DataError(f"{where}:{i + 1}: data before the @data line. Fix: end the header "
                            "with a line '@data'")
        name, _, text = line[1:].partition(" ")
        name = name.lower()
        if name == "data":
            return tags, i
        tags[name] = (text.strip(), i + 1)
    raise DataError(f"{where}: no @data line. Fix: put '@data' between the header and the "
                    "cases")


def _flag(tags: dict, name: str, where: str) -> bool | None:
    if name not in tags:
        return None
    text, n = tags[name]
    word = text.split()[0].lower() if text.split() else ""
    if word not in ("true", "false"):
        raise DataError(f"{where}:{n}: @{name} is {text!r}, not true or false")
    return word == "true"


def _count(tags: dict, name: str, where: str) -> int | None:
    if name not in tags:
        return None
    text, n = tags[name]
    # isascii: str.isdigit() also holds for '²' and other digits int() does not read
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise DataError(f"{where}:{n}: @{name} is {text!r}, not a positive integer")
    return int(text)


def _classes(tags: dict, where: str) -> tuple | None:
    """The declared labels, or None for ``@classLabel false``."""
    if _flag(tags, "targetlabel", where):
        raise DataError(f"{where}:{tags['targetlabel'][1]}: @targetLabel true is a regression "
                        "file; seqnets reads classification files. Fix: give a file with "
                        "@classLabel")
    if "classlabel" not in tags:
        if "targetlabel" in tags:
            return None
        raise DataError(f"{where}: no @classLabel line. Fix: add '@classLabel true <labels>' "
                        "(or '@classLabel false' for unlabelled cases) before @data")
    text, n = tags["classlabel"]
    words = text.split()
    if not _flag(tags, "classlabel", where):
        return None
    labels = tuple(words[1:])
    if not labels or len(set(labels)) != len(labels):
        raise DataError(f"{where}:{n}: @classLabel true must list each class once, got "
                        f"{labels}. Fix: e.g. '@classLabel true 1 2 3'")
    return labels


def _values(text: str, where: str) -> np.ndarray:
    tokens = text.split(",")
    missing = np.array([t.strip() == "?" for t in tokens])
    try:
        values = np.asarray(["nan" if m else t for t, m in zip(tokens, missing, strict=True)],
                            dtype=np.float64)
    except ValueError:
        k = next(k for k, t in enumerate(tokens) if not missing[k] and not _is_float(t))
        raise DataError(f"{where}, value {k}: {tokens[k].strip()!r} is not a number. Fix: "
                        "values are numbers separated by ',', '?' where missing") from None
    odd = np.flatnonzero(~np.isfinite(values) & ~missing)
    if len(odd):
        raise DataError(f"{where}, value {odd[0]}: {tokens[odd[0]].strip()!r} is not finite. "
                        "Fix: write missing values as '?'")
    return values


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_ts(path: str | os.PathLike) -> TsData:
    """Read a UEA/UCR ``.ts`` classification file (any length per case, any channel count).

    Raises:
        DataError: a missing file or ``@data`` line, a bad header value, time stamps or
            regression targets, and any case whose channel count, length, values or label
            break the header's claims; the message names the file and the line.
    """
    where = os.fspath(path)
    if not Path(where).is_file():
        raise DataError(f"file not found: '{where}'. Fix: check the path")
    try:
        lines = Path(where).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"'{where}' is not UTF-8 text ({exc.reason} at byte {exc.start}). "
                        "Fix: give a .ts text file") from None
    tags, start = _header(lines, where)
    flags = {name: _flag(tags, name, where) for name in _BOOLS}
    if flags["timestamps"]:
        raise DataError(f"{where}:{tags['timestamps'][1]}: @timeStamps true is not supported. "
                        "Fix: export the cases without time stamps")
    dims, length = _count(tags, "dimensions", where), _count(tags, "serieslength", where)
    if flags["univariate"] and dims not in (None, 1):
        raise DataError(f"{where}: @univariate true but @dimensions {dims}. Fix: make the "
                        "header agree with itself")
    dims = 1 if flags["univariate"] and dims is None else dims
    classes = _classes(tags, where)

    series, labels = [], []
    for i in range(start + 1, len(lines)):
        line = lines[i].strip()
        if not line or line.startswith(("#", "%")):
            continue
        at = f"{where}:{i + 1}"
        parts = line.split(":")
        if classes is not None:
            if len(parts) < 2:
                raise DataError(f"{at}: no class label after the last ':'. Fix: end each case "
                                f"with ':<label>', one of {list(classes)}")
            label = parts.pop().strip()
            if label not in classes:
                raise DataError(f"{at}: label {label!r} is not declared by @classLabel "
                                f"{list(classes)}. Fix: add it to @classLabel or correct it")
            labels.append(label)
        if dims is not None and len(parts) != dims:
            raise DataError(f"{at}: {len(parts)} channels, but @dimensions (or the first case) "
                            f"says {dims}. Fix: separate the channels with ':' and give each "
                            "case every channel")
        dims = len(parts)
        channels = [_values(c, f"{at}, channel {k}") for k, c in enumerate(parts)]
        if len({len(c) for c in channels}) != 1:
            sizes = [len(c) for c in channels]
            raise DataError(f"{at}: the channels have different lengths {sizes}. Fix: give "
                            "every channel one value per time step ('?' where missing)")
        case = np.stack(channels, axis=1)
        if flags["missing"] is False and np.isnan(case).any():
            raise DataError(f"{at}: a missing value '?' but the header says @missing false. "
                            "Fix: set '@missing true'")
        if flags["equallength"]:
            want = length if length is not None else (len(series[0]) if series else len(case))
            if len(case) != want:
                raise DataError(f"{at}: {len(case)} steps, but @equalLength true and the "
                                f"length is {want}. Fix: set '@equalLength false' or pad "
                                "the case with '?'")
        series.append(case.astype(np.float32))
    if not series:
        raise DataError(f"{where}: no cases after @data. Fix: give one case a line")
    problem = tags.get("problemname", ("", 0))[0]
    return TsData(tuple(series), None if classes is None else tuple(labels),
                  classes or (), problem, {k: v for k, (v, _) in tags.items()})


def write_ts(path: str | os.PathLike, series: Sequence, labels: Sequence | None = None, *,
             problem: str = "seqnets", classes: Sequence | None = None) -> Path:
    """Write cases (each ``[T_i, C]``, or ``[T_i]`` for one channel) and their labels as a
    ``.ts`` file, atomically; NaN is written ``?``. ``classes`` (default: the sorted labels)
    is the ``@classLabel`` list. Returns the path."""
    cases = [np.asarray(s, dtype=np.float32) for s in series]
    cases = [c[:, None] if c.ndim == 1 else c for c in cases]
    if not cases or any(c.ndim != 2 or len(c) == 0 for c in cases) \
            or len({c.shape[1] for c in cases}) != 1:
        raise DataError("write_ts needs one or more [T, C] cases with T > 0 and one C, got "
                        f"shapes {[c.shape for c in cases][:5]}")
    if any(np.isinf(c).any() for c in cases):
        raise DataError("write_ts: a case holds an infinite value; .ts has no spelling for it")
    names = None if labels is None else [str(v) for v in labels]
    if names is not None:
        if len(names) != len(cases):
            raise DataError(f"{len(cases)} cases but {len(names)} labels; give one a case")
        classes = sorted(set(names)) if classes is None else [str(c) for c in classes]
        bad = [c for c in set(names) | set(classes) if not c or any(ch in c for ch in " \t:,")]
        if bad or not set(names) <= set(classes):
            raise DataError(f"labels must be declared in classes and hold no space, ':' or ',' "
                            f"(got {sorted(bad or set(names) - set(classes))})")
    lengths = {len(c) for c in cases}
    head = [f"@problemName {problem}", "@timeStamps false",
            f"@missing {str(any(np.isnan(c).any() for c in cases)).lower()}",
            f"@univariate {str(cases[0].shape[1] == 1).lower()}",
            f"@dimensions {cases[0].shape[1]}", f"@equalLength {str(len(lengths) == 1).lower()}"]
    head += [f"@seriesLength {lengths.pop()}"] if len(lengths) == 1 else []
    head += [f"@classLabel true {' '.join(classes)}" if names is not None
             else "@classLabel false", "@data"]
    rows = []
    for i, c in enumerate(cases):
        text = ":".join(",".join("?" if np.isnan(v) else str(v) for v in c[:, k])
                        for k in range(c.shape[1]))
        rows.append(text if names is None else f"{text}:{names[i]}")
    return atomic_write(path, ("\n".join(head + rows) + "\n").encode("utf-8"))
