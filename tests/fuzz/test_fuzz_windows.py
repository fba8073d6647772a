"""Fuzzing the windowing functions: series of any dtype and shape, lengths and steps of any
type; a result has the promised shape and is a view of the series, anything else is a
seqnets error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fuzzing import FAST, SLOW, refused_or
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seqnets.data import window_pairs, windows

DTYPES = ("float32", "float64", "float16", "int64", "int8", "uint8", "bool", "complex64",
          "<U3", "object", "datetime64[s]")

SIZES = st.one_of(st.integers(-3, 12), st.sampled_from(
    [0, True, False, 1.0, 2.5, None, "3", 2**63, 10**30, np.int64(2), np.float64(3.0),
     float("nan")]))


@st.composite
def series(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9))
    if dtype == "object":
        a = np.empty(shape, dtype=object)
        for i in np.ndindex(shape):  # item by item: a list item must not broadcast
            a[i] = draw(st.sampled_from([1.5, "x", None, [1, 2]]))
    elif dtype in ("<U3", "datetime64[s]"):
        a = np.zeros(shape, dtype=dtype)
    else:
        a = draw(hnp.arrays(dtype, shape))
    kind = draw(st.sampled_from(("array", "tensor", "list")))
    if kind == "tensor":
        try:
            return torch.from_numpy(a)
        except TypeError:  # dtypes torch has not: the array itself then
            return a
    return a.tolist() if kind == "list" else a


def _check_windows(s, length, step) -> None:
    out = refused_or(lambda: windows(s, length, step))
    if out is None:
        return
    t = torch.as_tensor(np.asarray(s)) if not isinstance(s, torch.Tensor) else s
    t = t.unsqueeze(-1) if t.dim() == 1 else t
    length, step = int(length), int(step)  # numpy ints would overflow with 2**63
    assert out.shape == ((t.shape[0] - length) // step + 1, length, t.shape[1])


def _check_pairs(s, window, horizon, step) -> None:
    out = refused_or(lambda: window_pairs(s, window, horizon, step))
    if out is None:
        return
    x, y = out
    assert x.shape[0] == y.shape[0] > 0 and x.shape[1] == window and y.shape[1] == horizon


def check(data) -> None:
    s = data.draw(series(), label="series")
    if data.draw(st.booleans(), label="pairs"):
        _check_pairs(s, data.draw(SIZES, label="window"), data.draw(SIZES, label="horizon"),
                     data.draw(SIZES, label="step"))
    else:
        _check_windows(s, data.draw(SIZES, label="length"), data.draw(SIZES, label="step"))


@FAST
@given(data=st.data())
def test_windowing(data):
    check(data)


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_windowing_long(data):
    check(data)
