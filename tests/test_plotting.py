"""Plots: real PNG files, written atomically (no temporary file left, nothing on failure)."""

import numpy as np
import pandas as pd
import pytest

from seqnets import plotting
from seqnets.data import read_series
from seqnets.errors import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"
H = 6


def history(ids=("a",)) -> pd.DataFrame:
    t = pd.date_range("2020-01-01", periods=40, freq="D")
    return pd.concat([pd.DataFrame({"id": sid, "time": t, "y": np.sin(np.arange(40) / 4) + k})
                      for k, sid in enumerate(ids)], ignore_index=True)


def forecast(ids=("a",)) -> pd.DataFrame:
    t = pd.date_range("2020-02-10", periods=H, freq="D")
    parts = []
    for k, sid in enumerate(ids):
        mean = np.sin(np.arange(40, 40 + H) / 4) + k
        width = np.linspace(0.1, 0.4, H)
        parts.append(pd.DataFrame({"id": sid, "time": t, "mean": mean,
                                   "lower_80": mean - width, "upper_80": mean + width,
                                   "lower_95": mean - 2 * width, "upper_95": mean + 2 * width}))
    return pd.concat(parts, ignore_index=True)


def only_png(folder, name: str) -> None:
    """The folder holds exactly the one PNG: no temporary file is left behind."""
    assert [p.name for p in folder.iterdir()] == [name]
    assert (folder / name).read_bytes()[:8] == PNG


def test_forecast_plot_from_a_frame_with_actuals(tmp_path):
    actual = forecast().rename(columns={"mean": "y"})[["id", "time", "y"]]
    path = plotting.forecast_plot(history(), forecast(), tmp_path / "f.png", actuals=actual,
                                  last=20)
    assert path == tmp_path / "f.png"
    only_png(tmp_path, "f.png")


def test_forecast_plot_from_a_series_set_or_arrays(tmp_path):
    h = history()
    ss = read_series(h.drop(columns="id"), time="time", target="y")
    one = forecast().assign(id=0)
    plotting.forecast_plot(ss, one, tmp_path / "ss.png")
    plotting.forecast_plot((h["time"], h["y"]), one.drop(columns=["lower_95", "upper_95"]),
                           tmp_path / "arrays.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["arrays.png", "ss.png"]


def test_forecast_plot_of_several_series_overwrites_atomically(tmp_path):
    ids = ("a", "b", "c")
    for _ in range(2):
        plotting.forecast_plot(history(ids), forecast(ids), tmp_path / "many.png")
    only_png(tmp_path, "many.png")


def test_a_failed_plot_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="no column"):
        plotting.forecast_plot(history().drop(columns="y"), forecast(), tmp_path / "x.png")
    with pytest.raises(ConfigError, match="one series"):
        plotting.forecast_plot(([1, 2], [3.0, 4.0]), forecast(("a", "b")), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_backtest_errors_with_and_without_coverage(tmp_path):
    rows = []
    for fold in range(3):
        for method, mase in (("model", 0.8), ("naive", 1.2), ("seasonal_naive", 1.0),
                             ("linear", 0.9)):
            model = method == "model"
            rows.append({"fold": fold, "method": method, "origins": 10, "mae": mase * 2,
                         "mase": mase + 0.1 * fold,
                         "coverage_80": 0.82 if model else np.nan,
                         "raw_coverage_80": 0.6 if model else np.nan})
    frame = pd.DataFrame(rows)
    plotting.backtest_errors(frame, tmp_path / "bt.png")
    only_png(tmp_path, "bt.png")
    plotting.backtest_errors(frame[["fold", "method", "mae"]], tmp_path / "bt.png")
    only_png(tmp_path, "bt.png")
    with pytest.raises(ConfigError, match="no column 'rmse'"):
        plotting.backtest_errors(frame, tmp_path / "other.png", metric="rmse")
    only_png(tmp_path, "bt.png")
    steps = pd.concat([frame.assign(step=h, mase=frame["mase"] * h, rmse=1.0)
                       for h in (1, 2, 3)], ignore_index=True)
    plotting.backtest_errors(steps, tmp_path / "bt.png")  # per fold, per step, coverage
    only_png(tmp_path, "bt.png")


def test_learning_curves_still_write_a_png(tmp_path):
    curves = {"gru": {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4]}}
    plotting.learning_curves(curves, tmp_path / "lc.png")
    only_png(tmp_path, "lc.png")


def test_check_available_passes_with_matplotlib():
    plotting.check_available()
