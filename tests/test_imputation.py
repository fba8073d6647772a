"""The Imputer: observed values kept bit for bit, gaps filled from both sides, sensible
errors; and its pieces (gap sampling, the masked loss)."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqnets.errors import ConfigError, DataError, NotFittedError
from seqnets.forecast.imputation import Imputer, gap_lengths, masked_mse, random_gaps

SMALL = dict(window=24, units=4, epochs=1)


def smooth(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 20 + 3 * np.sin(2 * np.pi * t / 24) + 0.01 * t + rng.normal(0, 0.05, n)
    return pd.DataFrame({"ds": pd.date_range("2001-01-01", periods=n, freq="h"), "y": y})


def punch(df: pd.DataFrame, seed: int = 1, rate: float = 0.1,
          max_gap: int = 8) -> tuple[pd.DataFrame, np.ndarray]:
    """Remove about ``rate`` of the points in separate interior gaps of 1 to ``max_gap``."""
    rng = np.random.default_rng(seed)
    n = len(df)
    hole = np.zeros(n, dtype=bool)
    while hole.sum() < rate * n:
        length = int(rng.integers(1, max_gap + 1))
        start = int(rng.integers(1, n - length - 1))
        if not hole[start - 1:start + length + 1].any():
            hole[start:start + length] = True
    out = df.copy()
    out.loc[hole, "y"] = np.nan
    return out, hole


def test_observed_values_are_kept_and_gaps_filled():
    df, hole = punch(smooth())
    imp = Imputer(**SMALL).fit(df)
    out = imp.fill()
    assert list(out.columns) == ["ds", "y", "imputed"] and len(out) == len(df)
    assert (out["ds"] == df["ds"]).all()
    np.testing.assert_array_equal(out["y"][~hole], df["y"][~hole])   # bit for bit
    assert np.isfinite(out["y"][hole]).all()
    np.testing.assert_array_equal(out["imputed"], hole)
    assert imp.gaps_.sum() == hole.sum() and imp.gaps_.max() <= 8
    pd.testing.assert_frame_equal(imp.transform(), out)


def test_a_short_training_beats_the_series_spread():
    truth = smooth(360)
    df, hole = punch(truth, seed=3)
    imp = Imputer(window=48, units=16, epochs=30, lr=3e-3, seed=0).fit(df)   # ~2 s
    err = np.abs(imp.fill()["y"][hole] - truth["y"][hole]).mean()
    spread = truth["y"].std()                     # ~2.3: about what a constant fill costs
    linear = np.abs(df["y"].interpolate()[hole] - truth["y"][hole]).mean()      # ~0.49
    assert err < 0.2 * spread and err < linear, (err, spread, linear)   # measured: 0.18
    assert imp.history_["loss"][-1] < imp.history_["loss"][0]


def test_several_series_by_id_keep_their_rows():
    a, hole_a = punch(smooth(100, seed=0), seed=5)
    b, hole_b = punch(smooth(100, seed=1), seed=6)
    b["y"] = b["y"] * 10
    table = pd.concat([a.assign(store="a"), b.assign(store="b")], ignore_index=True)
    out = Imputer(**SMALL, model="bilstm").fit(table, id="store").fill()
    assert list(out.columns) == ["store", "ds", "y", "imputed"]
    assert list(out["store"]) == ["a"] * 100 + ["b"] * 100
    hole = np.concatenate([hole_a, hole_b])
    np.testing.assert_array_equal(out["y"][~hole], table["y"][~hole])
    assert out["y"].notna().all()
    assert out["y"][100:][hole_b].between(150, 260).all()    # series b in its own units


def test_a_table_without_gaps_comes_back_unchanged():
    df = smooth(60)
    out = Imputer(**SMALL).fit(df).fill()
    np.testing.assert_array_equal(out["y"], df["y"])
    assert not out["imputed"].any()


def test_fill_before_fit_is_refused():
    with pytest.raises(NotFittedError, match="not fitted"):
        Imputer().fill()


@pytest.mark.parametrize("args, message", [
    ({"model": "cnn"}, "unknown imputation model"),
    ({"window": 1}, "window must be an integer >= 2"),
    ({"units": 0}, "units"),
    ({"layers": 4}, "layers must be 1, 2 or 3"),
    ({"max_gap": 0}, "max_gap"),
    ({"mask_rate": 1.5}, "mask_rate"),
    ({"epochs": -1}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"lr": -1.0}, "lr"),
])
def test_bad_arguments_are_config_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        Imputer(**args).fit(smooth(60))


def test_bad_data_is_a_data_error():
    with pytest.raises(ConfigError, match="one target column"):
        Imputer(**SMALL).fit(smooth(60), target=["y", "y2"])
    with pytest.raises(DataError, match="unsorted timestamps"):
        Imputer(**SMALL).fit(smooth(60).iloc[::-1])
    with pytest.raises(DataError, match="missing column"):
        Imputer(**SMALL).fit(smooth(60), target="sales")


def test_random_gaps_hide_enough_in_runs_of_allowed_lengths():
    rng = np.random.default_rng(0)
    hide = random_gaps(rng, 500, 64, 24, 0.15)
    assert hide.shape == (500, 64) and (hide.sum(axis=1) >= 10).all()
    runs = np.concatenate([gap_lengths(row) for row in hide])
    assert runs.min() >= 1 and (~hide).any(axis=1).all()
    again = random_gaps(np.random.default_rng(0), 500, 64, 24, 0.15)
    np.testing.assert_array_equal(hide, again)


def test_gap_lengths():
    assert list(gap_lengths(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool))) == [2, 1, 3]
    assert len(gap_lengths(np.zeros(5, dtype=bool))) == 0


def test_masked_mse_counts_only_the_weighted_steps():
    out = torch.tensor([[[1.0], [5.0], [2.0]]])
    y = torch.tensor([[[0.0, 1.0], [0.0, 0.0], [0.0, 1.0]]])
    assert float(masked_mse(out, y)) == pytest.approx((1 + 4) / 2)
    assert float(masked_mse(out, torch.zeros(1, 3, 2))) == 0.0
