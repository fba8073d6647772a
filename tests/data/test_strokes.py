"""Stroke-3, absolute strokes and stroke-5: hand-worked examples, exact inverses on integer
coordinates (hypothesis), sketch-rnn's normalising factor and cropping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqnets.data import (
    crop_strokes,
    normalize_strokes,
    stroke3_to_stroke5,
    stroke3_to_strokes,
    stroke5_to_stroke3,
    stroke_scale,
    strokes_to_stroke3,
)
from seqnets.errors import ConfigError, DataError, ShapeError

# two strokes: (10,20) -> (15,20) -> (15,30), then (0,0) -> (5,5)
STROKES = [np.array([[10, 20], [15, 20], [15, 30]]), np.array([[0, 0], [5, 5]])]
STROKE3 = np.array([[10, 20, 0], [5, 0, 0], [0, 10, 1], [-15, -30, 0], [5, 5, 1]])
STROKE5 = np.array([[10, 20, 1, 0, 0], [5, 0, 1, 0, 0], [0, 10, 0, 1, 0], [-15, -30, 1, 0, 0],
                    [5, 5, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1]])


def test_hand_worked_sketch_in_all_three_encodings():
    np.testing.assert_array_equal(strokes_to_stroke3(STROKES), STROKE3)
    back = stroke3_to_strokes(STROKE3)
    assert len(back) == 2
    for got, want in zip(back, STROKES, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(stroke3_to_stroke5(STROKE3, max_len=7), STROKE5)
    np.testing.assert_array_equal(stroke5_to_stroke3(STROKE5), STROKE3)
    default = stroke3_to_stroke5(STROKE3)  # n + 1 rows: one end-of-sketch row
    np.testing.assert_array_equal(default, STROKE5[:6])


def test_dtypes_are_kept_and_integer_sums_cannot_overflow():
    s3 = np.array([[30000, 0, 0], [30000, 0, 1]], dtype=np.int16)
    (points,) = stroke3_to_strokes(s3)
    assert points.dtype == np.int64 and points[-1, 0] == 60000
    assert stroke3_to_stroke5(s3).dtype == np.int16
    f = STROKE3.astype(np.float32)
    assert stroke3_to_strokes(f)[0].dtype == np.float32
    assert strokes_to_stroke3([s.astype(np.float32) for s in STROKES]).dtype == np.float32


def test_a_last_stroke_without_a_lifted_pen_still_ends_the_sketch():
    s3 = np.array([[1, 1, 1], [2, 0, 0], [0, 3, 0]])
    strokes = stroke3_to_strokes(s3)
    np.testing.assert_array_equal(strokes[1], [[3, 1], [3, 4]])
    np.testing.assert_array_equal(stroke5_to_stroke3(stroke3_to_stroke5(s3)), s3)


def test_stroke5_without_an_end_row_takes_every_row():
    np.testing.assert_array_equal(stroke5_to_stroke3(STROKE5[:5]), STROKE3)


# ----------------------------------------------------------------------------- hypothesis

coords = st.integers(-300, 300)
stroke = st.lists(st.tuples(coords, coords), min_size=1, max_size=12)
drawing = st.lists(stroke, min_size=1, max_size=6)


@st.composite
def stroke3s(draw):
    n = draw(st.integers(1, 40))
    rows = [(draw(coords), draw(coords), draw(st.integers(0, 1))) for _ in range(n)]
    rows[-1] = (*rows[-1][:2], 1)  # a sketch ends with the pen lifted
    return np.array(rows, dtype=np.int16)


@settings(max_examples=200, deadline=None)
@given(drawing)
def test_strokes_to_stroke3_and_back_is_exact(strokes):
    arrays = [np.array(s, dtype=np.int64) for s in strokes]
    back = stroke3_to_strokes(strokes_to_stroke3(arrays))
    assert len(back) == len(arrays)
    for got, want in zip(back, arrays, strict=True):
        np.testing.assert_array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(stroke3s(), st.integers(0, 10))
def test_stroke3_to_strokes_and_to_stroke5_and_back_are_exact(s3, extra):
    np.testing.assert_array_equal(strokes_to_stroke3(stroke3_to_strokes(s3)), s3)
    s5 = stroke3_to_stroke5(s3, max_len=len(s3) + extra)
    assert s5.shape == (len(s3) + extra, 5)
    assert (s5[len(s3):] == [0, 0, 0, 0, 1]).all()
    np.testing.assert_array_equal(stroke5_to_stroke3(s5), s3)
    np.testing.assert_array_equal(stroke3_to_stroke5(stroke5_to_stroke3(s5), len(s5)), s5)


# ----------------------------------------------------------------------------- scale, crop


def test_stroke_scale_is_the_std_of_every_offset_and_normalize_divides_by_it():
    sketches = [np.array([[3, 4, 1]]), np.array([[0, 0, 0], [-3, -4, 1]])]
    want = np.sqrt((9 + 16 + 9 + 16) / 6)  # dx, dy values 3, 4, 0, 0, -3, -4; mean 0
    assert stroke_scale(sketches) == pytest.approx(want, rel=1e-12)
    norm = normalize_strokes(sketches)
    assert norm[1].dtype == np.float32
    np.testing.assert_allclose(norm[1], [[0, 0, 0], [-3 / want, -4 / want, 1]], rtol=1e-6)
    np.testing.assert_allclose(normalize_strokes(sketches, scale=2.0)[0], [[1.5, 2, 1]])


def test_crop_keeps_the_first_rows_and_lifts_the_pen_at_the_cut():
    cropped = crop_strokes(STROKE3, 2)
    np.testing.assert_array_equal(cropped, [[10, 20, 0], [5, 0, 1]])
    np.testing.assert_array_equal(crop_strokes(STROKE3, 9), STROKE3)
    assert STROKE3[1, 2] == 0  # the input is not changed


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: stroke3_to_strokes(np.zeros((4, 2))), ShapeError, "[n, 3]"),
    (lambda: stroke3_to_strokes(np.zeros((0, 3))), ShapeError, "n > 0"),
    (lambda: stroke3_to_strokes([[1, 1, 2]]), DataError, "row 0 has 2"),
    (lambda: strokes_to_stroke3([]), DataError, "at least one stroke"),
    (lambda: strokes_to_stroke3([np.zeros((2, 2)), np.zeros((0, 2))]), ShapeError, "stroke 1"),
    (lambda: stroke3_to_stroke5(STROKE3, max_len=3), DataError, "crop_strokes"),
    (lambda: stroke3_to_stroke5(STROKE3, max_len=0), ConfigError, "max_len"),
    (lambda: stroke5_to_stroke3(np.zeros((3, 3))), ShapeError, "[L, 5]"),
    (lambda: stroke5_to_stroke3([[1, 1, 1, 1, 0]]), DataError, "one-hot"),
    (lambda: stroke5_to_stroke3([[0, 0, 0, 0, 1]]), DataError, "before its first point"),
    (lambda: stroke_scale([np.array([[0, 0, 1]])]), DataError, "single repeated point"),
    (lambda: normalize_strokes([STROKE3], scale=0), ConfigError, "scale"),
    (lambda: crop_strokes(STROKE3, -1), ConfigError, "max_len"),
])
def test_refusals_say_what_is_wrong(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
