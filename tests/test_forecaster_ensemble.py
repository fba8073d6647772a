"""Forecaster(ensemble=n): n models of one recipe, other seeds, combined by the median."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from seqnets import Forecaster
from seqnets.errors import ConfigError
from seqnets.layers import Dense
from seqnets.models import Ensemble, Sequential

SETTINGS = dict(window=8, horizon=3, epochs=1, mc_samples=3, model_options={"units": 4})


def table(n=50):
    t = np.arange(n)
    return pd.concat([pd.DataFrame({"id": s, "ds": t, "y": 5 + s * 2 + np.sin(t / 3)})
                      for s in range(2)], ignore_index=True)


def test_an_ensemble_module_of_one_is_its_member():
    member = Sequential([Dense(2)], input_size=3, seed=0)
    x = torch.randn(4, 3)
    torch.testing.assert_close(Ensemble([member])(x), member(x), rtol=0, atol=0)


def test_an_ensemble_of_one_equals_the_single_model():
    single = Forecaster("gru", **SETTINGS).fit(table(), time="ds", target="y", id="id")
    one = Forecaster("gru", ensemble=1, **SETTINGS).fit(table(), time="ds", target="y", id="id")
    assert not isinstance(one.model_, Ensemble)
    pd.testing.assert_frame_equal(single.predict(), one.predict())


def test_members_differ_and_the_forecast_is_their_median(tmp_path):
    fc = Forecaster("gru", ensemble=3, **SETTINGS).fit(table(), time="ds", target="y", id="id")
    assert isinstance(fc.model_, Ensemble) and len(fc.model_.members) == 3
    x = torch.randn(5, 8, 2)                     # y and the padding mask
    with torch.no_grad():
        outs = torch.stack([m.eval()(x) for m in fc.model_.members])
        torch.testing.assert_close(fc.model_.eval()(x), outs.median(dim=0).values)
    assert not torch.equal(outs[0], outs[1])
    frame = fc.predict(intervals=(0.8,))
    again = Forecaster.load(fc.save(tmp_path / "ens")).predict(intervals=(0.8,))
    pd.testing.assert_frame_equal(frame, again)


def test_an_ensemble_needs_a_recipe_not_a_module():
    module = Sequential([Dense(3)], input_shape=(8, 1))
    with pytest.raises(ConfigError, match="ensemble > 1 trains several models"):
        Forecaster(module, strategy="direct", ensemble=2, window=8, horizon=3).fit(
            table(), time="ds", target="y", id="id")
    with pytest.raises(ConfigError, match="ensemble must be a positive integer"):
        Forecaster("gru", ensemble=0).fit(table(), time="ds", target="y", id="id")


def test_probability_combination_is_the_log_of_the_mean_softmax_and_takes_lengths():
    from seqnets.classify import build

    members = [build("sketch_gru", 3, 2, seed=s, activation=None, padding="same", units=4,
                     filters=(4, 4, 4)).eval() for s in range(3)]
    ens = Ensemble(members, combine="probability").eval()
    x, lengths = torch.randn(4, 9, 2), torch.tensor([9, 3, 5, 1])
    with torch.no_grad():
        logits = torch.stack([m(x, lengths=lengths) for m in members]).double()
        mean = torch.softmax(logits, -1).mean(0)
        torch.testing.assert_close(ens(x, lengths=lengths).double().exp(), mean,
                                   rtol=0, atol=1e-6)
        torch.testing.assert_close(torch.softmax(ens(x, lengths=lengths), -1).double(), mean,
                                   rtol=0, atol=1e-6)
        # padding never changes the combination either
        alone = ens(x[1:2, :3], lengths=lengths[1:2])
        torch.testing.assert_close(alone, ens(x, lengths=lengths)[1:2], rtol=0, atol=1e-5)


def test_an_ensemble_over_windows_refuses_lengths():
    ens = Ensemble([Sequential([Dense(1)], input_shape=(4, 1))] * 2, windows=[4, 2])
    with pytest.raises(ConfigError, match="cannot take lengths"):
        ens(torch.randn(2, 4, 1), lengths=torch.tensor([4, 2]))
