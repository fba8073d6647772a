"""Transforms: exact inverses (full series and forecasts), statistics from the training part
only, and JSON round trips.

Tolerance: float64 round-off only, |error| <= 1e-9 * (1 + max|x|) (``close`` below)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seqnets.data import Difference, PerSeries, Pipeline, Scaler, transform_from_dict
from seqnets.errors import ConfigError, DataError, NotFittedError, ShapeError

FAST = settings(max_examples=40, deadline=None, derandomize=True)


def close(a, b, x):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * (1 + np.max(np.abs(x))))


series = st.integers(30, 80).flatmap(lambda n: st.integers(1, 3).flatmap(
    lambda f: arrays(np.float64, (n, f) if f > 1 else (n,),
                     elements=st.floats(-1e4, 1e4, allow_nan=False, width=64))))

pipelines = st.sampled_from([
    lambda: Scaler(),
    lambda: Scaler("robust"),
    lambda: Difference(1),
    lambda: Difference(12),
    lambda: Pipeline([Scaler(), Difference(1)]),
    lambda: Pipeline([Difference(1), Difference(7), Scaler()]),
    lambda: Pipeline([Scaler("robust"), Difference(12), Difference(1)]),
])


@FAST
@given(x=series, make=pipelines)
def test_inverse_of_transform_is_the_series(x, make):
    t = make().fit(x)
    z = t.transform(x)
    d = t.n_history
    assert z.shape == (len(x) - d,) + x.shape[1:]
    close(t.inverse(z, history=x[:d]), x[d:], x)


@FAST
@given(x=series, make=pipelines, cut=st.floats(0.5, 0.9), origin=st.integers(0, 5))
def test_forecast_inverse_maps_the_true_future_back_exactly(x, make, cut, origin):
    n_train = int(len(x) * cut)
    t = make().fit(x[:n_train])
    d, h = t.n_history, 4
    start = max(d, n_train - origin - h)  # a forecast origin with d steps of history
    z_future = t.transform(x[start - d:start + h])  # the true future, in transformed space
    back = t.inverse(z_future[None], history=x[:start])  # [1, h] batch; long history is fine
    close(back[0], x[start:start + h], x)


@FAST
@given(x=series, make=pipelines, junk=st.floats(-1e6, 1e6, allow_nan=False))
def test_statistics_come_from_the_training_part_only(x, make, junk):
    cut = len(x) // 2
    changed = x.copy()
    changed[cut:] = junk  # everything after the cut-off replaced
    a, b = make().fit(x[:cut]), make().fit(changed[:cut])
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    keep = cut - a.n_history  # transformed values before the cut-off are unchanged too
    np.testing.assert_array_equal(a.transform(x)[:keep], b.transform(changed)[:keep])


def test_difference_inverse_on_a_known_series():
    t = np.arange(48.0)
    x = 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    pipe = Pipeline([Difference(12), Difference(1)]).fit(x[:36])
    z = pipe.transform(x)
    np.testing.assert_allclose(z, 0.0, atol=1e-12)  # trend + season removed: all zeros
    forecast = np.zeros((3, 12))  # three forecasts in transformed space: "nothing new"
    out = pipe.inverse(forecast, history=x[:36])
    np.testing.assert_allclose(out, np.broadcast_to(x[36:], (3, 12)), atol=1e-12)


def test_forecasts_intervals_and_samples_batch_with_one_history_each():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(200, 2)), axis=0)
    pipe = Pipeline([Scaler(), Difference(1)]).fit(x[:150])
    origins = np.array([150, 160, 170])
    hist = np.stack([x[o - 5:o] for o in origins])  # [3, 5, 2]: one history per origin
    truth = np.stack([x[o:o + 6] for o in origins])  # [3, 6, 2]
    z = np.stack([pipe.transform(x[o - 1:o + 6]) for o in origins])  # [3, 6, 2]
    np.testing.assert_allclose(pipe.inverse(z, history=hist), truth, atol=1e-10)
    lo, hi = pipe.inverse(np.stack([z - 0.1, z + 0.1]), history=hist)  # bounds as a batch
    assert np.all(lo <= truth) and np.all(truth <= hi)  # the inverse is monotone
    samples = z + rng.normal(scale=0.01, size=(50, 3, 6, 2))  # e.g. MC-dropout passes
    assert pipe.inverse(samples, history=hist).shape == (50, 3, 6, 2)


def test_scaler_statistics_and_constant_features():
    x = np.c_[np.arange(10.0), np.full(10, 3.0)]
    s = Scaler().fit(x)
    np.testing.assert_allclose(s.center_, [4.5, 3.0])
    np.testing.assert_allclose(s.scale_, [np.std(np.arange(10.0)), 1.0])
    r = Scaler("robust").fit(np.r_[np.arange(9.0), 1e6])
    assert r.center_[0] == 4.5 and r.scale_[0] == 4.5  # the outlier moves neither


def test_per_series_fits_each_series_on_its_own():
    ys = [np.arange(20.0), 100 + 5 * np.arange(30.0) ** 1.2]
    ps = PerSeries(Pipeline([Scaler(), Difference(1)])).fit([y[:15] for y in ys])
    assert len(ps) == 2 and ps[0].steps[0].center_ != ps[1].steps[0].center_
    zs = ps.transform(ys)
    back = ps.inverse(zs, histories=[y[:1] for y in ys])
    for y, b in zip(ys, back, strict=True):
        close(b, y[1:], y)
    again = transform_from_dict(json.loads(json.dumps(ps.to_dict())))
    for a, b in zip(again.transform(ys), zs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_json_round_trip_is_exact():
    x = np.random.default_rng(1).normal(size=(60, 2)) * 7 + 3
    pipe = Pipeline([Scaler("robust"), Difference(1), Difference(12)]).fit(x)
    again = transform_from_dict(json.loads(json.dumps(pipe.to_dict())))
    np.testing.assert_array_equal(again.transform(x), pipe.transform(x))
    z = pipe.transform(x)
    np.testing.assert_array_equal(again.inverse(z, x[:13]), pipe.inverse(z, x[:13]))
    assert repr(again) == repr(pipe)


def test_errors_name_the_problem():
    with pytest.raises(NotFittedError, match="fit"):
        Scaler().transform(np.ones(3))
    with pytest.raises(DataError, match=r"NaN or inf at .*\(2,\).*fill"):
        Scaler().fit(np.array([1.0, 2.0, np.nan, 4.0]))
    with pytest.raises(ConfigError, match="lag"):
        Difference(0)
    with pytest.raises(ConfigError, match="method"):
        Scaler("minmax")
    d = Difference(12).fit(np.arange(30.0))
    with pytest.raises(ConfigError, match="history"):
        d.inverse(np.zeros(3))
    with pytest.raises(ShapeError, match="needs the last 12"):
        d.inverse(np.zeros(3), history=np.zeros(5))
    with pytest.raises(ShapeError, match=r"\[\.\.\., T, 2\]"):
        Scaler().fit(np.ones((5, 2))).transform(np.ones((5, 3)))
    with pytest.raises(ShapeError, match="more than 12"):
        Difference(12).fit(np.arange(12.0))
