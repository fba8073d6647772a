"""The Forecaster's recipes for many short series: refitting on everything, conformal
intervals, ensembles over windows, the padding mask and the seasonal window level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from seqnets import Forecaster
from seqnets.errors import ConfigError, ShapeError
from seqnets.forecast.origins import left_pad, local_scale, scale_windows
from seqnets.models import zoo
from seqnets.models.ensemble import Ensemble

FAST = dict(horizon=3, epochs=1, batch_size=64, mc_samples=2, model_options={"units": 8})


def table(n=60, levels=(1.0, 30.0, 900.0), seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    shape = [2 + np.sin(t / 2) + 0.1 * rng.standard_normal(n) for _ in levels]
    return pd.concat([pd.DataFrame({"id": f"s{i}", "ds": t, "y": level * shape[i]})
                      for i, level in enumerate(levels)], ignore_index=True)


def fit(**options):
    settings = {**FAST, **options}
    return Forecaster(settings.pop("model", "mlp"), **settings).fit(table(), id="id")


def test_without_refit_the_calibrated_model_forecasts():
    kept = fit(window=8, strategy="direct", refit=False)
    assert kept.model_ is kept.holdout_model_
    refitted = fit(window=8, strategy="direct")
    assert refitted.model_ is not refitted.holdout_model_
    # same recipe, same seed: the calibrated models agree, the final ones do not
    for a, b in zip(kept.holdout_model_.parameters(), refitted.holdout_model_.parameters(),
                    strict=True):
        assert torch.equal(a, b)
    assert not kept.predict(intervals=()).equals(refitted.predict(intervals=()))


def test_conformal_intervals_need_no_dropout_and_cover_the_held_out_errors():
    fc = fit(window=8, strategy="direct", scale="window", dropout=0.0,
             uncertainty="conformal", holdout=6)
    assert fc.dropout_ == 0.0 and fc.intervals_
    frame = fc.holdout_forecasts(intervals=(0.8, 0.95))
    for name, level in (("80", 0.8), ("95", 0.95)):
        slack = 1e-9 * frame["actual"].abs()   # the largest score sits on the bound
        inside = (frame["actual"] >= frame[f"lower_{name}"] - slack) & \
            (frame["actual"] <= frame[f"upper_{name}"] + slack)
        for _, step in inside.groupby(frame["step"]):   # per step ahead, by construction
            assert step.mean() >= level
    table_ = fc.calibration()
    assert table_["raw_factor"].isna().all() and (table_["coverage"] >= table_["level"]).all()
    out = fc.predict()
    assert (out["lower_95"] <= out["lower_80"]).all() and (out["lower_80"] <= out["mean"]).all()
    # deterministic: no MC passes, so two predictions agree whatever the seed
    pd.testing.assert_frame_equal(out, fc.predict(seed=123))
    with pytest.raises(ConfigError, match="calibrated by construction"):
        fc.predict(calibrated=False)


def test_conformal_intervals_scale_with_the_series_level():
    fc = fit(window=8, strategy="direct", scale="window", dropout=0.0,
             uncertainty="conformal", holdout=6)
    out = fc.predict(intervals=(0.8,))
    width = (out["upper_80"] - out["lower_80"]).groupby(out["id"]).mean()
    assert width["s2"] > 10 * width["s1"] > 100 * width["s0"]   # levels 1, 30, 900


def test_local_scale_is_the_mean_absolute_step_change_before_the_origin():
    v = np.array([[1.0], [3.0], [2.0], [6.0], [5.0]])
    got = local_scale([v], [np.array([3, 5, 1])], window=3)
    # before 3: 1, 3, 2 -> (2 + 1) / 2; before 5: 2, 6, 5 -> (4 + 1) / 2; before 1: one step
    np.testing.assert_allclose(got[:, 0], [1.5, 2.5, 1.0])


def test_an_ensemble_over_windows_reads_the_last_steps_of_the_longest_window(tmp_path):
    fc = fit(window=(6, 10), strategy="direct", ensemble=2, dropout=0.0,
             uncertainty="conformal")
    model = fc.model_
    assert isinstance(model, Ensemble) and model.windows == [6, 6, 10, 10]
    assert fc.input_window == 10 and fc.windows == (6, 10)
    x = torch.randn(4, 10, 2)
    with torch.no_grad():
        outs = torch.stack([m.eval()(x[:, 10 - w:]) for m, w in
                            zip(model.members, model.windows, strict=True)])
        # an even count: the mean of the two middle values
        torch.testing.assert_close(model.eval()(x), torch.quantile(outs, 0.5, dim=0))
    again = Forecaster.load(fc.save(tmp_path / "f"))
    pd.testing.assert_frame_equal(fc.predict(), again.predict())


def test_an_ensemble_over_windows_of_sequence_models_aligns_their_last_steps():
    members = [zoo.build("gru", input_size=1, outputs=2, units=4, seed=s) for s in (0, 1)]
    ens = Ensemble(members, windows=[3, 5])
    x = torch.randn(2, 5, 1)
    with torch.no_grad():
        out = ens(x)
        assert out.shape == (2, 3, 2)
        a, b = members[0](x[:, 2:]), members[1](x)[:, 2:]
        torch.testing.assert_close(out, (a + b) / 2)
    assert tuple(ens.compute_output_shape((5, 1))) == (3, 2)
    fc = fit(model="gru", window=(6, 8), ensemble=1)
    assert len(fc.predict(intervals=())) == 3 * 3


def test_bad_windows_and_recipes_are_refused():
    with pytest.raises(ConfigError, match="several different ones"):
        fit(window=(8, 8))
    with pytest.raises(ConfigError, match="window"):
        fit(window=(8, 0))
    module = zoo.build("gru", input_size=1, outputs=3, units=4)
    with pytest.raises(ConfigError, match="one model per window"):
        Forecaster(module, window=(4, 8), horizon=3).fit(table(), id="id")
    with pytest.raises(ConfigError, match="uncertainty"):
        fit(window=8, uncertainty="bootstrap")
    with pytest.raises(ConfigError, match="refit"):
        fit(window=8, refit="yes")
    with pytest.raises(ConfigError, match="season"):
        fit(window=8, season=0)
    members = [zoo.build("gru", input_size=1, outputs=2, units=4)]
    with pytest.raises(ConfigError, match="one length per member"):
        Ensemble(members, windows=[3, 4])
    with pytest.raises(ShapeError, match="reads 6 steps"):
        Ensemble(members, windows=[6])(torch.randn(1, 4, 1))


def test_the_padding_mask_and_early_windows():
    z = np.array([[5.0], [6.0]], dtype=np.float32)
    padded, added = left_pad(z, 4, mask=True)
    np.testing.assert_array_equal(padded, [[5, 0], [5, 0], [5, 1], [6, 1]])
    assert added == 2
    fc = fit(window=8, strategy="direct")
    x, _ = fc.training_data()
    # every series trains from its second step on: 60 - 2 - 3 + 1 windows per series (the
    # held-out part left out), the first with 6 padded steps
    assert fc.masked_ and x.shape[2] == 2
    per_series = len(x) // 3
    assert float(x[0, :, -1].sum()) == 2 and per_series == fc.cuts_[0] - 2 - 3 + 1
    strict = fit(window=8, strategy="direct", short_series="refuse")
    assert not strict.masked_ and strict.training_data()[0].shape[2] == 1


def test_the_window_level_is_over_the_last_season_and_the_real_steps():
    x = torch.tensor([[[9.0, 0.0], [9.0, 0.0], [1.0, 1.0], [3.0, 1.0]],
                      [[2.0, 1.0], [2.0, 1.0], [4.0, 1.0], [8.0, 1.0]]])
    scaled, s = scale_windows(x, steps=3, masked=True)
    torch.testing.assert_close(s[:, 0], torch.tensor([2.0, 14.0 / 3]))  # padded steps left out
    torch.testing.assert_close(scaled[:, :, 0] * s, x[:, :, 0])
    assert torch.equal(scaled[:, :, 1], x[:, :, 1])                     # the mask unscaled
    monthly = Forecaster("mlp", window=24, season=12)
    assert monthly.level_steps == 12
    assert Forecaster("mlp", window=24).level_steps == 24               # integer steps


def test_auto_chooses_the_best_candidate_on_the_held_out_part_and_says_so(tmp_path):
    fc = Forecaster("auto", horizon=4, epochs=2, batch_size=64, holdout=6).fit(table(),
                                                                               id="id")
    table_ = fc.auto_
    assert list(table_["candidate"]) == ["mlp over windows", "gru seq2seq"]
    assert table_["chosen"].sum() == 1
    best = table_.loc[table_["chosen"]].iloc[0]
    assert best["mase"] == table_["mase"].min()
    assert fc.get_params()["model"] == "auto"          # as given: a backtest chooses anew
    assert fc.settings()["model"] == best["model"] == fc.model
    assert fc.refit and fc.model_ is not fc.holdout_model_
    again = Forecaster.load(fc.save(tmp_path / "auto"))
    assert again.model == fc.model                     # the chosen recipe is what is saved
    pd.testing.assert_frame_equal(fc.predict(), again.predict())


def test_auto_scores_each_series_by_its_own_seasonal_naive_error():
    from seqnets.forecast.auto import _scores

    fc = fit(window=8, strategy="direct", holdout=6)
    frame = fc.holdout_forecasts(intervals=())
    got = _scores(fc, frame)
    expect = []
    for sid, v, c in zip(fc.series_.ids, fc.series_.values, fc.cuts_, strict=True):
        y = v[:c, 0]
        part = frame[frame["id"] == sid]
        expect.append(np.abs(part["actual"] - part["mean"]) / np.mean(np.abs(y[1:] - y[:-1])))
    np.testing.assert_allclose(got["mase"], np.mean(np.concatenate(expect)))


# ----------------------------------------------------------------------------- quantiles


def test_the_pinball_loss_by_hand_and_its_minimiser_is_the_quantile():
    from seqnets.forecast.quantiles import pinball

    loss = pinball((0.1, 0.9))
    out = torch.tensor([[1.0, 3.0, 0.0, 5.0]])        # step 1: q10 1, q90 3; step 2: 0, 5
    y = torch.tensor([[2.0, -1.0]])
    # step 1: d = 2 - 1, 2 - 3 -> 0.1 * 1, 0.1 * 1; step 2: d = -1, -6 -> 0.9 * 1, 0.1 * 6
    torch.testing.assert_close(loss(out, y), torch.tensor((0.1 + 0.1 + 0.9 + 0.6) / 4))
    sample = torch.linspace(0, 1, 101)[:, None]          # uniform: the 0.9-quantile is 0.9
    grid = torch.linspace(0, 1, 201)
    one = pinball((0.9,))
    best = grid[torch.stack([one(torch.full_like(sample, g), sample) for g in grid]).argmin()]
    assert abs(float(best) - 0.9) <= 0.01


@pytest.mark.parametrize("model, strategy", [("mlp", "direct"), ("gru", "seq2seq")])
def test_quantile_forecasts_are_monotone_and_calibrated_on_the_held_out_part(model, strategy):
    fc = fit(model=model, window=8, strategy=strategy, scale="window", dropout=0.0,
             uncertainty="quantile", holdout=6, epochs=3)
    for calibrated in (False, True):
        out = fc.predict(calibrated=calibrated)
        cols = ["lower_95", "lower_80", "mean", "upper_80", "upper_95"]
        assert (np.diff(out[cols].to_numpy(), axis=1) >= 0).all()   # never crossing
    frame = fc.holdout_forecasts()
    for name, level in (("80", 0.8), ("95", 0.95)):
        slack = 1e-9 * frame["actual"].abs()
        inside = (frame["actual"] >= frame[f"lower_{name}"] - slack) & \
            (frame["actual"] <= frame[f"upper_{name}"] + slack)
        assert (inside.groupby(frame["step"]).mean() >= level).all()
    result = fc.forecast_origins(fc.series_, [np.array([50]), np.array([50]), np.array([50])])
    np.testing.assert_array_equal(result.mean, result.paths[2])      # the median, not a mean
    assert result.paths.shape[0] == 5                                # the quantiles
    for calibrated in (False, True):  # the bands a backtest scores are nested too
        wide, narrow = result.bands[(0.95, calibrated)], result.bands[(0.8, calibrated)]
        assert (wide["lower_95"] <= narrow["lower_80"]).all()
        assert (wide["upper_95"] >= narrow["upper_80"]).all()


def test_quantile_settings_that_cannot_work_are_refused():
    with pytest.raises(ConfigError, match="quantiles of differences"):
        fit(window=8, strategy="direct", uncertainty="quantile", difference=1)
    with pytest.raises(ConfigError, match="quantiles of differences"):
        fit(model="gru", window=8, strategy="recursive", uncertainty="quantile")
    fc = fit(window=8, strategy="direct", scale="window", uncertainty="quantile")
    with pytest.raises(ConfigError, match="quantile intervals exist for the levels"):
        fc.predict(intervals=(0.9,))


def test_wql_by_hand_and_in_the_backtest():
    from seqnets.forecast import metrics

    y = np.array([[2.0, 4.0]])
    # q 0.5 at 3, 3: pinball 0.5 * 1 each -> 2 * 1 / 6; q 0.9 at 5, 5: 0.1 * 3 + 0.1 * 1
    got = metrics.wql(y, {0.5: np.array([[3.0, 3.0]]), 0.9: np.array([[5.0, 5.0]])})
    assert got == pytest.approx((2 * 1.0 / 6 + 2 * 0.4 / 6) / 2)
    with pytest.raises(ConfigError, match="at least one quantile"):
        metrics.wql(y, {})
    with pytest.raises(ConfigError, match="quantile levels"):
        metrics.wql(y, {1.5: y})
    fc = fit(window=8, strategy="direct", scale="window", uncertainty="quantile", epochs=2)
    folds = fc.backtest(folds=2)
    model = folds[folds["method"] == "model"]
    assert model["wql"].notna().all() and (model["width_95"] > model["width_80"]).all()
    assert folds.loc[folds["method"] == "naive", "width_80"].isna().all()
    # a point forecast's CRPS is its MASE; a band that holds the value costs less than none
    naive = folds[folds["method"] == "naive"]
    np.testing.assert_allclose(naive["crps"], naive["mase"], rtol=1e-12)
    assert (model["crps"] < model["mase"]).all()


def test_crps_by_hand():
    from seqnets.forecast import metrics

    y = np.array([[2.0, 4.0], [10.0, 10.0]])
    scale = np.array([[1.0], [2.0]])
    # per value, 2 * pinball averaged over q 0.5 (at 3) and 0.9 (at 5):
    # y 2: (1 + 0.6)/2 = 0.8; y 4: (1 + 0.2)/2 = 0.6; y 10: (7 + 9)/2 over scale 2 = 4 each
    q = {0.5: np.full((2, 2), 3.0), 0.9: np.full((2, 2), 5.0)}
    assert metrics.crps(y, q, scale) == pytest.approx((0.8 + 0.6 + 4 + 4) / 4)
    with pytest.raises(ConfigError, match="scale is 0"):
        metrics.crps(y, q, np.zeros((2, 1)))
