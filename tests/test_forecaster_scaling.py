"""Per-window scaling (scale="window") and the training loss of the Forecaster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqnets import Forecaster
from seqnets.errors import ConfigError


class Naive(nn.Module):
    """Forecasts the window's last value of the first input (a zero-weight parameter so that
    it has something to train)."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.outputs = outputs
        self.zero = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x[:, -1, :1].repeat(1, self.outputs) + 0 * self.zero


def table(levels=(1.0, 50.0, 2000.0), n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.concat([pd.DataFrame({"id": f"s{i}", "ds": np.arange(n),
                                    "y": level * (1 + 0.3 * np.sin(np.arange(n) / 3))
                                    + level * 0.01 * rng.standard_normal(n)})
                      for i, level in enumerate(levels)], ignore_index=True)


def test_window_scaling_inverts_exactly():
    data = table()
    fc = Forecaster(lambda n_in, k: Naive(k), window=8, horizon=3, strategy="direct",
                    scale="window", epochs=0, dropout=0.0)
    fc.fit(data, time="ds", target="y", id="id")
    frame = fc.predict(intervals=())
    last = data.groupby("id")["y"].last().to_numpy()
    np.testing.assert_allclose(frame["mean"].to_numpy().reshape(3, 3),
                               np.repeat(last[:, None], 3, axis=1), rtol=2e-7)


def test_window_scaling_puts_every_window_on_one_level():
    fc = Forecaster("gru", window=8, horizon=3, scale="window", epochs=1, mc_samples=2,
                    model_options={"units": 4}).fit(table(), time="ds", target="y", id="id")
    x, y = fc.training_data()
    real = x[:, :, -1]                # the padding mask: the level is over the real steps
    torch.testing.assert_close((x[:, :, 0].abs() * real).sum(1) / real.sum(1),
                               torch.ones(len(x)))
    assert float(real.min()) == 0 and float(real[:, -2:].min()) == 1  # early windows padded
    assert float(y.abs().max()) < 3  # targets in units of their window's level
    assert fc.transforms_ is None    # no per-series standardisation on top


def test_the_loss_is_the_one_asked_for():
    data = table()
    runs = {}
    for loss in ("mse", "mae"):
        fc = Forecaster("gru", window=8, horizon=3, loss=loss, epochs=1, mc_samples=2,
                        model_options={"units": 4}).fit(data, time="ds", target="y", id="id")
        runs[loss] = fc.history_["history"]["loss"][0]
    assert runs["mse"] != runs["mae"]
    with pytest.raises(ConfigError, match="loss must be one of"):
        Forecaster("gru", loss="mape").fit(data, time="ds", target="y", id="id")
    with pytest.raises(ConfigError, match=r"scale \(True, False or 'window'\)"):
        Forecaster("gru", scale="series").fit(data, time="ds", target="y", id="id")


def test_the_mlp_head_forecasts_all_steps_at_once_from_a_fixed_window():
    fc = Forecaster("mlp", window=8, horizon=3, strategy="direct", scale="window", loss="mae",
                    epochs=1, mc_samples=2, model_options={"units": 8})
    fc.fit(table(), time="ds", target="y", id="id")
    assert fc.model_.input_shape == (8, 2) and not fc.seq_out_  # y and the padding mask
    frame = fc.predict(intervals=(0.8,))
    assert len(frame) == 9 and np.isfinite(frame["mean"]).all()
    with pytest.raises(ConfigError, match="use strategy='direct'"):
        Forecaster("mlp", window=8, horizon=3).fit(table(), time="ds", target="y", id="id")
