"""Series of different lengths in one dataset, short ones included: padded, still forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqnets import Forecaster
from seqnets.errors import ConfigError, DataError

HORIZON = 4


def ragged(lengths, seed=0):
    """A long table: one noisy seasonal series per length, ids s0, s1, ..."""
    rng = np.random.default_rng(seed)
    parts = []
    for i, n in enumerate(lengths):
        t = np.arange(n)
        y = 10 + i + np.sin(2 * np.pi * t / 6) + 0.1 * rng.standard_normal(n)
        parts.append(pd.DataFrame({"id": f"s{i}", "ds": t, "y": y}))
    return pd.concat(parts, ignore_index=True)


LENGTHS = [2 * HORIZON, 3 * HORIZON, 5 * HORIZON, 10 * HORIZON]  # 2x to 10x the horizon


def fitted(**options):
    fc = Forecaster("gru", window=12, horizon=HORIZON, epochs=2, mc_samples=5,
                    model_options={"units": 8}, **options)
    with pytest.warns(UserWarning, match="padded on the left"):
        return fc.fit(ragged(LENGTHS), time="ds", target="y", id="id")


def test_a_window_longer_than_the_shortest_series_fits_and_forecasts_every_series():
    fc = fitted()
    assert fc.window > min(LENGTHS)
    frame = fc.predict(intervals=(0.8,))
    assert sorted(frame["id"].unique()) == [f"s{i}" for i in range(len(LENGTHS))]
    assert len(frame) == HORIZON * len(LENGTHS)
    assert np.isfinite(frame[["mean", "lower_80", "upper_80"]].to_numpy()).all()


def test_padded_windows_start_with_the_first_value_held():
    fc = fitted()
    assert len(fc.training_data()[0]) > 0
    z = fc._transformed(fc.series_)[0][:fc.cuts_[0]]      # s0's training part: 4 of 8 steps
    pad = fc.window + fc.outputs_per_step - len(z)
    assert pad > 0
    x, y = fc._pairs(z)
    assert len(x) == 1                                     # exactly one window, padded
    held = np.concatenate([np.full(pad, z[0, 0]), z[:, 0]])
    np.testing.assert_array_equal(x[0, :, 0].numpy(), held[:fc.window])
    np.testing.assert_array_equal(y[0, -1].numpy(), held[fc.window:])  # the last step's targets


def test_a_short_series_forecast_reads_only_its_own_values():
    fc = fitted()
    frame = fc.predict(intervals=())
    data = ragged(LENGTHS)
    data.loc[data["id"] == "s3", "y"] += 100.0   # another series changes: s0 is untouched
    again = fc.predict(intervals=(), data=data)
    s0 = frame[frame["id"] == "s0"]["mean"].to_numpy()
    np.testing.assert_allclose(again[again["id"] == "s0"]["mean"].to_numpy(), s0)


def test_short_series_refuse_keeps_the_strict_rule():
    fc = Forecaster("gru", window=12, horizon=HORIZON, epochs=1, short_series="refuse")
    with pytest.raises(DataError, match=r"shorter than \d+ steps \(window 12"):
        fc.fit(ragged(LENGTHS), time="ds", target="y", id="id")


def test_too_short_to_train_even_padded_is_refused():
    fc = Forecaster("gru", window=12, horizon=HORIZON, epochs=1, difference=1)
    with pytest.raises(DataError, match=r"shorter than 3 steps, too short to train on even "
                                        r"padded: 's0' \(2 steps\)"):
        fc.fit(ragged([2, 40]), time="ds", target="y", id="id")


def test_no_series_long_enough_to_hold_out_is_refused():
    fc = Forecaster("gru", window=12, horizon=HORIZON, epochs=1)
    with pytest.raises(DataError, match="no series is long enough to hold out"):
        fc.fit(ragged([5, 5]), time="ds", target="y", id="id")


def test_short_series_must_be_pad_or_refuse():
    with pytest.raises(ConfigError, match="short_series must be 'pad' or 'refuse'"):
        Forecaster("gru", short_series="drop").fit(ragged([40]), time="ds", target="y",
                                                      id="id")
