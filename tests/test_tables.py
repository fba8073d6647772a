"""read_series: formats in, one validated SeriesSet out; every refusal names the problem,
the place (file, column, series, rows) and the fix."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from seqnets.data import SeriesSet, read_series
from seqnets.errors import ConfigError, DataError


def frame(n=10, freq="D", start="2021-01-01", **cols):
    data = {"ds": pd.date_range(start, periods=n, freq=freq)}
    data["y"] = cols.pop("y", np.arange(n, dtype=float) ** 1.5)
    data.update(cols)
    return pd.DataFrame(data)


def long_frame():
    a = frame(8, y=np.arange(8.0), price=np.linspace(1, 2, 8))
    b = frame(6, start="2021-01-03", y=np.arange(6.0) ** 2, price=np.linspace(3, 4, 6))
    return pd.concat([a.assign(store="a"), b.assign(store="b")], ignore_index=True)


# ----------------------------------------------------------------------------- formats


def test_long_format_with_ids_covariates_and_frequency():
    ss = read_series(long_frame(), id="store", covariates="price", min_length=5)
    assert isinstance(ss, SeriesSet)
    assert ss.ids == ("a", "b") and ss.freq == "D" and ss.lengths == (8, 6)
    assert ss.targets == ("y",) and ss.covariates == ("price",) and ss.columns == ("y", "price")
    assert ss.values[1].dtype == np.float32 and ss.values[1].shape == (6, 2)
    np.testing.assert_array_equal(ss.targets_of(1)[:, 0], np.arange(6.0) ** 2)
    np.testing.assert_allclose(ss.covariates_of(0)[:, 0], np.linspace(1, 2, 8), rtol=1e-6)
    assert ss.index[1][0] == pd.Timestamp("2021-01-03") and ss.index[1].freqstr == "D"
    assert ss.position("b") == 1
    assert list(ss.future_index(0, 2)) == [pd.Timestamp("2021-01-09"),
                                           pd.Timestamp("2021-01-10")]


def test_multivariate_target():
    df = frame(12, temp=np.sin(np.arange(12.0)), load=np.cos(np.arange(12.0)))
    ss = read_series(df, target=["y", "temp"], covariates=["load"])
    assert ss.n_targets == 2 and ss.n_covariates == 1 and ss.values[0].shape == (12, 3)
    np.testing.assert_allclose(ss.targets_of(0)[:, 1], np.sin(np.arange(12.0)), rtol=1e-6)


def test_wide_format_with_shared_covariate_and_time_index():
    df = frame(9, y=np.arange(9.0), north=np.arange(9.0) ** 2, hol=(np.arange(9) % 7 == 0) * 1.0)
    wide = df.drop(columns="ds").set_index(df["ds"].rename("when"))
    ss = read_series(wide, time=None, wide=True, covariates="hol")
    assert ss.ids == ("y", "north") and ss.targets == ("y",) and ss.covariates == ("hol",)
    np.testing.assert_array_equal(ss.values[1][:, 0], np.arange(9.0) ** 2)
    np.testing.assert_array_equal(ss.values[0][:, 1], ss.values[1][:, 1])
    back = ss.to_frame()
    assert list(back.columns) == ["id", "ds", "y", "hol"] and len(back) == 18


def test_time_column_found_in_the_index_by_name():
    df = frame(5).set_index("ds")
    assert read_series(df, time="ds").index[0].name == "ds"


def test_numpy_arrays_and_pandas_series():
    ss = read_series(np.arange(6.0))
    assert ss.ids == (0,) and ss.freq == 1 and isinstance(ss.index[0], pd.RangeIndex)
    two = read_series(np.c_[np.arange(6.0), np.arange(6.0) ** 2], target="a", covariates="b")
    assert two.targets == ("a",) and two.covariates == ("b",)
    wide = read_series(np.c_[np.arange(6.0), -np.arange(6.0)], wide=True)
    assert wide.ids == (0, 1)
    s = pd.Series(np.arange(7.0), index=pd.date_range("2020", periods=7, freq="h"), name="kw")
    ss = read_series(s)
    assert ss.targets == ("kw",) and ss.freq == "h"


def test_integer_time_steps_keep_their_step():
    df = pd.DataFrame({"t": [10, 15, 20, 25], "y": [1.0, 2.0, 4.0, 3.0]})
    ss = read_series(df, time="t")
    assert ss.freq == 5 and list(ss.index[0]) == [10, 15, 20, 25]
    assert list(ss.future_index(0, 2)) == [30, 35]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_round_trip(tmp_path, suffix):
    df = long_frame()
    path = tmp_path / f"sales{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path, index=False)
    ss = read_series(str(path), id="store", covariates=["price"])
    mem = read_series(df, id="store", covariates=["price"])
    assert ss.source == str(path) and ss.ids == mem.ids and ss.freq == mem.freq
    for a, b, i, j in zip(ss.values, mem.values, ss.index, mem.index, strict=True):
        np.testing.assert_array_equal(a, b)
        assert i.equals(j)
    again = tmp_path / f"again{suffix}"
    out = ss.to_frame()
    out.to_csv(again, index=False) if suffix == ".csv" else out.to_parquet(again, index=False)
    back = read_series(again, id="store", covariates="price")
    np.testing.assert_array_equal(back.values[1], ss.values[1])


def test_the_result_is_immutable_and_owns_its_arrays():
    y = np.arange(5.0) ** 2
    ss = read_series(frame(5, y=y))
    with pytest.raises(ValueError):
        ss.values[0][0, 0] = 99.0
    with pytest.raises(AttributeError):
        ss.freq = "h"
    y[0] = 123.0
    assert ss.values[0][0, 0] == 0.0


# ----------------------------------------------------------------------------- repairs on request


def test_sort_true_sorts_each_series():
    df = frame(6).iloc[[0, 2, 1, 3, 5, 4]]
    ss = read_series(df, sort=True)
    np.testing.assert_allclose(ss.values[0][:, 0], np.arange(6.0) ** 1.5, rtol=1e-6)


def test_fill_interpolate_and_ffill():
    df = frame(6, y=[np.nan, 1.0, np.nan, 3.0, np.nan, np.nan])
    np.testing.assert_array_equal(read_series(df, fill="interpolate").values[0][:, 0],
                                  [1, 1, 2, 3, 3, 3])
    np.testing.assert_array_equal(read_series(df, fill="ffill").values[0][:, 0],
                                  [1, 1, 1, 3, 3, 3])


def test_resample_aggregates_and_leaves_empty_bins_missing():
    ts = pd.to_datetime(["2021-01-01 01:00", "2021-01-01 13:00", "2021-01-02 05:00",
                         "2021-01-04 00:00"])
    df = pd.DataFrame({"ds": ts, "y": [1.0, 3.0, 5.0, 8.0]})
    with pytest.raises(DataError, match=r"missing values.*2021-01-03"):
        read_series(df, resample="D", agg="sum")
    ss = read_series(df, resample="D", agg="sum", fill="interpolate")
    assert ss.freq == "D"
    np.testing.assert_array_equal(ss.values[0][:, 0], [4.0, 5.0, 6.5, 8.0])


def test_resample_integer_steps_and_duplicates():
    df = pd.DataFrame({"t": [0, 0, 1, 3], "y": [1.0, 3.0, 5.0, 7.0]})
    ss = read_series(df, time="t", resample=1, fill="interpolate")
    np.testing.assert_array_equal(ss.values[0][:, 0], [2.0, 5.0, 6.0, 7.0])


# ----------------------------------------------------------------------------- refusals


def test_missing_columns_are_listed_with_the_available_ones():
    with pytest.raises(DataError, match=r"missing columns 'shop' \(id\), 'sales' \(target\)"
                                        r".*columns are 'ds', 'y'"):
        read_series(frame(), target="sales", id="shop")
    with pytest.raises(DataError, match=r"'when' \(time\).*time=None takes the index"):
        read_series(frame(), time="when")


def test_unsorted_timestamps_name_the_rows():
    df = frame(6).iloc[[0, 1, 3, 2, 4, 5]]
    with pytest.raises(DataError, match=r"unsorted timestamps.*column 'ds'.*row 3 \(2021-01-03\)"
                                        r" comes after row 2 \(2021-01-04\).*sort=True"):
        read_series(df)


def test_duplicate_timestamps_per_series():
    df = long_frame()
    df = pd.concat([df, df.iloc[[9]]], ignore_index=True)  # a second row for b, 2021-01-04
    with pytest.raises(DataError, match=r"duplicate timestamps.*column 'ds', series 'b'.*"
                                        r"rows 9, 14 share 2021-01-04.*resample="):
        read_series(df, id="store", sort=True)
    with pytest.raises(DataError, match=r"several series.*id="):
        read_series(df[df.store == "a"].iloc[[0, 0, 1, 2]])


def test_irregular_timestamps_name_the_gap_and_suggest_resample():
    df = frame(12, freq="MS").drop(index=[4]).reset_index(drop=True)
    with pytest.raises(DataError, match=r"irregular timestamps.*column 'ds'.*'MS'.*1 timestamp "
                                        r"is missing: 2021-05-01 after row 3.*resample='MS'"):
        read_series(df)
    ss = read_series(df, resample="MS", fill="interpolate")
    assert ss.lengths == (12,) and ss.freq == "MS"


def test_off_grid_timestamps_name_the_rows():
    ts = ["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-03 12:00", "2021-01-04",
          "2021-01-05", "2021-01-06"]  # strings, dates and a date-time mixed (ISO 8601)
    with pytest.raises(DataError, match=r"irregular.*row 3 \(2021-01-03 12:00:00\) falls off"):
        read_series(pd.DataFrame({"ds": ts, "y": np.arange(7.0)}))


def test_series_of_different_frequencies():
    a = frame(5, freq="D").assign(id="a")
    b = frame(5, freq="W").assign(id="b")
    with pytest.raises(DataError, match=r"different frequencies.*'a' steps by 'D'.*'b' by "
                                        r"'W-SUN'.*resample="):
        read_series(pd.concat([a, b]), id="id")


def test_missing_values_name_the_positions_and_the_fill():
    df = frame(8, y=[1.0, 2.0, np.nan, 4.0, 5.0, np.nan, 7.0, 8.0])
    with pytest.raises(DataError, match=r"missing values.*column 'y': 2 missing at 2021-01-03 "
                                        r"\(row 2\), 2021-01-06 \(row 5\).*fill='interpolate'"):
        read_series(df)


def test_missing_values_in_a_csv_name_file_and_lines(tmp_path):
    path = tmp_path / "gaps.csv"
    frame(5, y=[1.0, np.nan, 3.0, 4.0, 5.0], temp=[1.0, 2.0, 3.0, np.nan, 5.0]).to_csv(
        path, index=False)
    with pytest.raises(DataError, match=rf"missing values in '{path}', column 'y': 1 missing at "
                                        r"2021-01-02 \(row 1 \(line 3\)\).*'temp'"):
        read_series(path, covariates="temp")


def test_non_numeric_columns_name_rows_and_values(tmp_path):
    df = frame(4, price=["1.5", "2.0", "n.a.", "3"])
    with pytest.raises(DataError, match=r"non-numeric covariate column.*column 'price': row 2 "
                                        r"holds 'n\.a\.'"):
        read_series(df, covariates="price")
    cat = frame(4, day=pd.Categorical(["mo", "tu", "we", "th"]))
    with pytest.raises(DataError, match=r"non-numeric covariate.*'day'.*category.*get_dummies"):
        read_series(cat, covariates="day")
    path = tmp_path / "text.csv"
    frame(4, y=["1", "2", "x", "4"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"non-numeric target column in '{path}', column 'y': "
                                        r"row 2 \(line 4\) holds 'x'"):
        read_series(path)


def test_infinite_values_and_bad_timestamps():
    with pytest.raises(DataError, match=r"infinite values.*column 'y': row 1 holds inf"):
        read_series(frame(3, y=[1.0, np.inf, 2.0]))
    bad = pd.DataFrame({"ds": ["2021-01-01", "soon", "2021-01-03"], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"unreadable timestamps.*column 'ds': row 1 holds "
                                        r"'soon'.*ISO 8601"):
        read_series(bad)
    gap = pd.DataFrame({"ds": pd.to_datetime(["2021-01-01", None, "2021-01-03"]), "y": [1.0] * 3})
    with pytest.raises(DataError, match=r"missing timestamps.*row 1 has no time"):
        read_series(gap)


def test_series_shorter_than_min_length_are_named():
    with pytest.raises(DataError, match=r"shorter than min_length=7.*'b' \(6 steps\).*shorter "
                                        r"window or horizon"):
        read_series(long_frame(), id="store", min_length=7)


def test_constant_series_are_named():
    df = long_frame()
    df.loc[df.store == "b", "y"] = 2.5
    with pytest.raises(DataError, match=r"constant series.*'b' \(target 'y', every value 2\.5\)"):
        read_series(df, id="store")


def test_unreadable_and_missing_files_are_named(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=rf"file not found: '{missing}'"):
        read_series(missing)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=rf"cannot read '{broken}' as Parquet"):
        read_series(broken)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x82" * 10)
    with pytest.raises(DataError, match=rf"cannot read '{binary}' as CSV"):
        read_series(binary)
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'.*CSV.*Parquet"):
        read_series(tmp_path / "book.xlsx")
    empty = tmp_path / "empty.csv"
    empty.write_text("ds,y\n")
    with pytest.raises(DataError, match=rf"no rows in '{empty}'"):
        read_series(empty)


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="fill"):
        read_series(frame(), fill="zero")
    with pytest.raises(ConfigError, match="fill"):  # the imputer's internal mode stays internal
        read_series(frame(), fill="keep")
    with pytest.raises(ConfigError, match="agg"):
        read_series(frame(), resample="D", agg="mode")
    with pytest.raises(ConfigError, match="resample='fortnightly'"):
        read_series(frame(), resample="fortnightly")
    with pytest.raises(ConfigError, match="more than one role"):
        read_series(frame(), target="y", covariates="y")
    with pytest.raises(ConfigError, match="wide"):
        read_series(frame(), wide=True, id="y")
    with pytest.raises(ConfigError, match="3 columns"):
        read_series(np.zeros((4, 3)))


def test_import_seqnets_works_without_pandas():
    code = ("import sys; sys.modules['pandas'] = None\n"
            "import seqnets, seqnets.data as d\n"
            "try:\n    d.read_series([1.0, 2.0])\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "seqnets[tables]"' in out.stdout
