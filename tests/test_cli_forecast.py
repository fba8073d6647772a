"""The forecasting commands: train -> forecast round trip, backtest, impute, and every
rejection (exit 2, one clear line on stderr, no traceback, nothing written)."""

import numpy as np
import pandas as pd
import pytest

from seqnets import Forecaster
from seqnets.cli import main

N = 60
TINY = ["--window", "8", "--horizon", "3", "--epochs", "1", "--units", "4", "--mc-samples",
        "10", "--quiet", "--short-series", "refuse"]
IMPUTE = ["--window", "8", "--units", "4", "--epochs", "1", "--quiet"]
PNG = b"\x89PNG\r\n\x1a\n"


def frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 10 + np.sin(2 * np.pi * t / 7) + 0.05 * t + rng.normal(0, 0.1, n)
    return pd.DataFrame({"ds": pd.date_range("2000-01-01", periods=n, freq="D"), "y": y})


def write(folder, df: pd.DataFrame, name: str = "data.csv") -> str:
    path = folder / name
    df.to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    data = write(folder, frame())
    assert main(["train", "--data", data, "--out", str(folder / "model"), *TINY]) == 0
    return folder / "model"


# ----------------------------------------------------------------------------- success


def test_train_then_forecast_writes_the_csv_and_the_plot(trained, tmp_path, capsys):
    out, png = tmp_path / "forecast.csv", tmp_path / "forecast.png"
    assert main(["forecast", str(trained), "--out", str(out), "--plot", str(png)]) == 0
    assert "Forecast of 1 series" in capsys.readouterr().out
    fc = pd.read_csv(out, parse_dates=["time"])
    assert list(fc.columns) == ["id", "time", "mean", "lower_80", "upper_80", "lower_95",
                                "upper_95"]
    assert list(fc["time"]) == list(pd.date_range("2000-03-01", periods=3, freq="D"))
    assert (fc["lower_95"] <= fc["lower_80"]).all() and (fc["lower_80"] <= fc["mean"]).all()
    assert (fc["mean"] <= fc["upper_80"]).all() and (fc["upper_80"] <= fc["upper_95"]).all()
    same = Forecaster.load(trained).predict()        # the CSV is the Python API's answer
    np.testing.assert_allclose(fc["mean"], same["mean"], rtol=1e-12)
    assert png.read_bytes()[:8] == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv", "forecast.png"]


def test_forecast_from_newer_data_starts_after_its_end(trained, tmp_path):
    data, out = write(tmp_path, frame(N + 10)), tmp_path / "f.csv"
    assert main(["forecast", str(trained), "--data", data, "--out", str(out),
                 "--intervals", "none"]) == 0
    fc = pd.read_csv(out, parse_dates=["time"])
    assert list(fc.columns) == ["id", "time", "mean"]
    assert fc["time"][0] == pd.Timestamp("2000-03-11")


def test_train_auto_reports_its_choice_and_saves_the_chosen_recipe(tmp_path, capsys):
    data = write(tmp_path, frame())
    out = tmp_path / "auto"
    assert main(["train", "--data", data, "--out", str(out), "--model", "auto", "--horizon",
                 "3", "--epochs", "1", "--units", "4", "--batch-size", "64", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "mlp over windows" in text and "gru seq2seq" in text and "chosen" in text
    assert Forecaster.load(out).model in ("mlp", "gru")


def test_train_with_the_recipe_flags(tmp_path):
    data = write(tmp_path, frame())
    out = tmp_path / "recipe"
    assert main(["train", "--data", data, "--out", str(out), "--model", "mlp", "--strategy",
                 "direct", "--window", "6,9", "--horizon", "3", "--epochs", "1", "--scale",
                 "window", "--loss", "mae", "--ensemble", "2", "--uncertainty", "conformal",
                 "--dropout", "0", "--base", "linear", "--early-stopping", "2",
                 "--quiet"]) == 0
    fc = Forecaster.load(out)
    assert fc.windows == (6, 9) and fc.ensemble == 2 and fc.uncertainty == "conformal"
    assert fc.base == "linear" and fc.base_ is not None and fc.early_stopping == 2
    assert fc.model_.windows == [6, 6, 9, 9]


def test_train_with_future_columns_then_forecast_with_their_values(tmp_path, capsys):
    df = frame(N + 3).assign(promo=np.tile([0.0, 1.0, 0.0], (N + 3) // 3))
    data, ahead = write(tmp_path, df.iloc[:N]), write(tmp_path, df.iloc[N:], "ahead.csv")
    model, out = tmp_path / "promo", tmp_path / "f.csv"
    assert main(["train", "--data", data, "--out", str(model), "--future", "promo",
                 "--calendar", *TINY]) == 0
    fc = Forecaster.load(model)
    assert fc.future_names == ("promo",) and fc.calendar
    assert main(["forecast", str(model), "--out", str(out)]) == 2
    assert "reads ['promo'] ahead" in capsys.readouterr().err and not out.exists()
    assert main(["forecast", str(model), "--out", str(out), "--future", ahead]) == 0
    assert list(pd.read_csv(out)["time"]) == list(df["ds"].iloc[N:].astype(str))


def test_train_without_data_uses_the_first_shipped_dataset(tmp_path, capsys):
    args = ["--window", "8", "--horizon", "2", "--epochs", "1", "--units", "2",
            "--mc-samples", "2", "--quiet"]
    assert main(["train", "--out", str(tmp_path / "co2"), *args]) == 0
    out = capsys.readouterr().out
    assert "shipped dataset 'co2_weekly'" in out and "fill=interpolate" in out
    assert (tmp_path / "co2" / "forecaster.json").exists()


def test_backtest_prints_folds_and_means_and_writes_csv_and_plot(tmp_path, capsys):
    data = write(tmp_path, frame())
    out, png = tmp_path / "bt.csv", tmp_path / "bt.png"
    assert main(["backtest", "--data", data, *TINY, "--folds", "2", "--out", str(out),
                 "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "Mean over 2 folds" in text and "seasonal_naive" in text
    table = pd.read_csv(out)
    assert len(table) == 2 * 4 and set(table["method"]) == {"model", "naive",
                                                             "seasonal_naive", "linear"}
    assert png.read_bytes()[:8] == PNG


def test_backtest_scores_statsforecast_models_beside_the_model(tmp_path, capsys):
    pytest.importorskip("statsforecast", reason="the stats extra (./dev installs it)")
    data, out = write(tmp_path, frame()), tmp_path / "bt.csv"
    assert main(["backtest", "--data", data, *TINY, "--folds", "2", "--stats",
                 "SeasonalNaive", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table["method"][:5]) == ["model", "naive", "seasonal_naive", "linear",
                                         "SeasonalNaive"]
    assert table.loc[table["method"] == "SeasonalNaive", "coverage_80"].between(0, 1).all()


def test_impute_fills_the_gaps_and_keeps_the_rest(tmp_path, capsys):
    df = frame(80)
    df.loc[[10, 11, 12, 40], "y"] = np.nan
    data, out = write(tmp_path, df), tmp_path / "filled.csv"
    assert main(["impute", "--data", data, "--out", str(out), "--window", "16", "--units",
                 "4", "--epochs", "1", "--quiet"]) == 0
    assert "4 missing values in 2 gaps (longest 3 steps)" in capsys.readouterr().out
    filled = pd.read_csv(out)
    assert list(filled.columns) == ["ds", "y", "imputed"]
    assert filled["y"].notna().all() and filled["imputed"].sum() == 4
    kept = df["y"].notna()
    np.testing.assert_allclose(filled["y"][kept], df["y"][kept], rtol=1e-12)  # CSV round trip


# ----------------------------------------------------------------------------- rejections


def _unsorted(df):
    order = [*range(5), 6, 5, *range(7, len(df))]
    return df.iloc[order].reset_index(drop=True)


def _duplicate(df):
    df = df.copy()
    df.loc[7, "ds"] = df.loc[6, "ds"]
    return df


def _missing(df):
    df = df.copy()
    df.loc[10, "y"] = np.nan
    return df


def _text(df):
    df = df.copy().astype({"y": object})
    df.loc[5, "y"] = "abc"
    return df


def _constant(df):
    return df.assign(y=5.0)


BAD_TABLES = {  # case: (table maker, message part, commands that refuse it)
    "unsorted": (_unsorted, "unsorted timestamps", ("train", "backtest", "impute")),
    "duplicate": (_duplicate, "duplicate timestamps", ("train", "backtest", "impute")),
    "missing": (_missing, "missing values", ("train", "backtest")),
    "non-numeric": (_text, "non-numeric target column", ("train", "backtest", "impute")),
    "constant": (_constant, "constant series", ("train", "backtest", "impute")),
    "too-short": (lambda df: df.head(10), "shorter than 14 steps", ("train", "backtest")),
}

OUTPUTS = {"train": ["--out", "{tmp}/out"],
           "backtest": ["--out", "{tmp}/out.csv", "--plot", "{tmp}/out.png"],
           "impute": ["--out", "{tmp}/out.csv"]}


def refused(capsys, tmp_path, argv: list[str], message: str) -> str:
    """Run the command, check the rejection, and that nothing but the inputs is there."""
    before = set(tmp_path.iterdir())
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("seqnets: error: ") and message in err, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert set(tmp_path.iterdir()) == before       # no output file, no temporary file
    return err


@pytest.mark.parametrize("case, command", [(case, command) for case, (*_, commands)
                                           in BAD_TABLES.items() for command in commands])
def test_bad_tables_are_refused_and_nothing_is_written(case, command, tmp_path, capsys):
    make, message, _ = BAD_TABLES[case]
    data = write(tmp_path, make(frame()))
    extra = TINY if command != "impute" else ["--epochs", "1", "--quiet"]
    refused(capsys, tmp_path, [command, "--data", data, *extra, *OUTPUTS[command]], message)


@pytest.mark.parametrize("command", ["train", "backtest", "impute"])
def test_a_missing_column_is_named(command, tmp_path, capsys):
    data = write(tmp_path, frame())
    err = refused(capsys, tmp_path, [command, "--data", data, "--target", "sales",
                                     *OUTPUTS[command]], "missing column 'sales' (target)")
    assert "'ds', 'y'" in err


@pytest.mark.parametrize("command", ["train", "backtest", "impute"])
def test_unreadable_and_absent_files_are_refused(command, tmp_path, capsys):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet\x00\x01")
    refused(capsys, tmp_path, [command, "--data", str(broken), *OUTPUTS[command]],
            "cannot read")
    refused(capsys, tmp_path, [command, "--data", str(tmp_path / "nope.csv"),
                               *OUTPUTS[command]], "file not found")


def test_forecast_without_a_saved_model_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for folder in ("missing", "empty"):
        refused(capsys, tmp_path, ["forecast", str(tmp_path / folder), "--out",
                                   "{tmp}/f.csv", "--plot", "{tmp}/f.png"],
                "holds no saved Forecaster")


def test_forecast_refuses_bad_levels_and_other_series(trained, tmp_path, capsys):
    refused(capsys, tmp_path, ["forecast", str(trained), "--out", "{tmp}/f.csv",
                               "--intervals", "0.8,1.5"], "interval levels must be numbers")
    two = pd.concat([frame().assign(store=s) for s in ("a", "b")], ignore_index=True)
    data = write(tmp_path, two)
    refused(capsys, tmp_path, ["forecast", str(trained), "--data", data, "--id", "store",
                               "--out", "{tmp}/f.csv"], "the model was trained on series")


@pytest.mark.parametrize("args, message", [
    (["--horizon", "0"], "horizon must be a positive integer"),
    (["--model", "linear"], "has a fixed output size"),
    (["--window", "8,8"], "several different ones"),
    (["--ensemble", "0"], "ensemble must be a positive integer"),
    (["--dataset", "nope"], "no dataset 'nope'"),
    (["--dataset", "elnino_monthly", "--id", "store"], "describe a --data file"),
])
def test_bad_settings_are_refused_before_training(args, message, tmp_path, capsys):
    refused(capsys, tmp_path, ["train", *args, "--out", "{tmp}/out"], message)


def test_an_output_of_the_wrong_kind_is_refused_first(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    refused(capsys, tmp_path, ["train", "--out", str(tmp_path / "file")], "is a file")
    refused(capsys, tmp_path, ["impute", "--out", str(tmp_path)], "is a folder")


@pytest.mark.parametrize("command", ["train", "forecast", "backtest", "impute"])
def test_an_existing_output_is_kept_unless_force(command, trained, tmp_path, capsys):
    data = write(tmp_path, frame())
    if command == "train":
        out = tmp_path / "model"
        out.mkdir()
        (out / "keep.txt").write_text("mine")
        argv = ["train", "--data", data, *TINY, "--out", str(out)]
    else:
        out = tmp_path / "out.csv"
        out.write_text("mine")
        argv = ([command, str(trained)] if command == "forecast" else
                [command, "--data", data, *(TINY if command == "backtest" else IMPUTE)])
        argv += ["--out", str(out)]
    refused(capsys, tmp_path, argv, f"{out} exists; pass --force to replace it")
    assert (out / "keep.txt" if out.is_dir() else out).read_text() == "mine"
    assert main([*argv, "--force"]) == 0
    if command == "train":
        Forecaster.load(out)
    else:
        assert pd.read_csv(out).shape[0] > 0


def test_data_and_dataset_together_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", "a.csv", "--dataset", "co2_weekly", "--out", "x"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_window_that_is_not_a_list_of_lengths_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--window", "8,x", "--out", "x"])
    assert info.value.code == 2
    assert "several such as 18,27,36" in capsys.readouterr().err


def test_benchmark_forecast_on_a_shipped_dataset_and_on_a_competition(tmp_path, capsys):
    import json

    out = tmp_path / "bench.json"
    flags = ["--model", "mlp", "--strategy", "direct", "--window", "12", "--horizon", "4",
             "--epochs", "1", "--dropout", "0", "--uncertainty", "conformal", "--quiet"]
    assert main(["benchmark", "forecast", "--dataset", "elnino_monthly", "--folds", "2",
                 *flags, "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"seqnets mlp", "naive", "seasonal_naive", "linear"}
    assert 0 < rows["seqnets mlp"]["mase"] and 0 <= rows["seqnets mlp"]["coverage_80"] <= 1
    # a competition's statistical side, as the tools-side script writes it (here by hand)
    rng = np.random.default_rng(0)
    series = [{"id": f"s{i}", "train": list(10 + rng.normal(size=40)),
               "test": list(10 + rng.normal(size=18))} for i in range(3)]
    flat = [[10.0] * 18] * 3
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps({"series": series, "horizon": 18, "models": {
        "Flat": {"seconds": 0.1, "mean": flat, "lower_80": flat, "upper_80": flat,
                 "lower_95": flat, "upper_95": flat}}}))
    flags[flags.index("--horizon") + 1] = "18"
    assert main(["benchmark", "forecast", "--dataset", "m1_monthly", "--tools-json",
                 str(tools), *flags, "--out", str(out), "--force"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"seqnets mlp", "seqnets linear", "Flat"}
    actual = np.array([s["test"] for s in series])
    assert rows["Flat"]["smape"] == pytest.approx(
        np.mean(200 * np.abs(actual - 10) / (np.abs(actual) + 10)))
    assert rows["Flat"]["coverage_80"] == 0.0
    capsys.readouterr()
    assert main(["benchmark", "forecast", "--dataset", "m1_monthly", *flags]) == 2
    assert "--tools-python" in capsys.readouterr().err
    assert main(["benchmark", "forecast", "--dataset", "m1_monthly", "--tools-json",
                 str(tools), *flags[:-1], "--horizon", "6"]) == 2
