"""Synthetic pen sketches of simple shapes, drawn the way people draw them, in stroke-3.

    sketches, labels = synthetic_sketches(n_per_class=200, seed=0)     # int16 [n, 3], 'circle'
    write_synthetic_sketches("sketches/", n_per_class=200, seed=0)     # .npz and .ndjson files

Each sketch is one of :data:`SKETCH_CLASSES`, drawn with a random size, aspect, rotation and
position on QuickDraw's 256 x 256 canvas, a random stroke order and direction (and start
point on closed shapes), a random pen speed (the spacing of the points, varying along a
stroke) and pen noise (a wobble plus jitter), then rounded to integer pixels as QuickDraw's
simplified files are. Every random draw comes from the seed: the same seed gives the same
sketches, and sketch ``i`` of a class is the same whatever ``n_per_class`` or ``classes`` is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..checks import positive_int, probability
from ..errors import ConfigError
from .quickdraw import write_quickdraw
from .sketch_npz import write_sketch_npz
from .strokes import stroke3_to_strokes, strokes_to_stroke3

__all__ = ["SKETCH_CLASSES", "synthetic_sketches", "write_synthetic_sketches"]

SKETCH_CLASSES = ("circle", "square", "triangle", "star", "spiral", "zigzag", "arrow", "house",
                  "cross", "heart")


def _closed(vertices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A closed polygon drawn from a random corner, either way round."""
    v = np.roll(vertices, -int(rng.integers(len(vertices))), axis=0)
    v = v if rng.random() < 0.5 else v[::-1]
    return np.vstack([v, v[:1]])


def _arc(t: np.ndarray, r) -> np.ndarray:
    return np.column_stack([r * np.cos(t), r * np.sin(t)])


def _shape(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The shape's strokes as polylines in about [-1, 1]^2, in drawing order."""
    u = rng.uniform
    if name == "circle":
        start, turn = u(0, 2 * np.pi), rng.choice([-1, 1]) * 2 * np.pi * u(1.0, 1.1)
        return [_arc(start + np.linspace(0, turn, 48), 1.0)]
    if name == "square":
        return [_closed(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float), rng)]
    if name == "triangle":
        corners = _arc(np.pi / 2 + np.array([0, 2, 4]) * np.pi / 3 + u(-0.15, 0.15, 3), 1.0)
        return [_closed(corners, rng)]
    if name == "star":
        return [_closed(_arc(np.pi / 2 + np.arange(5) * 4 * np.pi / 5, 1.0), rng)]
    if name == "spiral":
        turns = u(2.0, 3.5)
        t = np.linspace(0, 2 * np.pi * turns, int(40 * turns))
        s = _arc(rng.choice([-1, 1]) * t + u(0, 2 * np.pi), t / t[-1])
        return [s if rng.random() < 0.5 else s[::-1]]
    if name == "zigzag":
        k = int(rng.integers(4, 8))
        z = np.column_stack([np.linspace(-1, 1, k + 1), 0.5 * (-1.0) ** np.arange(k + 1)])
        return [z if rng.random() < 0.5 else z[::-1]]
    if name == "arrow":
        shaft = np.array([[-1, 0], [1, 0]], float)
        head = np.array([[0.45, 0.45], [1, 0], [0.45, -0.45]])
        return [shaft, head] if rng.random() < 0.7 else [head, shaft]
    if name == "house":
        body = _closed(np.array([[-0.7, -1], [0.7, -1], [0.7, 0.2], [-0.7, 0.2]]), rng)
        roof = np.array([[-0.85, 0.2], [0, 1], [0.85, 0.2]])
        door = np.array([[-0.15, -1], [-0.15, -0.5], [0.15, -0.5], [0.15, -1]])
        parts = [body, roof] + ([door] if rng.random() < 0.5 else [])
        return [parts[i] for i in rng.permutation(len(parts))]
    if name == "cross":
        return [np.array([[0, 1], [0, -1]], float), np.array([[-1, 0], [1, 0]], float)]
    if name == "heart":
        t = np.linspace(0, 2 * np.pi, 64)
        x = 16 * np.sin(t) ** 3
        y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        h = np.column_stack([x, y + 3]) / 16
        return [h if rng.random() < 0.5 else h[::-1]]
    raise ConfigError(f"unknown sketch class {name!r}; the classes are {SKETCH_CLASSES}")


def _resample(line: np.ndarray, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Points along a polyline at a pen speed that varies around ``spacing`` pixels."""
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(seg)])
    steps = spacing * np.exp(rng.normal(0, 0.3, int(along[-1] / spacing * 2) + 2))
    at = np.concatenate([[0.0], np.cumsum(steps)])
    at = np.append(at[at < along[-1]], along[-1])
    return np.column_stack([np.interp(at, along, line[:, 0]), np.interp(at, along, line[:, 1])])


def _sketch(name: str, rng: np.random.Generator) -> np.ndarray:
    strokes = [s if rng.random() < 0.5 else s[::-1] for s in _shape(name, rng)]
    if name == "cross":
        strokes = [strokes[i] for i in rng.permutation(2)]
    size = rng.uniform(30, 75)
    aspect = np.exp(rng.uniform(-0.2, 0.2))
    angle = rng.uniform(-np.pi / 6, np.pi / 6)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = 128 + rng.uniform(-15, 15, 2)
    scale = size * np.array([aspect, 1 / aspect])
    spacing, noise = rng.uniform(2.0, 8.0), rng.uniform(0.3, 1.5)
    out = []
    for s in strokes:
        p = _resample((s * scale) @ rot.T, spacing, rng)
        wobble = np.cumsum(rng.normal(0, noise / 3, p.shape), axis=0)
        p = p + wobble - wobble.mean(axis=0) + rng.normal(0, noise, p.shape)
        q = np.clip(np.rint(p + centre), 0, 255).astype(np.int64)  # pixels, y down
        q[:, 1] = 255 - q[:, 1]
        keep = np.concatenate([[True], (np.diff(q, axis=0) != 0).any(axis=1)])
        out.append(q[keep])
    return strokes_to_stroke3(out).astype(np.int16)


def _classes(classes) -> tuple:
    names = SKETCH_CLASSES if classes is None else tuple(classes)
    unknown = [c for c in names if c not in SKETCH_CLASSES]
    if unknown or not names or len(set(names)) != len(names):
        raise ConfigError(f"classes must be distinct names from {SKETCH_CLASSES}, got {names}")
    return names


def synthetic_sketches(n_per_class: int = 100, classes: Sequence[str] | None = None,
                       seed: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """``n_per_class`` sketches of each class (default: all of :data:`SKETCH_CLASSES`), class
    by class: stroke-3 ``int16 [n, 3]`` arrays and their labels."""
    n = positive_int(n_per_class, "n_per_class")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    sketches, labels = [], []
    for name in _classes(classes):
        k = SKETCH_CLASSES.index(name)
        for i in range(n):
            sketches.append(_sketch(name, np.random.default_rng([int(seed), k, i])))
            labels.append(name)
    return sketches, labels


def write_synthetic_sketches(folder: str | os.PathLike, n_per_class: int = 100,
                             classes: Sequence[str] | None = None, seed: int = 0,
                             valid: float = 0.15, test: float = 0.15) -> dict[str, list[Path]]:
    """Write synthetic sketches in both real formats, one file per class as the real datasets
    are: ``folder/npz/<class>.npz`` (sketch-rnn's ``train``/``valid``/``test`` splits, the
    last ``valid`` and ``test`` fractions of each class) and ``folder/ndjson/<class>.ndjson``
    (QuickDraw's, every sketch of the class in the same order). Returns the paths by format."""
    valid, test = probability(valid, "valid"), probability(test, "test")
    if valid + test >= 1:
        raise ConfigError(f"valid + test must be below 1, got {valid} + {test}")
    sketches, labels = synthetic_sketches(n_per_class, classes, seed)
    n = len(sketches) // len(set(labels))
    n_valid, n_test = int(round(n * valid)), int(round(n * test))
    paths: dict[str, list[Path]] = {"npz": [], "ndjson": []}
    for c, name in enumerate(dict.fromkeys(labels)):
        mine = sketches[c * n:(c + 1) * n]
        cut, end = n - n_valid - n_test, n - n_test
        paths["npz"].append(write_sketch_npz(
            Path(folder) / "npz" / f"{name}.npz",
            {"train": mine[:cut], "valid": mine[cut:end], "test": mine[end:]}))
        meta = [{"countrycode": "ZZ", "timestamp": f"2017-03-01 00:00:{i % 60:02d}.00000 UTC",
                 "recognized": True, "key_id": f"{seed:04d}{c:02d}{i:08d}"}
                for i in range(n)]
        paths["ndjson"].append(write_quickdraw(
            Path(folder) / "ndjson" / f"{name}.ndjson",
            [stroke3_to_strokes(s) for s in mine], [name] * n, meta))
    return paths
