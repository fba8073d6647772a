"""How the Forecaster trains: early stopping on the recent windows, and the linear base the
model corrects (forecast/members.py, windowing's base)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from seqnets import Forecaster
from seqnets.errors import ConfigError
from seqnets.models.baselines import LeastSquaresLinear

FAST = dict(horizon=3, epochs=1, batch_size=64, mc_samples=2, model_options={"units": 8})


def table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.concat([pd.DataFrame({"id": f"s{i}", "ds": t, "y": level * (
        2 + np.sin(t / 2) + 0.1 * rng.standard_normal(n))})
        for i, level in enumerate((1.0, 30.0, 900.0))], ignore_index=True)


def fit(**options):
    settings = {**FAST, **options}
    return Forecaster(settings.pop("model", "mlp"), **settings).fit(table(), id="id")


def test_the_validation_windows_are_the_last_tenth_of_each_series():
    fc = fit(window=8, strategy="direct")
    x, y, tail = fc.training_data(tail=True)
    x2, y2 = fc.training_data()
    assert torch.equal(x, x2) and torch.equal(y, y2)
    per_series = len(x) // 3          # three series of the same length
    mask = tail.reshape(3, per_series)
    expected = torch.zeros(per_series, dtype=torch.bool)
    expected[per_series - per_series // 10:] = True
    assert all(torch.equal(row, expected) for row in mask)


def test_early_stopping_keeps_the_best_epoch_and_the_refit_trains_that_long(monkeypatch):
    from seqnets.forecast import members

    calls = []
    real_fit = members.fit

    def spy(model, train, valid=None, **options):
        calls.append((valid is not None, options["epochs"]))
        return real_fit(model, train, valid, **options)

    monkeypatch.setattr(members, "fit", spy)
    fc = fit(window=8, strategy="direct", epochs=30, early_stopping=2, lr=0.05)
    first, refit = calls
    assert first == (True, 30) and not refit[0]
    best = fc.best_epochs_[0]
    losses = fc.history_["history"]["val_loss"]
    assert len(losses) < 30                              # it stopped early
    assert best == int(np.argmin(losses)) + 1            # the best epoch, counted from 1
    assert refit[1] == best                              # the refit trains exactly that long
    with pytest.raises(ConfigError, match="early_stopping"):
        fit(window=8, strategy="direct", early_stopping=0)


def test_without_early_stopping_every_epoch_trains():
    fc = fit(window=8, strategy="direct", epochs=3)
    assert fc.best_epochs_ is None and len(fc.history_["history"]["loss"]) == 3


def test_the_linear_base_is_least_squares_and_the_model_learns_what_it_leaves():
    fc = fit(window=8, strategy="direct", base="linear", epochs=0, refit=False,
             scale="window", dropout=0.0, uncertainty="conformal")
    x, y, _ = fc._windows_of()
    lin = LeastSquaresLinear(alpha=1e-6).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(fc.base_.coef_, lin.coef_)
    residual = fc.training_data()[1]
    torch.testing.assert_close(residual, y - torch.from_numpy(lin.predict(x.numpy())))
    # untrained (0 epochs), the forecast is the base plus the untrained net's output
    xs, s = fc._scale_in(fc._inputs(fc._transformed(fc.series_),
                                    [np.array([n]) for n in fc.series_.lengths]))
    with torch.no_grad():
        net = fc.model_(xs)
    expected = (torch.from_numpy(lin.predict(xs.numpy())) + net) * s
    got = fc.predict(intervals=())["mean"].to_numpy().reshape(3, -1)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5)


def test_a_model_that_learns_nothing_leaves_the_linear_forecast(tmp_path):
    """A net whose output is zero (zero weights, no training): the forecast is the linear
    baseline's (both fitted on the windows before the held-out part: no refit)."""
    from seqnets.layers import Dense, Flatten
    from seqnets.models import Sequential

    def zero(n_features, outputs):
        model = Sequential([Flatten(), Dense(outputs)], input_shape=(8, n_features))
        for p in model.parameters():
            p.data.zero_()
        return model

    fc = Forecaster(zero, window=8, horizon=3, strategy="direct", base="linear", epochs=0,
                    dropout=0.0, uncertainty="conformal", refit=False).fit(table(), id="id")
    origins = [np.arange(40, 45)] * 3
    result = fc.forecast_origins(fc.series_, origins, intervals=())
    np.testing.assert_allclose(result.mean, result.linear, rtol=1e-5)
    back = Forecaster.load(fc.save(tmp_path / "base"))
    np.testing.assert_allclose(back.predict(intervals=())["mean"],
                               fc.predict(intervals=())["mean"], rtol=1e-6)


def test_bad_base_settings_are_refused():
    with pytest.raises(ConfigError, match="base must be None or 'linear'"):
        fit(window=8, strategy="direct", base="ridge")
    with pytest.raises(ConfigError, match="strategy='direct'"):
        fit(model="gru", window=8, base="linear")


@pytest.mark.parametrize("uncertainty", ["conformal", "quantile"])
def test_backtest_calibration_adapts_with_the_errors_of_earlier_folds(monkeypatch,
                                                                      uncertainty):
    """Fold k calibrates on its own held-out scores plus the realised errors of the folds
    whose forecast periods ended before its cut, never of a later or overlapping one."""
    sizes = []
    real = Forecaster.forecast_origins

    def spy(self, series, origins, intervals=(0.8, 0.95), seed=None):
        sizes.append(self.scores_.shape[-2])
        return real(self, series, origins, intervals, seed)

    fc = fit(window=8, strategy="direct", scale="window", dropout=0.0,
             uncertainty=uncertainty, holdout=4)
    monkeypatch.setattr(Forecaster, "forecast_origins", spy)
    fc.backtest(folds=4, step=3, adapt=False)
    own, sizes[:] = list(sizes), []
    fc.backtest(folds=4, step=3)
    per_fold = 3 * 3                    # 3 series x 3 origins
    # horizon 3, step 3: (k - j) * 3 >= 5, so fold 2 adds fold 0 and fold 3 folds 0 and 1
    assert sizes == [own[0], own[1], own[2] + per_fold, own[3] + 2 * per_fold]
