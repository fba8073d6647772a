"""Batch forecasting split across ranks (issue 16, item 3): each rank forecasts its share
of the series into one Parquet part; the parts together equal a one-process forecast."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqnets import Forecaster
from seqnets.cli import main
from seqnets.errors import ConfigError, DataError
from seqnets.forecast import batch
from seqnets.forecast.batch import for_series, forecast_part, part_name, write_parts

SERIES = 7


def table(days: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(days)
    return pd.concat([pd.DataFrame({"ds": pd.date_range("2002-01-01", periods=len(t),
                                                        freq="D"),
                                    "y": (s + 1) * (5 + np.sin(t / (2 + s))) +
                                    rng.normal(0, 0.1, len(t)), "store": f"s{s}"})
                      for s in range(SERIES)], ignore_index=True)


@pytest.fixture(scope="module")
def fitted():  # no dropout: the bands are not sampled, so each series' forecast is its own
    return Forecaster("mlp", strategy="direct", window=8, horizon=3, epochs=2, dropout=0.0,
                      uncertainty="conformal", seed=0, quiet=True).fit(
        table(), time="ds", target="y", id="store")


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["id", "time"]).reset_index(drop=True)


def test_a_forecaster_for_some_series_forecasts_them_as_the_whole_does(fitted):
    whole = fitted.predict()
    part = for_series(fitted, ["s4", "s1"]).predict()
    expected = whole[whole["id"].isin(["s4", "s1"])]
    pd.testing.assert_frame_equal(ordered(part), ordered(expected))
    with pytest.raises(DataError, match=r"series \['nope'\] are not among the 7"):
        for_series(fitted, ["s1", "nope"])


@pytest.mark.parametrize("world", [1, 2, 3, 9])
def test_the_parts_of_every_rank_together_equal_one_forecast(fitted, world, tmp_path):
    paths = [forecast_part(fitted, tmp_path, rank, world) for rank in range(world)]
    assert [p.name for p in paths if p] == [part_name(r, world)
                                            for r in range(min(world, SERIES))]
    parts = [pd.read_parquet(p) for p in paths if p]
    assert sum(len(p) for p in parts) == SERIES * 3   # each series in one part only
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(tmp_path)),
                                  ordered(fitted.predict()), check_dtype=False)


def parquet_dataset(folder, frame: pd.DataFrame, files: int = 3):
    """``frame`` as a folder of Parquet files, each holding some series."""
    folder.mkdir()
    stores = sorted(frame["store"].unique())
    for k in range(files):
        frame[frame["store"].isin(stores[k::files])].to_parquet(folder / f"f{k}.parquet")
    return folder


def spy_on_reads(monkeypatch) -> list:
    """The series each call of ``batch.rank_rows`` returns, in call order."""
    read, rank_rows = [], batch.rank_rows

    def spy(*args):
        rows = rank_rows(*args)
        read.append(sorted(rows["store"].unique()))
        return rows
    monkeypatch.setattr(batch, "rank_rows", spy)
    return read


@pytest.mark.parametrize("world", [1, 3])
def test_each_rank_reads_only_its_own_series_of_a_parquet_history(fitted, world, tmp_path,
                                                                  monkeypatch):
    newer = table(days=66)
    folder = parquet_dataset(tmp_path / "newer", newer)
    read = spy_on_reads(monkeypatch)
    for rank in range(world):
        forecast_part(fitted, tmp_path / "out", rank, world, data=folder)
    assert read == [sorted(batch.rank_ids(fitted.series_.ids, r, world)) for r in range(world)]
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(tmp_path / "out")),
                                  ordered(fitted.predict(data=newer)), check_dtype=False)


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_each_rank_reads_only_its_own_series_of_a_csv_history(fitted, suffix, sep, tmp_path,
                                                              monkeypatch):
    newer = table(days=64)
    newer.to_csv(tmp_path / f"newer{suffix}", index=False, sep=sep)
    monkeypatch.setattr(batch, "CSV_CHUNK_ROWS", 50)   # 448 rows: 9 chunks
    read = spy_on_reads(monkeypatch)
    for rank in range(2):
        forecast_part(fitted, tmp_path / "out", rank, 2, data=tmp_path / f"newer{suffix}")
    assert read == [sorted(batch.rank_ids(fitted.series_.ids, r, 2)) for r in range(2)]
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(tmp_path / "out")),
                                  ordered(fitted.predict(data=newer)), check_dtype=False)


@settings(max_examples=20, deadline=None)
@given(chunk=st.integers(1, 500), world=st.integers(1, 8))
def test_the_ranks_csv_rows_together_are_the_file_whatever_the_chunks(fitted, tmp_path_factory,
                                                                       chunk, world):
    folder = tmp_path_factory.mktemp("csv")
    newer = table(days=20)
    newer.to_csv(folder / "h.csv", index=False)
    whole = pd.read_csv(folder / "h.csv")
    old = batch.CSV_CHUNK_ROWS
    batch.CSV_CHUNK_ROWS = chunk  # not monkeypatch: hypothesis reruns the body
    try:
        parts = [batch.rank_rows(fitted, folder / "h.csv",
                                 batch.rank_ids(fitted.series_.ids, r, world))
                 for r in range(world)]
    finally:
        batch.CSV_CHUNK_ROWS = old
    for r, part in enumerate(parts):
        assert set(part["store"]) <= set(batch.rank_ids(fitted.series_.ids, r, world))
    union = pd.concat(parts).sort_values(["store", "ds"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(union, whole.sort_values(["store", "ds"]).reset_index(
        drop=True))


def test_numeric_ids_of_a_csv_are_matched_in_every_chunk(tmp_path, monkeypatch):
    frame = table(days=40).assign(store=lambda f: f["store"].str[1:].astype(int))
    fc = Forecaster("mlp", strategy="direct", window=8, horizon=3, epochs=1, dropout=0.0,
                    uncertainty="conformal", seed=0, quiet=True).fit(
        frame, time="ds", target="y", id="store")
    frame.to_csv(tmp_path / "ints.csv", index=False)
    monkeypatch.setattr(batch, "CSV_CHUNK_ROWS", 30)
    rows = batch.rank_rows(fc, tmp_path / "ints.csv", [1, 4])
    assert sorted(rows["store"].unique()) == [1, 4] and len(rows) == 80


def test_a_bad_csv_history_is_refused_with_its_name(fitted, tmp_path):
    table(days=62).rename(columns={"store": "shop"}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(DataError, match="no id column 'store'"):
        forecast_part(fitted, tmp_path / "out", 0, 2, data=tmp_path / "r.csv")
    with pytest.raises(DataError, match="no such file"):
        forecast_part(fitted, tmp_path / "out", 0, 2, data=tmp_path / "none.csv")
    (tmp_path / "bad.csv").write_bytes(b'ds,y,store\n"2002-01-01,1')
    with pytest.raises(DataError, match="cannot read .*bad.csv' as CSV"):
        forecast_part(fitted, tmp_path / "out", 0, 2, data=tmp_path / "bad.csv")
    assert not (tmp_path / "out").exists()


def test_a_parquet_history_without_the_id_column_or_its_series_is_refused(fitted, tmp_path):
    newer = table(days=62)
    newer.rename(columns={"store": "shop"}).to_parquet(tmp_path / "renamed.parquet")
    with pytest.raises(DataError, match="no id column 'store'"):
        forecast_part(fitted, tmp_path / "out", 0, 2, data=tmp_path / "renamed.parquet")
    newer[newer["store"] != "s2"].to_parquet(tmp_path / "short.parquet")
    with pytest.raises(DataError, match="the model was trained on series"):
        forecast_part(fitted, tmp_path / "out", 0, 2, data=tmp_path / "short.parquet")


def test_forecast_parts_on_the_command_line(fitted, tmp_path, capsys):
    fitted.save(tmp_path / "m")
    assert main(["forecast", str(tmp_path / "m"), "--out", str(tmp_path / "d"),
                 "--parts"]) == 0
    assert "Forecast of 7 series, 3 steps ahead" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "d").iterdir()] == [part_name(0, 1)]
    assert main(["forecast", str(tmp_path / "m"), "--out", str(tmp_path / "d"),
                 "--parts"]) == 2
    assert "d exists; pass --force" in capsys.readouterr().err
    assert main(["forecast", str(tmp_path / "m"), "--out", str(tmp_path / "d"), "--parts",
                 "--plot", str(tmp_path / "p.png")]) == 2
    assert "with --parts each rank writes a part" in capsys.readouterr().err


def test_forecast_parts_reads_a_parquet_folder_on_the_command_line(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    newer = table(days=63)
    folder = parquet_dataset(tmp_path / "newer", newer)
    assert main(["forecast", str(tmp_path / "m"), "--out", str(tmp_path / "d"), "--parts",
                 "--data", str(folder), "--id", "store"]) == 0
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(tmp_path / "d")),
                                  ordered(fitted.predict(data=newer)), check_dtype=False)


@pytest.mark.slow  # a torchrun launch: ten seconds or so
def test_two_ranks_write_two_parts_equal_to_one_process(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", "-m", "seqnets.cli", "forecast",
                           str(tmp_path / "m"), "--out", str(tmp_path / "d"), "--parts"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [part_name(0, 2),
                                                                   part_name(1, 2)]
    assert done.stdout.count("Forecast of 7 series") == 1
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(tmp_path / "d")),
                                  ordered(fitted.predict()), check_dtype=False)


def test_write_parts_in_one_process_writes_one_part_and_guards_the_folder(fitted,
                                                                         tmp_path):
    newer = table(days=61)
    newer.to_csv(tmp_path / "newer.csv", index=False)
    out = write_parts(fitted, tmp_path / "d", data=tmp_path / "newer.csv")
    assert [p.name for p in out.iterdir()] == [part_name(0, 1)]
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(out)),
                                  ordered(fitted.predict(data=newer)), check_dtype=False)
    with pytest.raises(ConfigError, match="already holds 1 forecast part"):
        write_parts(fitted, out)
    again = write_parts(fitted, out, overwrite=True)   # the old part replaced
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(again)), ordered(fitted.predict()),
                                  check_dtype=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        write_parts(fitted, tmp_path / "file")


PARTS_SCRIPT = """
import sys
from seqnets import Forecaster
from seqnets.forecast import write_parts
write_parts(Forecaster.load(sys.argv[1]), sys.argv[2], data=sys.argv[3])
"""


@pytest.mark.slow  # a torchrun launch
def test_write_parts_under_torchrun_reads_a_csv_per_rank(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    newer = table(days=65)
    newer.to_csv(tmp_path / "newer.csv", index=False)
    (tmp_path / "parts.py").write_text(PARTS_SCRIPT)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", str(tmp_path / "parts.py"),
                           str(tmp_path / "m"), str(tmp_path / "d"),
                           str(tmp_path / "newer.csv")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [part_name(0, 2),
                                                                   part_name(1, 2)]
    pd.testing.assert_frame_equal(ordered(pd.read_parquet(tmp_path / "d")),
                                  ordered(fitted.predict(data=newer)), check_dtype=False)
