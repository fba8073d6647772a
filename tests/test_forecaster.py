"""The Forecaster on a tiny two-series table: tiny models, one or two epochs."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqnets import Forecaster
from seqnets.errors import ConfigError, DataError, NotFittedError
from seqnets.forecast.backtesting import per_fold
from seqnets.models import Sequential

N = 72          # months per series
W, H = 12, 4    # window, horizon
SMALL = dict(window=W, horizon=H, epochs=1, mc_samples=20, model_options={"units": 4},
             batch_size=64)


def table(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    parts = []
    for sid, amp, level in (("a", 1.0, 10.0), ("b", 3.0, 50.0)):
        y = level + amp * np.sin(2 * np.pi * t / 12) + 0.05 * t + rng.normal(0, 0.3, n)
        parts.append(pd.DataFrame({"store": sid, "ds": pd.date_range("2000-01-01", periods=n,
                                                                     freq="MS"),
                                   "y": y, "price": rng.normal(size=n)}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    return Forecaster("gru", holdout=6, **SMALL).fit(table(), id="store")


def test_predict_frame_has_one_row_per_series_and_step(fitted):
    out = fitted.predict()
    assert list(out.columns) == ["id", "time", "mean", "lower_80", "upper_80", "lower_95",
                                 "upper_95"]
    assert len(out) == 2 * H
    assert list(out["id"]) == ["a"] * H + ["b"] * H
    future = pd.date_range("2006-01-01", periods=H, freq="MS")   # 72 months after 2000-01
    assert list(out["time"][:H]) == list(future) == list(out["time"][H:])
    assert np.isfinite(out.drop(columns=["id", "time"]).to_numpy(dtype=float)).all()
    # forecasts are in each series' own units (levels 10 and 50)
    assert abs(out["mean"][:H].mean() - 13) < 8 and abs(out["mean"][H:].mean() - 53) < 15
    levels = fitted.predict(intervals=[0.5])
    assert list(levels.columns) == ["id", "time", "mean", "lower_50", "upper_50"]


def test_intervals_are_nested_around_the_mean(fitted):
    for calibrated in (True, False):
        out = fitted.predict(calibrated=calibrated)
        lo95, lo80, mean, hi80, hi95 = (out[c].to_numpy() for c in
                                        ("lower_95", "lower_80", "mean", "upper_80", "upper_95"))
        assert (lo95 <= lo80).all() and (lo80 <= mean).all()
        assert (mean <= hi80).all() and (hi80 <= hi95).all()


def test_calibration_reaches_nominal_coverage_on_the_held_out_windows(fitted):
    frame = fitted.holdout_forecasts(intervals=(0.8, 0.95))
    assert len(frame) == 2 * 6 * H          # two series, six held-out origins, H steps each
    for level, name in ((0.8, "80"), (0.95, "95")):
        inside = (frame["actual"] >= frame[f"lower_{name}"]) & \
            (frame["actual"] <= frame[f"upper_{name}"])
        assert inside.mean() >= level
        assert (inside.groupby(frame["step"]).mean() >= level).all()   # per step ahead too
    table_ = fitted.calibration()
    assert (table_["coverage"] >= table_["level"]).all()
    assert set(table_.columns) >= {"raw_factor", "factor", "raw_coverage"}


def test_the_held_out_period_leaks_into_neither_scaling_nor_training():
    df = table()
    changed = df.copy()
    held = H + 6 - 1                              # steps held out per series (6 origins)
    last = changed.groupby("store").cumcount() >= N - held
    changed.loc[last, "y"] = changed.loc[last, "y"] * 10 + 100
    a = Forecaster("gru", holdout=6, **SMALL).fit(df, id="store")
    b = Forecaster("gru", holdout=6, **SMALL).fit(changed, id="store")
    assert a.cuts_ == b.cuts_ == (N - held, N - held)
    assert a.transforms_.to_dict() == b.transforms_.to_dict()
    for ta, tb in zip(a.training_data(), b.training_data(), strict=True):
        assert torch.equal(ta, tb)
    # the calibrated model never saw the held-out part, and the calibration scores agree up
    # to the held-out actual values (which differ)
    for (name, pa), (_, pb) in zip(a.holdout_model_.state_dict().items(),
                                   b.holdout_model_.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name
    # the refitted final model learns the held-out steps too (refit=True, the default)
    assert not all(torch.equal(pa, pb) for pa, pb in zip(a.model_.state_dict().values(),
                                                          b.model_.state_dict().values(),
                                                          strict=True))
    # the check can fail: one changed training value moves the scaling statistics
    before = df.copy()
    before.loc[N - held - 1, "y"] += 5            # series a, last training step
    c = Forecaster("gru", holdout=6, **SMALL).fit(before, id="store")
    assert c.transforms_.to_dict() != a.transforms_.to_dict()


def test_backtest_rows_and_one_model_call_per_mc_pass_per_fold():
    fc = Forecaster("gru", holdout=3, **SMALL).fit(table(), id="store")
    calls = []

    def count(module, args):
        if isinstance(module, Sequential) and not module.training:
            calls.append(len(args[0]))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(count)
    try:
        out = fc.backtest(folds=3, step=2)
    finally:
        handle.remove()
    assert len(out) == 3 * 4
    assert list(out["method"][:4]) == ["model", "naive", "seasonal_naive", "linear"]
    assert set(out["fold"]) == {0, 1, 2} and (out["origins"] == 2 * 2).all()
    for col in ("mae", "rmse", "smape", "mase"):
        assert np.isfinite(out[col]).all()
    model = out[out["method"] == "model"]
    for col in ("coverage_80", "raw_coverage_80", "coverage_95", "raw_coverage_95"):
        assert model[col].between(0, 1).all()
        assert out[out["method"] != "model"][col].isna().all()
    # per fold: mc_samples calls on the 2 x 3 calibration origins, mc_samples on the
    # 2 x 2 test origins -- all origins together, never one call per origin
    assert calls.count(2 * 2) == 3 * 20
    assert len(calls) == 3 * 2 * 20 and 1 not in calls


def test_backtest_per_step_sums_up_to_the_fold_table():
    fc = Forecaster("gru", holdout=3, **SMALL).fit(table(), id="store")
    steps = fc.backtest(folds=2, step=3, per_step=True)
    h = fc.horizon
    assert len(steps) == 2 * 4 * h and sorted(set(steps["step"])) == list(range(1, h + 1))
    assert (steps["origins"] == 2 * 3).all()
    folds = fc.backtest(folds=2, step=3)  # seeded refits: the same forecasts
    summed = per_fold(steps)
    assert list(summed.columns) == list(folds.columns)
    pd.testing.assert_frame_equal(summed, folds, rtol=1e-9)
    # RMSE over a fold is the root of the steps' mean square (equal origins per step)
    one = steps[(steps["fold"] == 0) & (steps["method"] == "naive")]
    assert np.isclose(folds["rmse"][1], np.sqrt(np.mean(one["rmse"] ** 2)))
    with pytest.raises(ConfigError, match="per_step"):
        fc.backtest(per_step="yes")


def test_save_load_round_trip_predicts_the_same(fitted, tmp_path):
    first = fitted.predict(seed=7)
    assert first.equals(fitted.predict(seed=7))              # MC sampling is seeded
    assert not first["mean"].equals(fitted.predict(seed=8)["mean"])
    folder = fitted.save(tmp_path / "fc")
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json",
                                                  "forecaster.json"}
    again = Forecaster.load(folder)
    pd.testing.assert_frame_equal(again.predict(seed=7), first)
    pd.testing.assert_frame_equal(again.predict(calibrated=False), fitted.predict(
        calibrated=False))
    with pytest.raises(ConfigError, match="loaded Forecaster"):
        again.backtest()


def test_differencing_covariates_and_other_strategies():
    df = table()
    fc = Forecaster("wavenet", difference=12, model_options={}, holdout=0.2,
                    **{k: v for k, v in SMALL.items() if k != "model_options"})
    out = fc.fit(df, id="store", covariates="price").predict()
    assert fc.model_[0].input_size == 3              # y, price and the padding mask
    assert len(out) == 2 * H and np.isfinite(out["mean"]).all()
    rec = Forecaster("seq2seq_rnn", strategy="recursive", holdout=4, **SMALL)
    assert len(rec.fit(df, id="store").predict(intervals=())) == 2 * H
    direct = Forecaster("encoder_decoder", strategy="direct", holdout=4, **SMALL)
    assert len(direct.fit(df, id="store").predict()) == 2 * H


def test_integer_time_steps_continue_the_step():
    y = np.sin(np.arange(60) / 3) + np.arange(60) * 0.1
    frame = pd.DataFrame({"t": np.arange(0, 120, 2), "y": y})
    out = Forecaster("gru", holdout=3, **SMALL).fit(frame, time="t").predict()
    assert list(out["time"]) == [120, 122, 124, 126]


def test_not_fitted_errors():
    fc = Forecaster("gru")
    for call in (fc.predict, fc.backtest, fc.calibration, fc.training_data,
                 lambda: fc.save("nowhere")):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()


@pytest.mark.parametrize("kwargs, message", [
    (dict(horizon=0), "horizon must be a positive integer"),
    (dict(window=-3), "window must be a positive integer"),
    (dict(strategy="sideways"), "unknown strategy 'sideways'"),
    (dict(dropout=1.5), r"dropout must be in \[0, 1\)"),
    (dict(holdout=1.5), "holdout as a fraction"),
    (dict(model="no_such_model"), "unknown model"),
    (dict(model="linear"), "fixed output size"),
    (dict(model="encoder_decoder"), "strategy='direct'"),
])
def test_bad_arguments_raise_config_errors(kwargs, message):
    args = {**SMALL, **kwargs}
    with pytest.raises(ConfigError, match=message):
        Forecaster(**args).fit(table(), id="store")


def test_window_too_long_and_other_misuse():
    with pytest.raises(DataError, match=r"shorter than \d+ steps \(window 70"):
        Forecaster("gru", **{**SMALL, "window": 70}, short_series="refuse").fit(table(),
                                                                             id="store")
    with pytest.raises(ConfigError, match="one target, no covariates"):
        Forecaster("gru", strategy="recursive", **SMALL).fit(table(), id="store",
                                                             covariates="price")
    no_dropout = Forecaster("gru", dropout=0.0, holdout=3, **SMALL).fit(table(), id="store")
    with pytest.raises(ConfigError, match="set dropout > 0"):
        no_dropout.predict()
    assert len(no_dropout.predict(intervals=())) == 2 * H


@pytest.mark.parametrize("name, strategy", [("conv_gru", "seq2seq"), ("wavenet_full", "direct"),
                                            ("gru_dropout", "seq2seq")])
def test_other_zoo_models_forecast(name, strategy):
    options = {"channels": 4} if name == "wavenet_full" else {"units": 4}
    fc = Forecaster(name, strategy=strategy, holdout=3, **{**SMALL, "model_options": options})
    out = fc.fit(table(), id="store").predict()
    assert len(out) == 2 * H and np.isfinite(out["mean"]).all()
    assert (out["lower_95"] <= out["upper_95"]).all()


def test_a_strided_first_convolution_needs_an_aligned_window():
    # Conv1D(k=4, s=2, valid): output steps end at inputs 3, 5, 7, ...; 12 - 4 is even
    with pytest.raises(ConfigError, match="pick a window"):
        Forecaster("conv_gru", holdout=3, **{**SMALL, "window": 13}).fit(table(), id="store")


def test_predict_after_newer_history_of_the_same_series(fitted, monkeypatch):
    same = fitted.predict(data=table(), id="store")
    pd.testing.assert_frame_equal(same, fitted.predict())
    longer = table(N + 3, seed=0)  # three more months: the forecast moves on, nothing refits
    later = fitted.predict(data=longer, id="store")
    assert later["time"].min() == pd.Timestamp("2006-04-01")
    state = {k: v.clone() for k, v in fitted.model_.state_dict().items()}
    fitted.predict(data=longer, id="store")
    assert all(torch.equal(state[k], v) for k, v in fitted.model_.state_dict().items())
    assert fitted.series_.lengths[0] == N  # predict(data=) leaves the fitted history alone
    with pytest.raises(DataError, match=r"holds series \['a'\].*trained on series"):
        fitted.predict(data=table().query("store == 'a'"), id="store")
    quarterly = table().assign(ds=lambda d: pd.date_range("1900-01-01", periods=2 * N,
                                                            freq="QS"))
    # pandas versions name these dates QS-JAN or QS-OCT (the same quarter starts)
    with pytest.raises(DataError, match=r"steps by 'QS(-[A-Z]{3})?'"):
        fitted.predict(data=quarterly.iloc[:N].assign(store="a").pipe(
            lambda d: pd.concat([d, d.assign(store="b")])), id="store")
    short = table().groupby("store").tail(5)  # shorter than the window: padded, forecast
    assert len(fitted.predict(data=short, id="store")) == 2 * fitted.horizon
    with monkeypatch.context() as m:
        m.setattr(fitted, "short_series", "refuse")
        with pytest.raises(DataError, match="shorter than"):
            fitted.predict(data=short, id="store")
    with pytest.raises(ConfigError, match=r"predict\(\) got \['interval'\]"):
        fitted.predict(interval=0.9)  # a misspelt argument is not silently ignored


@pytest.mark.parametrize("recipe, fits_per_fold", [
    ({"model": "gru"}, 1),
    ({"model": "gru", "ensemble": 2}, 1),
    ({"model": "mlp", "strategy": "direct", "window": (6, 12)}, 1),
    ({"model": "auto"}, 3),                  # the auto fit and one per candidate inside it
    ({"model": "gru", "future": ("price",), "calendar": True}, 1),  # inputs known ahead
])
def test_each_backtest_fold_trains_on_the_data_before_its_cut_only(monkeypatch, recipe,
                                                                    fits_per_fold):
    settings = {**SMALL, **recipe}
    fc = Forecaster(settings.pop("model"), holdout=3, **settings).fit(table(), id="store")
    seen = []
    fit_series = Forecaster._fit_series

    def record(self, ss):
        seen.append(ss)
        return fit_series(self, ss)

    monkeypatch.setattr(Forecaster, "_fit_series", record)
    folds, step = 3, 2
    fc.backtest(folds=folds, step=step)
    assert len(seen) == folds * fits_per_fold
    for i, part in enumerate(seen):
        cut = N - H - (folds - i // fits_per_fold) * step + 1   # the fold's first origin
        assert part.lengths == (cut, cut)
        for full, mine in zip(fc.series_.values, part.values, strict=True):
            np.testing.assert_array_equal(mine, full[:cut])  # a prefix: nothing after the cut
