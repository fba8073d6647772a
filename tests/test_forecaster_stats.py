"""statsforecast's models beside the Forecaster in ``backtest(stats=...)`` (the stats extra)."""

import sys

import numpy as np
import pytest

from seqnets import Forecaster
from seqnets.errors import ConfigError, DataError
from seqnets.forecast import statistical
from seqnets.forecast.backtesting import METHODS, summary
from test_forecaster import SMALL, H, table  # tests/ is on sys.path (rootdir)

pytest.importorskip("statsforecast",
                    reason="the stats extra: pip install -e '.[stats]' (./dev installs it)")


@pytest.fixture(scope="module")
def fitted():
    return Forecaster("gru", holdout=3, **SMALL).fit(table(), id="store")


def test_statsforecast_seasonal_naive_scores_as_the_built_in_one(fitted):
    out = fitted.backtest(folds=2, step=2, stats=("SeasonalNaive",))
    assert list(out["method"][:5]) == [*METHODS, "SeasonalNaive"]
    ours = out[out["method"] == "seasonal_naive"].reset_index(drop=True)
    theirs = out[out["method"] == "SeasonalNaive"].reset_index(drop=True)
    # the same forecast by two implementations: the same errors
    for col in ("mae", "rmse", "smape", "mase"):
        np.testing.assert_allclose(theirs[col], ours[col], rtol=1e-9)
    # its own intervals are scored like the model's; there is no raw/calibrated pair
    for col in ("coverage_80", "coverage_95"):
        assert theirs[col].between(0, 1).all()
    assert theirs["raw_coverage_80"].isna().all() and (theirs["width_95"] > 0).all()
    assert (theirs["width_95"] > theirs["width_80"]).all()
    assert np.isfinite(theirs["wql"]).all() and np.isfinite(theirs["crps"]).all()
    assert list(summary(out).index) == [*METHODS, "SeasonalNaive"]


def test_each_statistical_fit_sees_the_series_up_to_its_origin_only(fitted, monkeypatch):
    seen = []
    real = statistical.forecasts

    def record(name, histories, horizon, season, levels):
        seen.append([len(h) for h in histories])
        for h in histories:    # each the start of a series, cut at its origin
            assert any(np.array_equal(v[:len(h), 0], h) for v in fitted.series_.values)
        return real(name, histories, horizon, season, levels)

    monkeypatch.setattr(statistical, "forecasts", record)
    folds, step = 2, 2
    fitted.backtest(folds=folds, step=step, stats=("SeasonalNaive",))
    n = fitted.series_.lengths[0]
    for k, lengths in enumerate(seen):
        cut = n - H - (folds - k) * step + 1
        assert lengths == [cut, cut + 1] * 2      # two series, two origins each


def test_bad_stats_are_refused_clearly(fitted, monkeypatch):
    with pytest.raises(ConfigError, match="unknown statsforecast model.*AutoETS"):
        fitted.backtest(folds=2, step=2, stats=("ETS",))
    with pytest.raises(ConfigError, match="named twice"):
        fitted.backtest(folds=2, step=2, stats=("SeasonalNaive", "SeasonalNaive"))
    with pytest.raises(ConfigError, match="MSTL needs a season"):
        statistical.forecasts("MSTL", [np.arange(30.0)], 4, 1, (0.8,))
    with pytest.raises(DataError, match="missing values"):
        statistical.forecasts("SeasonalNaive", [np.array([1.0, np.nan, 2.0])], 2, 1, (0.8,))
    monkeypatch.setitem(sys.modules, "statsforecast", None)   # as if not installed
    with pytest.raises(ConfigError, match=r"seqnets\[stats\]"):
        statistical.forecasts("AutoETS", [np.arange(30.0)], 4, 12, (0.8,))


def test_a_single_name_is_one_model():
    assert statistical.check_models("AutoETS") == ("AutoETS",)
    assert statistical.check_models(None) == ()


@pytest.mark.slow
def test_auto_ets_beats_naive_on_a_seasonal_series(fitted):
    row = summary(fitted.backtest(folds=2, step=2, stats=("AutoETS",))).loc["AutoETS"]
    assert row["mase"] < summary(fitted.backtest(folds=2, step=2)).loc["naive", "mase"]
