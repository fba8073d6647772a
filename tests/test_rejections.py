"""Issue 4: every rejection of a bad table, through the Python API and through the CLI.

Each message names the problem, where it is (the file, the column, the series) and which rows
or positions, and the fix. The CLI prints it as one line without a traceback, exits with 2
and writes nothing. The repairs the fixes point to (``sort=True``, ``resample=``, ``fill=``)
are accepted on request.
"""

import numpy as np
import pandas as pd
import pytest

from seqnets import Forecaster
from seqnets.cli import as_flags, main
from seqnets.data import read_series
from seqnets.errors import DataError
from seqnets.forecast.imputation import Imputer

N = 40
WINDOW, HORIZON = 8, 3
FAST = dict(window=WINDOW, horizon=HORIZON, epochs=1, mc_samples=5, model_options={"units": 4},
            short_series="refuse")  # a too-short series is one of the refusals checked
TINY = ["--window", str(WINDOW), "--horizon", str(HORIZON), "--epochs", "1", "--units", "4",
        "--mc-samples", "5", "--quiet", "--short-series", "refuse"]
IMPUTE = ["--window", "8", "--units", "4", "--epochs", "1", "--quiet"]


def frame(n: int = N) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"ds": pd.date_range("2000-01-01", periods=n, freq="D"),
                         "y": 10 + np.sin(t) + 0.05 * t})


def _unsorted(df):
    return df.iloc[[0, 1, 2, 4, 3, *range(5, len(df))]].reset_index(drop=True)


def _duplicate(df):
    return df.iloc[[*range(7), 6, *range(7, len(df))]].reset_index(drop=True)  # row 6 twice


def _irregular(df):
    return df.drop(index=[10]).reset_index(drop=True)


def _missing(df):
    df = df.copy()
    df.loc[[5, 9], "y"] = np.nan
    return df


def _text(df):
    df = df.copy()
    df["y"] = df["y"].map(repr)  # every cell a string (Parquet keeps one type per column)
    df.loc[5, "y"] = "abc"
    return df


def _short(df):
    return df.head(10)


def _constant(df):
    return df.assign(y=5.0)


# case: (table maker, message parts, CSV line parts, commands that refuse it)
# The parts hold the problem, the column, the rows or positions, and the fix; the file is
# checked on its own. A too-short series is refused for the window + horizon, so `impute`
# (no horizon) and an Imputer take it; missing values are what they fill.
CASES = {
    "unsorted": (_unsorted, ["unsorted timestamps", "column 'ds'",
                             "row 4", "(2000-01-04) comes after row 3", "(2000-01-05)",
                             "Fix: sort the table", "sort=True"],
                 ["(line 6)", "(line 5)"], ("train", "backtest", "impute")),
    "duplicate": (_duplicate, ["duplicate timestamps", "column 'ds'", "rows 6, 7",
                               "share 2000-01-07", "Fix: drop or aggregate the duplicates",
                               "resample='<freq>'"],
                  ["(lines 8, 9)"], ("train", "backtest", "impute")),
    "irregular": (_irregular, ["irregular timestamps", "column 'ds'", "most steps are 'D'",
                               "1 timestamp is missing: 2000-01-11 after row 9",
                               "Fix: pass resample='D'", "fill='interpolate'"],
                  ["(line 11)"], ("train", "backtest", "impute")),
    "missing": (_missing, ["missing values", "column 'y'", "2 missing at",
                           "2000-01-06 (row 5", "2000-01-10 (row 9",
                           "Fix: pass fill='interpolate'", "fill='ffill'"],
                ["(line 7)", "(line 11)"], ("train", "backtest")),
    "non-numeric": (_text, ["non-numeric target column", "column 'y'", "row 5", "holds 'abc'",
                            "Fix: clean those values", "pd.to_numeric"],
                    ["(line 7)"], ("train", "backtest", "impute")),
    "too-short": (_short, ["series shorter than 14 steps (window 8 + 3 target step(s) + 3 for the "
                           "held-out origins of horizon 3)", "the series (10 steps)",
                           "Fix: give more history", "shorter window, horizon or holdout"],
                  [], ("train", "backtest")),
    "constant": (_constant, ["constant series", "column 'y'", "every value 5",
                             "Fix: drop those series"],
                 [], ("train", "backtest", "impute")),
}
IMPUTER_REFUSES = [c for c, (*_, commands) in CASES.items() if "impute" in commands]


def write(folder, df: pd.DataFrame, name: str) -> str:
    path = folder / name
    df.to_csv(path, index=False) if name.endswith(".csv") else df.to_parquet(path, index=False)
    return str(path)


def says(message: str, parts) -> None:
    for part in parts:
        assert part in message, f"{part!r} not in: {message}"


# ----------------------------------------------------------------------------- Python API


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("case", list(CASES))
def test_forecaster_fit_refuses_a_bad_file(case, suffix, tmp_path):
    make, parts, lines, _ = CASES[case]
    path = write(tmp_path, make(frame()), f"bad{suffix}")
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(path)
    message = str(info.value)
    says(message, [f"in '{path}'", *parts, *(lines if suffix == ".csv" else [])])
    if suffix == ".parquet":
        assert "(line" not in message  # line numbers are for text files only


@pytest.mark.parametrize("case", IMPUTER_REFUSES)
def test_imputer_fit_refuses_a_bad_file(case, tmp_path):
    make, parts, lines, _ = CASES[case]
    path = write(tmp_path, make(frame()), "bad.csv")
    with pytest.raises(DataError) as info:
        Imputer(window=8, units=4, epochs=1).fit(path)
    says(str(info.value), [f"in '{path}'", *parts, *lines])


LONG_CASES = {  # series 'b' of a long table (id column 'store') is the bad one
    "unsorted": (_unsorted, ["unsorted timestamps", "series 'b'", "row 44", "comes after "
                             "row 43", "df.sort_values(['store', 'ds'])", "sort=True"]),
    "duplicate": (_duplicate, ["duplicate timestamps", "series 'b'", "rows 46, 47",
                               "df.groupby(['store', 'ds'])", "resample="]),
    "irregular": (_irregular, ["irregular timestamps", "series 'b'", "2000-01-11 after row 49",
                               "resample='D'"]),
    "missing": (_missing, ["missing values", "column 'y', series 'b'", "(row 45)", "(row 49)",
                           "fill='interpolate'"]),
    "non-numeric": (_text, ["non-numeric target column", "column 'y'", "row 45",
                            "holds 'abc'", "Fix:"]),
    "too-short": (_short, ["shorter than 14 steps (window 8", "'b' (10 steps)",
                           "shorter window, horizon or holdout"]),
    "constant": (_constant, ["constant series", "series 'b' (target 'y', every value 5)",
                             "Fix: drop those series"]),
}


@pytest.mark.parametrize("case", list(LONG_CASES))
def test_a_long_dataframe_names_the_bad_series(case):
    make, parts = LONG_CASES[case]
    a, b = frame().assign(store="a"), make(frame()).assign(store="b")
    if case == "non-numeric":
        a["y"] = a["y"].map(repr)  # one column, one dtype: the text is in the whole column
    df = pd.concat([a, b], ignore_index=True)
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(df, id="store")
    says(str(info.value), ["in the DataFrame", *parts])


def test_a_wide_table_names_the_bad_column(tmp_path):
    df = frame().rename(columns={"y": "north"}).assign(south=np.cos(np.arange(N)))
    gaps = df.copy()
    gaps.loc[12, "south"] = np.nan
    path = write(tmp_path, gaps, "wide.csv")
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(path, target=None, wide=True)
    says(str(info.value), ["missing values", f"in '{path}'", "column 'south'",
                           "2000-01-13 (row 12 (line 14))", "fill='interpolate'"])
    with pytest.raises(DataError) as info:
        read_series(df.assign(south=3.0), wide=True)
    says(str(info.value), ["constant series in the DataFrame", "column 'south' (every value 3)",
                           "Fix: drop those series"])
    assert "'y'" not in str(info.value)  # a wide table has no column y
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(df.head(10), target=None, wide=True)
    says(str(info.value), ["shorter than 14 steps (window 8", "'north' (10 steps)",
                           "'south' (10 steps)", "shorter window, horizon or holdout"])


def test_a_numpy_array_names_the_positions():
    y = 10 + np.sin(np.arange(N))
    y[[3, 17]] = np.nan
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(y)
    says(str(info.value), ["missing values in the array", "column 'y'", "2 missing at",
                           "3 (row 3)", "17 (row 17)", "fill='interpolate'"])
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(np.full(N, 2.0))
    says(str(info.value), ["constant series in the array", "column 'y' (every value 2)"])
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(np.arange(10.0))
    says(str(info.value), ["shorter than 14 steps (window 8", "the series (10 steps)"])


def test_a_non_numeric_covariate_is_named(tmp_path):
    df = frame().assign(price=["1.5"] * N)
    df.loc[[2, 30], "price"] = ["cheap", "dear"]
    path = write(tmp_path, df, "prices.csv")
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(path, covariates="price")
    says(str(info.value), ["non-numeric covariate column", f"in '{path}'", "column 'price'",
                           "rows 2, 30 (lines 4, 32) hold 'cheap', 'dear'", "Fix:"])


# ----------------------------------------------------------------------------- opt-ins


@pytest.mark.parametrize("case, options", [
    ("unsorted", {"sort": True}),
    ("duplicate", {"resample": "D"}),
    ("irregular", {"resample": "D", "fill": "interpolate"}),
    ("missing", {"fill": "interpolate"}),
    ("missing", {"fill": "ffill"}),
])
def test_the_repairs_named_in_the_fixes_are_accepted(case, options):
    fc = Forecaster("gru", **FAST).fit(CASES[case][0](frame()), **options)
    assert fc.series_.freq == "D" and not np.isnan(fc.series_.values[0]).any()
    assert len(fc.predict(intervals=())) == HORIZON


def test_resampling_without_fill_names_the_empty_steps():
    with pytest.raises(DataError) as info:
        Forecaster("gru", **FAST).fit(_irregular(frame()), resample="D")
    says(str(info.value), ["missing values", "column 'y'", "1 missing at 2000-01-11",
                           "steps the resampling left empty", "fill='interpolate'"])


# ----------------------------------------------------------------------------- CLI


OUTPUTS = {"train": ["--out", "{tmp}/model"],
           "backtest": ["--out", "{tmp}/bt.csv", "--plot", "{tmp}/bt.png"],
           "impute": ["--out", "{tmp}/filled.csv"]}


def refused(capsys, tmp_path, argv: list[str]) -> str:
    """Run the command; exit 2, one line on stderr, no traceback, no file added."""
    before = set(tmp_path.iterdir())
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 2, captured
    assert err.startswith("seqnets: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err + captured.out
    assert set(tmp_path.iterdir()) == before  # no output, no temporary file
    return err


@pytest.mark.parametrize("case, command", [(case, command) for case, (*_, commands)
                                           in CASES.items() for command in commands])
def test_the_cli_refuses_a_bad_csv_and_writes_nothing(case, command, tmp_path, capsys):
    make, parts, lines, _ = CASES[case]
    data = write(tmp_path, make(frame()), "bad.csv")
    extra = IMPUTE if command == "impute" else TINY
    err = refused(capsys, tmp_path, [command, "--data", data, *extra, *OUTPUTS[command]])
    says(err, [f"in '{data}'", *map(as_flags, parts), *lines])


@pytest.mark.parametrize("case", ["irregular", "missing", "constant"])
def test_the_cli_refuses_a_bad_parquet_file(case, tmp_path, capsys):
    make, parts, *_ = CASES[case]
    data = write(tmp_path, make(frame()), "bad.parquet")
    err = refused(capsys, tmp_path, ["train", "--data", data, *TINY, *OUTPUTS["train"]])
    says(err, [f"in '{data}'", *map(as_flags, parts)])


def test_the_cli_names_the_bad_series_of_a_long_table(tmp_path, capsys):
    df = pd.concat([frame().assign(store="a"), _irregular(frame()).assign(store="b")],
                   ignore_index=True)
    data = write(tmp_path, df, "stores.csv")
    for command in ("train", "backtest", "impute"):
        extra = IMPUTE if command == "impute" else TINY
        err = refused(capsys, tmp_path, [command, "--data", data, "--id", "store", *extra,
                                         *OUTPUTS[command]])
        says(err, [f"irregular timestamps in '{data}', column 'ds', series 'b'",
                   "2000-01-11 after row 49 (line 51)", "--resample D"])


def test_the_cli_fills_missing_values_on_request(tmp_path, capsys):
    data = write(tmp_path, _missing(frame()), "gaps.csv")
    assert main(["train", "--data", data, "--fill", "interpolate", *TINY,
                 "--out", str(tmp_path / "model")]) == 0
    assert "1 series of 40 steps" in capsys.readouterr().out
    assert (tmp_path / "model" / "forecaster.json").exists()


def test_cli_messages_name_flags_not_python_options():
    assert as_flags("Fix: pass fill='interpolate' or fill='ffill'") == \
        "Fix: pass --fill interpolate or --fill ffill"
    assert as_flags("sort the table, or pass sort=True") == "sort the table, or pass --sort"
    assert as_flags("pass resample='<freq>' (agg='mean')") == \
        "pass --resample <freq> (--agg mean)"
    assert as_flags("errors='coerce' and wide=True") == "errors='coerce' and --wide"


@pytest.mark.parametrize("case, flags", [
    ("unsorted", ["--sort"]),
    ("duplicate", ["--resample", "D", "--agg", "max"]),
    ("irregular", ["--resample", "D", "--fill", "interpolate"]),
])
def test_the_cli_repairs_on_request(case, flags, tmp_path, capsys):
    data = write(tmp_path, CASES[case][0](frame()), "repair.csv")
    assert main(["train", "--data", data, *flags, *TINY,
                 "--out", str(tmp_path / "model")]) == 0
    assert "1 series of 40 steps (freq D)" in capsys.readouterr().out
    assert main(["backtest", "--data", data, *flags, *TINY, "--folds", "2"]) == 0


def test_the_cli_reads_a_wide_table(tmp_path, capsys):
    df = frame().rename(columns={"y": "north"}).assign(south=lambda d: d["north"] * 2 + 1)
    data = write(tmp_path, df, "wide.csv")
    assert main(["train", "--data", data, "--wide", *TINY,
                 "--out", str(tmp_path / "model")]) == 0
    assert "2 series of 40 steps" in capsys.readouterr().out
    out = tmp_path / "f.csv"
    assert main(["forecast", str(tmp_path / "model"), "--data", data, "--wide",
                 "--intervals", "none", "--out", str(out)]) == 0
    assert set(pd.read_csv(out)["id"]) == {"north", "south"}


def test_the_imputer_sorts_and_resamples_on_request(tmp_path, capsys):
    irregular = _irregular(frame())  # 2000-01-11 has no row: a gap of one step to fill
    filled = Imputer(window=8, units=4, epochs=1).fit(irregular, resample="D").fill()
    assert len(filled) == N and filled["imputed"].sum() == 1
    assert filled.loc[filled["imputed"], "ds"].tolist() == [pd.Timestamp("2000-01-11")]
    kept = filled[~filled["imputed"]]
    np.testing.assert_array_equal(kept["y"].to_numpy(), irregular["y"].to_numpy())  # as given
    shuffled = Imputer(window=8, units=4, epochs=1).fit(_unsorted(frame()), sort=True).fill()
    np.testing.assert_array_equal(shuffled["y"].to_numpy(), frame()["y"].to_numpy())
    data = write(tmp_path, irregular, "irregular.csv")
    assert main(["impute", "--data", data, "--resample", "D", *IMPUTE,
                 "--out", str(tmp_path / "filled.csv")]) == 0
    assert "1 missing values in 1 gaps" in capsys.readouterr().out
