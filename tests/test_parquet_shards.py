"""The lazy per-rank Parquet reader (issue 16, item 2) and data-parallel training on each
rank's own windows (``fit_sharded``), with the 2-rank acceptance run over 2,000 series."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

import seqnets as sn
from seqnets.data.parquet_shards import read_parquet_shard
from seqnets.errors import DataError
from seqnets.layers import Dense, Flatten
from seqnets.training.sharded import fit_sharded, shard_plan


def write_dataset(folder, series=40, files=4, seed=0, shuffle=True):
    """Series ``s0000``.. of 8 to 15 steps, rows shuffled over ``files`` Parquet files."""
    g = np.random.default_rng(seed)
    frames = [pd.DataFrame({"id": f"s{s:04d}", "ds": 10 + 2 * np.arange(n),
                            "y": g.normal(size=n)})
              for s, n in enumerate(g.integers(8, 16, size=series))]
    df = pd.concat(frames, ignore_index=True)
    if shuffle:
        df = df.sample(frac=1, random_state=seed).reset_index(drop=True)
    folder.mkdir(exist_ok=True)
    for i in range(files):
        df.iloc[i * len(df) // files:(i + 1) * len(df) // files].to_parquet(
            folder / f"part-{i}.parquet", index=False)
    return df


def test_the_shards_partition_the_series_and_hold_pandas_values(tmp_path):
    df = write_dataset(tmp_path / "d")
    ref = pd.read_parquet(tmp_path / "d").sort_values(["id", "ds"])
    shards = [read_parquet_shard(tmp_path / "d", rank=r, world=3, sort=True) for r in range(3)]
    all_ids = sorted(df.id.unique())
    assert [s.ids for s in shards] == [tuple(all_ids[r::3]) for r in range(3)]
    assert sum(s.rows for s in shards) == len(df)
    for s in shards:
        assert s.series_count == 40
        for i, sid in enumerate(s.ids):
            y = ref[ref.id == sid].y.to_numpy()
            assert np.array_equal(s.series(i), y.astype(np.float32))
            y32 = y.astype(np.float32).astype(np.float64)
            assert s.mean[i] == pytest.approx(y32.mean(), rel=1e-9)
            assert s.std[i] == pytest.approx(y32.std(), rel=1e-9)
            assert (s.first_time[i], s.step[i]) == (10, 2)


def test_windows_are_the_scaled_views_of_each_series(tmp_path):
    write_dataset(tmp_path / "d", series=5, shuffle=False)
    shard = read_parquet_shard(tmp_path / "d")
    ws = shard.window_set(4, horizon=2)
    assert len(ws) == sum(len(shard.series(i)) - 5 for i in range(len(shard)))
    s, off = ws.origins(np.arange(len(ws)))
    x, y = ws[np.arange(len(ws))]
    for w in (0, 7, len(ws) - 1):
        v = (shard.series(s[w]) - shard.mean[s[w]]) / shard.std[s[w]]
        np.testing.assert_allclose(x[w, :, 0].numpy(), v[off[w]:off[w] + 4], rtol=1e-5)
        np.testing.assert_allclose(y[w].numpy(), v[off[w] + 4:off[w] + 6], rtol=1e-5)
    raw = shard.window_set(4, horizon=2, scale=False)[np.array([0])][0]
    assert np.array_equal(raw[0, :, 0].numpy(), shard.series(0)[:4])


def bad_file(tmp_path, change):
    df = pd.DataFrame({"id": ["a"] * 6 + ["b"] * 6, "ds": list(range(6)) * 2,
                       "y": np.arange(12, dtype=float)})
    df = change(df)
    folder = tmp_path / "bad"
    folder.mkdir()
    df.iloc[:4].to_parquet(folder / "part-0.parquet", index=False)
    df.iloc[4:].to_parquet(folder / "part-1.parquet", index=False)
    return folder


def _set(column, row, value):
    def change(df):
        df = df.astype({column: object}) if isinstance(value, str) else df
        df.loc[row, column] = value
        return df
    return change


@pytest.mark.parametrize("change, words", [
    (_set("y", 7, np.nan), ["missing", "part-1.parquet', row 3"]),
    (_set("y", 9, np.inf), ["infinite", "part-1.parquet', row 5"]),
    (_set("y", 2, 1e39), ["too large", "part-0.parquet', row 2"]),
    (_set("ds", 8, 3), ["duplicate", "part-1.parquet', row 4", "part-1.parquet', row 5"]),
    (_set("ds", 8, -1), ["unsorted", "part-1.parquet', row 4 comes before", "sort=True"]),
    (_set("ds", 11, 9), ["irregular", "part-1.parquet', row 7 is 5", "steps of 1"]),
    (lambda df: df.astype({"y": str}), ["non-numeric", "part-0.parquet', row 0",
                                        "to_numeric"]),
    (lambda df: df.assign(ds=df.ds.astype(float)), ["time column", "integer steps"]),
    (lambda df: df.assign(y=np.where(df.id == "b", 1.0, df.y)), ["constant", "'b'"]),
    (lambda df: df.iloc[:7], ["'b' has 1 rows", "part-1.parquet', row 2", "min_length"]),
    (lambda df: df.assign(ds=np.where(df.id == "b", df.ds * 2, df.ds)),
     ["different steps", "'a' (first in '", "part-0.parquet', row 0) steps by 1",
      "'b' (first in '", "part-1.parquet', row 2) by 2"]),
])
def test_each_bad_input_is_refused_with_its_file_and_row(tmp_path, change, words):
    folder = bad_file(tmp_path, change)
    with pytest.raises(DataError) as err:
        read_parquet_shard(folder, time="ds", target="y", id="id")
    for word in words:
        assert word in str(err.value)
    assert "Fix:" in str(err.value)


def test_sort_true_sorts_what_would_be_refused(tmp_path):
    folder = bad_file(tmp_path, lambda df: df.iloc[::-1])
    shard = read_parquet_shard(folder, sort=True)
    assert np.array_equal(shard.series(1), np.arange(6, 12, dtype=np.float32))


def test_categorical_ids_and_timestamps_are_read(tmp_path):
    df = pd.DataFrame({"id": pd.Categorical(["b"] * 4 + ["a"] * 4),
                       "ds": list(pd.date_range("2024-01-01", periods=4, freq="h")) * 2,
                       "y": np.arange(8.0)})
    df.to_parquet(tmp_path / "one.parquet", index=False)
    shard = read_parquet_shard(tmp_path / "one.parquet")
    assert shard.ids == ("a", "b")
    assert np.array_equal(shard.series(0), np.arange(4, 8, dtype=np.float32))
    assert shard.step.tolist() == [3_600 * 10**9] * 2  # nanoseconds


def test_missing_columns_are_named(tmp_path):
    folder = bad_file(tmp_path, lambda df: df)
    with pytest.raises(DataError, match=r"missing column\(s\) \['when'\]"):
        read_parquet_shard(folder, time="when")


@pytest.mark.parametrize("counts, batch", [([5, 3], 3), ([1, 1], 1), ([7, 1, 2], 4),
                                           ([100, 37, 64], 32), ([3], 2)])
def test_the_plan_uses_each_row_once_in_steps_of_at_most_a_batch(counts, batch):
    plan = shard_plan(counts, batch)
    n = sum(counts)
    assert plan.shape == (len(counts), -(-n // batch))
    assert plan.sum(1).tolist() == counts
    assert (plan.max(1) - plan.min(1) <= 1).all()  # each rank's sizes differ by one at most
    totals = plan.sum(0)
    assert totals.min() >= 1 and totals.max() <= batch
    assert totals.max() - totals.min() <= 1


def test_fit_sharded_alone_trains_on_a_window_set(tmp_path):
    write_dataset(tmp_path / "d", series=20)
    ws = read_parquet_shard(tmp_path / "d", sort=True).window_set(5)
    model = sn.Sequential([Flatten(), Dense(1)], input_shape=(5, 1), seed=0)
    history = fit_sharded(model, ws, ws, epochs=4, batch_size=16, seed=0, quiet=True,
                          metrics=["mae"])
    assert history["loss"][-1] < history["loss"][0]
    x, y = ws[slice(0, len(ws))]
    assert history["val_loss"][-1] == pytest.approx(
        sn.evaluate(model, (x.numpy(), y.numpy()))["loss"], rel=1e-5)


UNEQUAL = '''
def unequal(rank):
    g = np.random.default_rng(rank)
    x = g.normal(size=(37 if rank == 0 else 2, 5, 1)).astype(np.float32)
    return x, x[:, -1] * 2 - x[:, 0]
'''

SCRIPT = '''
import json, sys
import numpy as np
import torch
''' + UNEQUAL + '''
import torch.distributed as dist
import seqnets as sn
from seqnets.training import Callback
from seqnets.data.parquet_shards import read_parquet_shard
from seqnets.layers import Dense, Flatten
from seqnets.training.sharded import fit_sharded


class Recorded:
    """The window set, noting the (series id, offset) of every training row it gives."""

    def __init__(self, ws):
        self.ws, self.used = ws, []

    def __len__(self):
        return len(self.ws)

    def __getitem__(self, rows):
        s, off = self.ws.origins(rows)
        self.used += [[self.ws.shard.ids[i], int(o)] for i, o in zip(s, off)]
        return self.ws[rows]


class Epochs(Callback):
    def __init__(self, train):
        self.train, self.ends = train, []

    def on_epoch_end(self, trainer, epoch, logs):
        self.ends.append(len(self.train.used))


shard = read_parquet_shard(sys.argv[1], time="ds", target="y", id="id", sort=True)
train = Recorded(shard.window_set(5))
epochs = Epochs(train)
model = sn.Sequential([Flatten(), Dense(1)], input_shape=(5, 1), seed=0)
history = fit_sharded(model, train, shard.window_set(5), epochs=2, batch_size=256, seed=4,
                      quiet=True, metrics=["mae"], callbacks=[epochs])
rank = dist.get_rank()
ends = [0] + epochs.ends
x, y = unequal(rank)  # rank 1 has no row at the first step: weight 0 there
plain = sn.Sequential([Flatten(), Dense(1)], input_shape=(5, 1), seed=1)
fit_sharded(plain, (x, y), epochs=1, batch_size=16, optimizer="sgd", lr=0.1,
            shuffle=False, quiet=True)
if rank == 0:
    torch.save(plain.state_dict(), f"{sys.argv[2]}/unequal.pt")
with open(f"{sys.argv[2]}/rank-{rank}.json", "w") as f:
    json.dump({"epochs": [train.used[a:b] for a, b in zip(ends, ends[1:])],
               "history": {k: v for k, v in history.history.items() if k != "seconds"}}, f)
'''


@pytest.mark.slow
def test_two_ranks_over_2000_series_in_8_files_use_each_window_once_per_epoch(tmp_path):
    df = write_dataset(tmp_path / "data", series=2000, files=8)
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", str(script), str(tmp_path / "data"),
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    lengths = df.groupby("id").size()
    every = Counter((sid, o) for sid, n in lengths.items() for o in range(n - 5))
    assert len(every) > 10_000
    for epoch in range(2):
        used = Counter((sid, o) for r in ranks for sid, o in r["epochs"][epoch])
        assert used == every  # each window once, none left out, none from elsewhere
        assert {sid for sid, _ in ranks[0]["epochs"][epoch]}.isdisjoint(
            {sid for sid, _ in ranks[1]["epochs"][epoch]})
    assert ranks[0]["epochs"][0] != ranks[0]["epochs"][1]  # reshuffled each epoch
    assert ranks[0]["history"] == ranks[1]["history"]
    assert len(ranks[0]["history"]["loss"]) == 2
    # the weighted steps are those of one process on each step's rows of both ranks
    space: dict = {"np": np}
    exec(UNEQUAL, space)
    (x0, y0), (x1, y1) = space["unequal"](0), space["unequal"](1)
    plan = shard_plan([37, 2], 16)
    assert plan.tolist() == [[13, 12, 12], [0, 1, 1]]
    model = sn.Sequential([Flatten(), Dense(1)], input_shape=(5, 1), seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    a = b = 0
    for n0, n1 in plan.T:
        xb = torch.from_numpy(np.concatenate([x0[a:a + n0], x1[b:b + n1]]))
        yb = torch.from_numpy(np.concatenate([y0[a:a + n0], y1[b:b + n1]]))
        a, b = a + n0, b + n1
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(xb), yb).backward()
        opt.step()
    ranks_weights = torch.load(tmp_path / "unequal.pt")
    for key, value in model.state_dict().items():
        assert torch.allclose(ranks_weights[key], value, rtol=0, atol=1e-6), key


STEPS_SCRIPT = '''
import sys
import torch.distributed as dist
from seqnets.data.parquet_shards import read_parquet_shard
from seqnets.errors import DataError

dist.init_process_group("gloo")
try:
    read_parquet_shard(sys.argv[1], time="ds", target="y", id="id")
    said = "read"
except DataError as err:
    said = str(err)
with open(f"{sys.argv[2]}/rank-{dist.get_rank()}.txt", "w") as f:
    f.write(said)
dist.destroy_process_group()
'''


@pytest.mark.slow  # a torchrun launch
def test_ranks_whose_series_step_differently_all_refuse_the_dataset(tmp_path):
    folder = bad_file(tmp_path, lambda df: df.assign(ds=np.where(df.id == "b", df.ds * 2,
                                                                 df.ds)))
    (tmp_path / "steps.py").write_text(STEPS_SCRIPT)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", str(tmp_path / "steps.py"), str(folder),
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank, step in ((0, 1), (1, 2)):  # rank 0 holds series 'a', rank 1 series 'b'
        said = (tmp_path / f"rank-{rank}.txt").read_text()
        assert "different steps on different ranks: steps from 1 to 2" in said
        assert f"this rank's share steps by {step}" in said


# ---------------------------------------------------------------- forecasts of a shard


def trained_on(shard, window=5, horizon=2):
    model = sn.Sequential([Flatten(), Dense(horizon)], input_shape=(window, 1), seed=0)
    fit_sharded(model, shard.window_set(window, horizon), epochs=2, batch_size=32, seed=0,
                quiet=True)
    return model


def test_a_shard_forecast_is_the_model_on_each_series_last_window_scaled_back(tmp_path):
    from seqnets.forecast.batch import shard_forecast

    df = write_dataset(tmp_path / "d", series=12)
    shard = read_parquet_shard(tmp_path / "d", sort=True)
    model = trained_on(shard)
    frame = shard_forecast(shard, model, window=5, batch_size=5)   # 3 batches of series
    assert list(frame.columns) == ["id", "time", "mean"] and len(frame) == 12 * 2
    for i in (0, 7, 11):
        sid = shard.ids[i]
        rows = df[df.id == sid].sort_values("ds")
        v = rows.y.to_numpy()
        x = torch.tensor((v[-5:] - v.mean()) / v.std(), dtype=torch.float32)[None, :, None]
        with torch.no_grad():
            expected = model.eval()(x)[0].double().numpy() * v.std() + v.mean()
        got = frame[frame.id == sid]
        np.testing.assert_allclose(got["mean"], expected, rtol=1e-5, atol=1e-6)
        assert got["time"].tolist() == [rows.ds.max() + 2, rows.ds.max() + 4]


def test_shard_forecasts_keep_timestamps_and_their_zone(tmp_path):
    from seqnets.forecast.batch import shard_forecast

    folder = tmp_path / "t"
    folder.mkdir()
    days = pd.date_range("2024-03-01", periods=9, freq="D", tz="Europe/Paris")
    pd.DataFrame({"id": ["a"] * 9 + ["b"] * 9, "ds": list(days) * 2,
                  "y": np.arange(18.0) % 5}).to_parquet(folder / "p.parquet", index=False)
    shard = read_parquet_shard(folder)
    frame = shard_forecast(shard, trained_on(shard, 3, 2), window=3)
    assert frame["time"].tolist() == [pd.Timestamp("2024-03-10", tz="Europe/Paris"),
                                      pd.Timestamp("2024-03-11", tz="Europe/Paris")] * 2


def test_each_ranks_part_together_is_the_one_shard_forecast(tmp_path):
    from seqnets.forecast.batch import part_name, shard_forecast, write_shard_forecast

    write_dataset(tmp_path / "d", series=9)
    whole = read_parquet_shard(tmp_path / "d", sort=True, rank=0, world=1)
    model = trained_on(whole)
    for rank in range(4):
        shard = read_parquet_shard(tmp_path / "d", sort=True, rank=rank, world=4)
        path = write_shard_forecast(shard, model, tmp_path / "out", window=5)
        assert path.name == part_name(rank, 4)
    expected = shard_forecast(whole, model, window=5)
    got = pd.read_parquet(tmp_path / "out").sort_values(["id", "time"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.sort_values(["id", "time"]).reset_index(
        drop=True), check_dtype=False)


def test_a_shard_forecast_refuses_short_series_and_models_of_another_shape(tmp_path):
    from seqnets.forecast.batch import shard_forecast

    write_dataset(tmp_path / "d", series=6)
    shard = read_parquet_shard(tmp_path / "d", sort=True)
    with pytest.raises(DataError, match="fewer than the window of 30"):
        shard_forecast(shard, trained_on(shard), window=30)
    seq = sn.Sequential([Dense(3)], input_shape=(5, 1), seed=0)   # [b, 5, 3]
    with pytest.raises(DataError, match=r"outputs of shape \(6, 5, 3\)"):
        shard_forecast(shard, seq, window=5)
