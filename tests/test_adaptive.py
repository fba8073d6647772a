"""Adaptive conformal intervals (ACI): the update against a hand-written loop, no look-ahead,
the long-run guarantee, the rate choice, the backtest wiring and the refusals."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_forecaster import SMALL, table

from seqnets import Forecaster
from seqnets.errors import ConfigError, ShapeError
from seqnets.forecast import adaptive
from seqnets.forecast import intervals as iv

H = 3


def reference(cal, scores, times, level, rate, horizon):
    """ACI written out plainly: at each origin, first fold in the misses of every earlier
    origin whose last target lies before it, then take the quantile at 1 - alpha."""
    alpha, seen, out = 1 - level, [], []
    s = np.sort(cal, axis=0)
    n = len(s)
    for t, row in zip(times, scores, strict=True):
        for u, miss in [x for x in seen if x[0] + horizon <= t]:
            alpha += rate * ((1 - level) - miss)
            seen.remove((u, miss))
        lv = 1 - alpha
        f = s[-1] if lv >= 1 else np.zeros(s.shape[1]) if lv <= 0 else \
            s[min(n, math.ceil((n + 1) * lv)) - 1]
        out.append(f)
        seen.append((t, float(np.mean(row > f))))
    return np.array(out)


def stream(n=200, seed=0):
    rng = np.random.default_rng(seed)
    cal = np.abs(rng.normal(size=(50, H)))
    # the errors shrink, then grow: a shift either way
    scale = np.where(np.arange(n) < n // 2, 0.4, 2.0)[:, None]
    return cal, np.abs(rng.normal(size=(n, H))) * scale


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.5])
def test_factors_equal_a_hand_written_aci_loop(rate):
    cal, scores = stream()
    times = np.arange(len(scores))
    states = {0.8: adaptive.AdaptiveLevel(0.8, rate, H)}
    got = adaptive.adaptive_factors(cal, scores, times, states)[0.8]
    np.testing.assert_allclose(got, reference(cal, scores, times, 0.8, rate, H))


def test_rate_zero_is_plain_split_conformal():
    cal, scores = stream()
    states = {p: adaptive.AdaptiveLevel(p, 0.0, H) for p in (0.8, 0.95)}
    got = adaptive.adaptive_factors(cal, scores, np.arange(len(scores)), states)
    for p in (0.8, 0.95):
        np.testing.assert_array_equal(got[p], np.broadcast_to(iv.conformal_factor(cal, p),
                                                              scores.shape))


def test_an_origin_factor_never_depends_on_origins_not_yet_finished():
    cal, scores = stream(200)
    scores, times = scores[:60], np.arange(60)      # calm: the intervals narrow
    t = 40
    before = adaptive.adaptive_factors(cal, scores, times, {0.8: adaptive.AdaptiveLevel(
        0.8, 0.3, H)})[0.8]
    changed = scores.copy()
    changed[t - H + 1:] *= 50         # origins whose targets reach t or later
    after = adaptive.adaptive_factors(cal, changed, times, {0.8: adaptive.AdaptiveLevel(
        0.8, 0.3, H)})[0.8]
    np.testing.assert_array_equal(before[:t + 1], after[:t + 1])
    assert not np.array_equal(before, after)


@settings(max_examples=25, deadline=None)
@given(rate=st.floats(0.05, 2.0), seed=st.integers(0, 10_000), shrink=st.floats(0.02, 1.0))
def test_long_run_miss_rate_is_within_the_aci_bound(rate, seed, shrink):
    rng = np.random.default_rng(seed)
    cal = np.append(rng.uniform(size=39), 1.0)[:, None]
    n = 2000
    # errors smaller than the calibration's, by any factor, and drifting; never above its
    # largest score, where the interval stops widening (ACI's would grow without end)
    drift = np.linspace(1.0, 0.3, n)[:, None]
    scores = rng.uniform(size=(n, 1)) * shrink * drift
    f = adaptive.adaptive_factors(cal, scores, np.arange(n),
                                  {0.8: adaptive.AdaptiveLevel(0.8, rate, 1)})[0.8]
    miss = float(np.mean(scores > f))
    # Gibbs and Candes: |miss - alpha| <= (max(alpha_1, 1 - alpha_1) + rate) / (rate T)
    assert abs(miss - 0.2) <= (0.8 + rate) / (rate * n) + 1e-9


def test_levels_stay_nested_and_bad_arguments_are_refused():
    cal, scores = stream()
    states = {p: adaptive.AdaptiveLevel(p, 1.0, H) for p in (0.8, 0.95)}
    got = adaptive.adaptive_factors(cal, scores, np.arange(len(scores)), states)
    assert (got[0.95] >= got[0.8]).all()
    for bad in (-0.1, math.nan, math.inf, True, "0.1", None):
        with pytest.raises(ConfigError, match="rate"):
            adaptive.AdaptiveLevel(0.8, bad, H)
    with pytest.raises(ConfigError, match="horizon"):
        adaptive.AdaptiveLevel(0.8, 0.1, 0)
    state = adaptive.AdaptiveLevel(0.8, 0.1, H)
    state.factor(cal, 5)
    with pytest.raises(ConfigError, match="time order"):
        state.factor(cal, 4)
    with pytest.raises(ShapeError, match="one time per origin"):
        adaptive.adaptive_factors(cal, scores, np.arange(3), {0.8: state})
    with pytest.raises(ShapeError, match="calibration scores"):
        adaptive.quantile_at(np.zeros((0, H)), 0.8)
    with pytest.raises(ConfigError, match="at least 2 blocks"):
        adaptive.choose_rate(scores[:30], H, block=20)
    with pytest.raises(ConfigError, match="block"):
        adaptive.choose_rate(scores, H, block=0)


def test_quantile_at_the_edges_is_the_widest_score_or_the_point():
    cal, _ = stream()
    np.testing.assert_array_equal(adaptive.quantile_at(cal, 1.3), cal.max(axis=0))
    np.testing.assert_array_equal(adaptive.quantile_at(cal, -0.2), np.zeros(H))
    np.testing.assert_array_equal(adaptive.quantile_at(cal, 0.8), iv.conformal_factor(cal, 0.8))


@pytest.mark.parametrize("carry", [False, True])
def test_choose_rate_adapts_when_blocks_shift_and_reports_every_rate(carry):
    rng = np.random.default_rng(1)
    scale = np.repeat([1.0, 0.3, 3.0, 0.5, 2.0, 0.4], 40)[:, None]   # each block differs
    scores = np.abs(rng.normal(size=(240, H))) * scale
    rate, rows = adaptive.choose_rate(scores, H, block=40, carry=carry)
    assert [r["rate"] for r in rows] == sorted(adaptive.RATES)
    assert all(len(r["blocks"]) == 5 for r in rows)
    errors = {r["rate"]: r["error"] for r in rows}
    assert rate > 0 and errors[rate] == min(errors.values()) < errors[0.0]


def test_backtest_with_rate_zero_equals_no_rate_and_a_rate_moves_the_intervals():
    fc = Forecaster("gru", holdout=6, **SMALL).fit(table(), id="store")
    cols = ["coverage_80", "coverage_95", "width_80", "width_95", "wql"]
    plain = fc.backtest(folds=3, step=2)
    zero = fc.backtest(folds=3, step=2, rate=0.0)
    moved = fc.backtest(folds=3, step=2, rate=3.0)
    np.testing.assert_allclose(zero[cols].to_numpy(), plain[cols].to_numpy())
    model = moved["method"] == "model"
    assert not np.allclose(moved.loc[model, "width_80"], plain.loc[model, "width_80"])
    np.testing.assert_allclose(moved["mae"], plain["mae"])     # the forecasts are the same


def test_backtest_rate_refuses_intervals_it_cannot_adapt():
    q = Forecaster("mlp", strategy="direct", uncertainty="quantile", dropout=0.0, holdout=6,
                   **SMALL).fit(table(), id="store")
    with pytest.raises(ConfigError, match="adaptive intervals"):
        q.backtest(folds=2, step=2, rate=0.1)
    none = Forecaster("gru", dropout=0.0, holdout=6, **SMALL).fit(table(), id="store")
    with pytest.raises(ConfigError, match="without dropout"):
        none.backtest(folds=2, step=2, rate=0.1)
    fc = Forecaster("gru", holdout=6, **SMALL).fit(table(), id="store")
    with pytest.raises(ConfigError, match="rate"):
        fc.backtest(folds=2, step=2, rate=-1)
