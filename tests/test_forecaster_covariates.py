"""Inputs known ahead: ``future=`` columns and calendar features (forecast/covariates.py)."""

import numpy as np
import pandas as pd
import pytest

from seqnets import Forecaster
from seqnets.data import SeriesSet
from seqnets.errors import ConfigError, DataError
from seqnets.forecast import covariates as cov
from seqnets.forecast.backtesting import default_season

H = 7
FAST = dict(model="mlp", window=21, horizon=H, strategy="direct", epochs=25, dropout=0.0,
            uncertainty="conformal", holdout=20)


def promotions(n: int = 300, seed: int = 0, ids=("a",)) -> pd.DataFrame:
    """Daily sales: a weekly cycle plus a jump of 5 on promotion days (20% of days)."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, sid in enumerate(ids):
        promo = (rng.random(n) < 0.2).astype(float)
        y = 10 + 10 * k + 3 * np.sin(2 * np.pi * np.arange(n) / 7) + 5 * promo + \
            rng.normal(0, 0.3, n)
        parts.append(pd.DataFrame({"shop": sid, "ds": pd.date_range("2021-01-04", periods=n,
                                                                     freq="D"),
                                   "y": y, "promo": promo}))
    return pd.concat(parts, ignore_index=True)


def ahead(frame: pd.DataFrame, n: int = H) -> pd.DataFrame:
    return frame.groupby("shop").tail(n)[["shop", "ds", "promo"]]


def test_model_view_shifts_future_columns_by_the_horizon_and_holds_the_unknown_end():
    idx = pd.date_range("2024-01-01", periods=6, freq="D")
    values = np.column_stack([np.arange(6.0), 10 + np.arange(6.0), 20 + np.arange(6.0)])
    ss = SeriesSet((0,), (idx,), (values,), ("y",), ("temp", "promo"), "D")
    view = cov.model_view(ss, ("promo",), calendar=False, horizon=2)
    assert view.covariates == ("temp", "promo@+2")
    np.testing.assert_array_equal(view.values[0][:, :2], values[:, :2])   # y, temp as read
    np.testing.assert_array_equal(view.values[0][:, 2], [22, 23, 24, 25, 25, 25])
    assert cov.model_view(ss, (), calendar=False, horizon=2) is ss


def test_calendar_features_by_hand_for_half_hourly_steps():
    idx = pd.date_range("2024-01-01 06:00", periods=4, freq="30min")     # a Monday
    ss = SeriesSet((0,), (idx,), (np.zeros((4, 1)),), ("y",), (), "30min")
    view = cov.model_view(ss, (), calendar=True, horizon=12)            # 6 hours ahead
    assert view.covariates == ("day_sin@+12", "day_cos@+12", "week_sin@+12", "week_cos@+12")
    first = view.values[0][0, 1:]        # after the target: the features of 12:00 Monday
    np.testing.assert_allclose(first[:2], [0.0, -1.0], atol=1e-6)       # half the day
    week = 2 * np.pi * 0.5 / 7                                          # Monday noon
    np.testing.assert_allclose(first[2:], [np.sin(week), np.cos(week)], atol=1e-6)
    assert default_season("30min") == 48 and default_season("2h") == 12


def test_calendar_names_follow_the_frequency_and_integer_steps_are_refused():
    assert cov.calendar_names("MS") == ("year_sin", "year_cos")
    assert cov.calendar_names("D")[:2] == ("week_sin", "week_cos")
    with pytest.raises(ConfigError, match="integer steps"):
        cov.calendar_names(1)
    with pytest.raises(ConfigError, match="no features"):
        cov.calendar_names("YS")


def test_future_columns_are_learnt_and_make_the_forecast():
    data = promotions()
    train, last = data.iloc[:-H], data.iloc[-H:]
    plain = Forecaster(**FAST).fit(train[["ds", "y"]])
    known = Forecaster(**FAST, future=("promo",)).fit(train)
    err_plain = np.abs(plain.predict()["mean"].to_numpy() - last["y"].to_numpy()).mean()
    out = known.predict(future=ahead(data)[["ds", "promo"]])
    err_known = np.abs(out["mean"].to_numpy() - last["y"].to_numpy()).mean()
    assert err_known < 0.5 * err_plain, (err_known, err_plain)
    # the forecast follows the promotions given: all on lifts it by about the jump of 5
    on = known.predict(future=ahead(data).assign(promo=1.0)[["ds", "promo"]])
    off = known.predict(future=ahead(data).assign(promo=0.0)[["ds", "promo"]])
    lift = (on["mean"] - off["mean"]).to_numpy()
    assert 3 < lift.mean() < 7, lift


def test_future_columns_are_required_at_predict_time_with_clear_errors(tmp_path):
    data = promotions(ids=("a", "b"))
    fc = Forecaster(**FAST, future=("promo",)).fit(data.groupby("shop").head(250), id="shop")
    table = data.groupby("shop").nth(list(range(250, 257)))[["shop", "ds", "promo"]]
    assert len(fc.predict(future=table)) == 2 * H
    with pytest.raises(ConfigError, match=r"reads \['promo'\] ahead"):
        fc.predict()
    with pytest.raises(DataError, match=r"lacks the column\(s\) \['promo'\]"):
        fc.predict(future=table.drop(columns="promo"))
    with pytest.raises(DataError, match="lacks the column"):
        fc.predict(future=table.drop(columns="shop"))
    with pytest.raises(DataError, match=r"no row for series 'b' at 2021-09-17 \(its"):
        fc.predict(future=table.iloc[:-1])
    with pytest.raises(DataError, match="missing or non-numeric"):
        fc.predict(future=table.assign(promo=np.where(table["shop"] == "a", np.nan, 1.0)))
    with pytest.raises(DataError, match="duplicate times"):
        fc.predict(future=pd.concat([table, table]))
    with pytest.raises(ConfigError, match="DataFrame or a CSV"):
        fc.predict(future=table.to_numpy())
    path = tmp_path / "ahead.csv"
    table.to_csv(path, index=False)
    np.testing.assert_allclose(fc.predict(future=str(path))["mean"],
                               fc.predict(future=table)["mean"], rtol=1e-6)
    plain = Forecaster(**FAST).fit(data, id="shop")
    with pytest.raises(ConfigError, match="fitted without any"):
        plain.predict(future=table)


def test_bad_future_settings_are_refused():
    data = promotions()
    with pytest.raises(DataError, match=r"future= names \['price'\]"):
        Forecaster(**FAST, future=("price",)).fit(Forecaster(**FAST).fit(data).series_)
    with pytest.raises(ConfigError, match="column names"):
        Forecaster(**FAST, future=("promo", "promo")).fit(data)
    with pytest.raises(ConfigError, match="calendar"):
        Forecaster(**FAST, calendar="yes").fit(data)
    with pytest.raises(ConfigError, match="recursive"):
        Forecaster("gru", window=14, horizon=H, strategy="recursive", calendar=True).fit(data)
    with pytest.raises(ConfigError, match="integer steps"):
        Forecaster(**FAST, calendar=True).fit(np.sin(np.arange(200.0)), time=None)


def test_future_and_calendar_survive_save_load_and_newer_history(tmp_path):
    data = promotions()
    fc = Forecaster(**FAST, future="promo", calendar=True).fit(data.iloc[:-2 * H])
    table = data.iloc[-2 * H:-H][["ds", "promo"]]
    before = fc.predict(future=table)
    back = Forecaster.load(fc.save(tmp_path / "shop"))
    assert back.future_names == ("promo",) and back.calendar is True
    np.testing.assert_allclose(back.predict(future=table)["mean"], before["mean"], rtol=1e-6)
    later = back.predict(data=data.iloc[:-H], future=data.iloc[-H:][["ds", "promo"]])
    assert list(later["time"]) == list(data["ds"].iloc[-H:])
    assert np.isfinite(later["upper_95"]).all()
