"""Synthetic sketches: ten shape classes as int16 stroke-3, every random draw from the seed,
varied in the ways the generator promises, and written to both real formats that read back
identical."""

from __future__ import annotations

import re

import numpy as np
import pytest

from seqnets.data import (
    SKETCH_CLASSES,
    read_quickdraw,
    read_sketch_npz,
    stroke3_to_strokes,
    synthetic_sketches,
    write_synthetic_sketches,
)
from seqnets.errors import ConfigError


def test_every_class_gives_valid_int16_stroke3_sketches_on_the_canvas():
    sketches, labels = synthetic_sketches(n_per_class=6, seed=3)
    assert len(SKETCH_CLASSES) >= 8 and len(set(SKETCH_CLASSES)) == len(SKETCH_CLASSES)
    assert labels == [c for c in SKETCH_CLASSES for _ in range(6)]
    for s in sketches:
        assert s.dtype == np.int16 and s.ndim == 2 and s.shape[1] == 3 and len(s) >= 2
        assert set(np.unique(s[:, 2])) <= {0, 1} and s[-1, 2] == 1
        strokes = stroke3_to_strokes(s)
        points = np.concatenate(strokes)
        assert points.min() >= 0 and points.max() <= 255
        for stroke in strokes:  # the pen moves between the points of a stroke
            assert (np.abs(np.diff(stroke, axis=0)).sum(axis=1) > 0).all()


def test_strokes_per_class_are_those_of_the_shape():
    sketches, labels = synthetic_sketches(n_per_class=20, seed=0)
    strokes = {c: {int(s[:, 2].sum()) for s, l in zip(sketches, labels, strict=True) if l == c}
               for c in SKETCH_CLASSES}
    assert strokes["circle"] == {1} and strokes["cross"] == {2} and strokes["arrow"] == {2}
    assert strokes["house"] == {2, 3}  # a door sometimes


def test_the_same_seed_gives_the_same_sketches_and_another_seed_others():
    a, _ = synthetic_sketches(4, seed=11)
    b, _ = synthetic_sketches(4, seed=11)
    c, _ = synthetic_sketches(4, seed=12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    # sketch i of a class does not depend on how many or which classes are asked for
    d, _ = synthetic_sketches(2, classes=["heart", "circle"], seed=11)
    assert np.array_equal(d[2], a[0]) and np.array_equal(d[1], a[-3])


def test_size_rotation_start_order_and_speed_vary():
    sketches, labels = synthetic_sketches(n_per_class=30, classes=["square", "cross"], seed=5)
    squares, crosses = sketches[:30], sketches[30:]
    lengths = [len(s) for s in squares]
    assert max(lengths) > 2 * min(lengths)  # speed (point spacing) and size
    widths = [np.ptp(np.concatenate(stroke3_to_strokes(s))[:, 0]) for s in squares]
    assert max(widths) > 1.8 * min(widths)
    starts = {tuple(s[0, :2] // 16) for s in squares}
    assert len(starts) > 10  # start corner and position
    spacing = [np.median(np.hypot(*s[1:, :2].T)) for s in squares]
    assert max(spacing) > 2 * min(spacing)
    # stroke order: the cross's first stroke is sometimes the vertical one, sometimes not
    first = {bool(abs(int(s[1, 1])) > abs(int(s[1, 0]))) for s in crosses}
    assert first == {True, False}


def test_written_to_npz_and_ndjson_they_read_back_identical(tmp_path):
    sketches, labels = synthetic_sketches(n_per_class=10, seed=7)
    paths = write_synthetic_sketches(tmp_path, n_per_class=10, seed=7, valid=0.2, test=0.1)
    assert [p.name for p in paths["npz"]] == [f"{c}.npz" for c in SKETCH_CLASSES]
    from_npz = []
    for path in paths["npz"]:
        splits = read_sketch_npz(path)
        assert [len(v) for v in splits.values()] == [7, 2, 1]
        from_npz += splits["train"] + splits["valid"] + splits["test"]
    folder = read_quickdraw(tmp_path / "ndjson")  # the files in name order: as many classes
    assert folder.classes == tuple(sorted(SKETCH_CLASSES)) and len(folder) == len(sketches)
    from_json, json_labels = [], []
    for path in paths["ndjson"]:
        drawings = read_quickdraw(path)
        assert drawings.meta[0]["recognized"] is True
        from_json += drawings.stroke3()
        json_labels += drawings.labels
    assert json_labels == labels
    for got_npz, got_json, want in zip(from_npz, from_json, sketches, strict=True):
        assert got_npz.dtype == got_json.dtype == np.int16
        np.testing.assert_array_equal(got_npz, want)
        np.testing.assert_array_equal(got_json, want)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: synthetic_sketches(0), "n_per_class"),
    (lambda: synthetic_sketches(2, classes=["blob"]), "blob"),
    (lambda: synthetic_sketches(2, classes=["star", "star"]), "distinct"),
    (lambda: synthetic_sketches(2, seed=-1), "seed"),
    (lambda: write_synthetic_sketches("x", 2, valid=0.6, test=0.5), "valid + test"),
])
def test_bad_arguments_are_refused(call, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        call()
