"""Forecasting strategies against hand-computed forecasts of transparent models."""

import numpy as np
import pytest
import torch
from torch import nn

from seqnets.chapter import strategies as forecasting
from seqnets.errors import ConfigError, ShapeError


class LastPlusOne(nn.Module):
    """One-step model: the next value is the last value + 1. Counts its calls."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x[:, -1, :] + 1.0


class WindowMean(nn.Module):
    """One-step model whose forecast depends on the window length (mean of the window)."""

    def forward(self, x):
        return x.mean(dim=1)


class Seq2SeqRamp(nn.Module):
    """At every step t outputs x_t + [1, 2, ..., k]."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x + torch.arange(1, self.k + 1, dtype=x.dtype)


def windows(batch=4, length=6):
    rng = np.random.default_rng(0)
    return rng.normal(size=(batch, length, 1)).astype(np.float32)


def test_recursive_appends_each_prediction():
    x = windows()
    out = forecasting.recursive(LastPlusOne(), x, horizon=5)
    expected = x[:, -1, :1] + np.arange(1, 6, dtype=np.float32)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
    assert isinstance(out, np.ndarray)


@pytest.mark.parametrize("sliding", [True, False])
def test_recursive_sliding_and_growing_windows(sliding):
    x = windows(batch=2, length=4).astype(np.float64)
    out = forecasting.recursive(WindowMean(), x, horizon=3, sliding=sliding)
    seq = [list(row[:, 0]) for row in x]
    expected = []
    for row in seq:
        preds = []
        for _ in range(3):
            window = row[-4:] if sliding else row
            preds.append(np.mean(window))
            row = row + [preds[-1]]
        expected.append(preds)
    np.testing.assert_allclose(out, np.array(expected), atol=1e-5)


def test_chunked_reuses_a_k_step_model_for_any_horizon():
    x = windows()
    model = Seq2SeqRamp(3)
    out = forecasting.chunked(model, x, horizon=7, kind="seq2seq")
    # chunk 1: last+1..3; chunk 2 starts from last+3: +4..6; chunk 3 from last+6: +7
    expected = x[:, -1, :1] + np.arange(1, 8, dtype=np.float32)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert model.calls == 3


def test_seq2seq_and_direct_take_the_right_outputs():
    x = torch.tensor(windows())
    out = forecasting.seq2seq(Seq2SeqRamp(4), x)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, x[:, -1, :1] + torch.arange(1, 5.0))
    direct = forecasting.direct(LastPlusOne(), x)
    torch.testing.assert_close(direct, x[:, -1, :] + 1)


def test_all_origins_go_through_the_model_together():
    x = np.zeros((1000, 8, 1), dtype=np.float32)
    model = LastPlusOne()
    forecasting.recursive(model, x, horizon=5, batch_size=1000)
    assert model.calls == 5  # one call per step ahead, not per origin


def test_bad_arguments_are_refused():
    x = windows()
    with pytest.raises(ConfigError, match="horizon"):
        forecasting.recursive(LastPlusOne(), x, horizon=0)
    with pytest.raises(ConfigError, match="kind"):
        forecasting.chunked(LastPlusOne(), x, horizon=2, kind="sideways")
    with pytest.raises(ShapeError, match="univariate"):
        forecasting.recursive(LastPlusOne(), x[:, :, 0], horizon=2)
    with pytest.raises(ShapeError, match=r"\[batch, time, k\]"):
        forecasting.seq2seq(LastPlusOne(), x)


def test_mse_checks_shapes():
    assert forecasting.mse([1.0, 2.0], [1.0, 4.0]) == pytest.approx(2.0)
    with pytest.raises(ShapeError):
        forecasting.mse(np.zeros(3), np.zeros(4))


def test_generate_takes_the_wavenet_fast_path_with_the_same_values(monkeypatch):
    import seqnets as sn

    model = sn.zoo.build("wavenet_full", seed=0, blocks=1, layers_per_block=3, channels=4)
    x = windows(batch=3, length=12)
    fast = forecasting.generate(model, x, horizon=6)
    calls = []
    monkeypatch.setattr(forecasting, "_wavenet_inside", lambda m: calls.append(m))
    slow = forecasting.generate(model, x, horizon=6)  # recomputation through predict()
    assert calls and fast.shape == (3, 6)
    np.testing.assert_allclose(fast, slow, atol=1e-5)


def test_generate_with_any_sequence_model_feeds_back_the_first_output():
    x = windows()
    out = forecasting.generate(Seq2SeqRamp(3), x, horizon=4)
    np.testing.assert_allclose(out, x[:, -1, :1] + np.arange(1, 5, dtype=np.float32), atol=1e-5)
