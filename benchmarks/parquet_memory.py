"""Peak memory and speed of one training epoch from a long-format Parquet dataset (issue 16,
item 2): 2 torchrun ranks, each reading only its shard of the series with
``read_parquet_shard`` and training with ``fit_sharded``; then the same data loaded whole as
a pandas DataFrame in one process, for comparison. Prints one JSON line per run.

    python benchmarks/parquet_memory.py [--series 10000] [--steps 1000] [--files 8]

The dataset (``series x steps`` rows: id int64, ds int64, y float64) is written to a
temporary folder, removed at the end. The model is Flatten + Dense(32, relu) + Dense(1) on
windows of 24 steps, global batch 4096, one epoch, Adam.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOW, BATCH = 24, 4096


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_dataset(folder: Path, series: int, steps: int, files: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq
    g = np.random.default_rng(0)
    t = np.arange(steps)
    for f, ids in enumerate(np.array_split(np.arange(series), files)):
        phase = g.uniform(0, 6.3, size=(len(ids), 1))
        y = np.sin(t / 20 + phase) + 0.1 * g.normal(size=(len(ids), steps))
        pq.write_table(pa.table({"id": np.repeat(ids, steps), "ds": np.tile(t, len(ids)),
                                 "y": y.ravel()}), folder / f"part-{f}.parquet")
    return sum(p.stat().st_size for p in folder.iterdir())


def model():
    import seqnets as sn
    from seqnets.layers import Dense, Flatten
    return sn.Sequential([Flatten(), Dense(32, activation="relu"), Dense(1)],
                         input_shape=(WINDOW, 1), seed=0)


def rank_run(folder: str, out: str) -> None:
    """One torchrun rank: read its shard, train one epoch."""
    import torch.distributed as dist

    from seqnets.data.parquet_shards import read_parquet_shard
    from seqnets.training.sharded import fit_sharded
    base = peak_mib()
    start = time.perf_counter()
    shard = read_parquet_shard(folder, time="ds", target="y", id="id")
    read = time.perf_counter() - start
    ws = shard.window_set(WINDOW)
    start = time.perf_counter()
    history = fit_sharded(model(), ws, epochs=1, batch_size=BATCH, seed=0, quiet=True)
    train = time.perf_counter() - start
    report = {"run": "parquet shard", "rank": dist.get_rank(), "series": len(shard),
              "rows": shard.rows, "windows": len(ws), "read_s": round(read, 2),
              "train_s": round(train, 2), "windows_per_s": round(len(ws) / train),
              "rows_per_s": round(shard.rows / (read + train)),
              "peak_rss_mib": round(peak_mib()), "rss_after_import_mib": round(base),
              "loss": history["loss"][0]}
    Path(out, f"rank-{dist.get_rank()}.json").write_text(json.dumps(report))


def frame_run(folder: str) -> dict:
    """One process: the whole dataset as a DataFrame, then the same windows and epoch."""
    import pandas as pd
    import torch

    from seqnets.data.parquet_shards import ParquetShard
    from seqnets.training.sharded import fit_sharded
    torch.set_num_threads(2)
    base = peak_mib()
    start = time.perf_counter()
    df = pd.read_parquet(folder).sort_values(["id", "ds"], kind="stable")
    sizes = df.groupby("id", sort=True).size().to_numpy()
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ds = df["ds"].to_numpy()
    shard = ParquetShard(tuple(df["id"].unique()), starts, df["y"].to_numpy(np.float32),
                         ds[starts[:-1]], ds[starts[:-1] + 1] - ds[starts[:-1]],
                         len(sizes), [folder])
    read = time.perf_counter() - start
    ws = shard.window_set(WINDOW)
    start = time.perf_counter()
    history = fit_sharded(model(), ws, epochs=1, batch_size=BATCH, seed=0, quiet=True)
    train = time.perf_counter() - start
    frame_mib = df.memory_usage(deep=True).sum() / 2**20
    return {"run": "in-memory DataFrame, 1 process", "rows": shard.rows, "windows": len(ws),
            "read_s": round(read, 2), "train_s": round(train, 2),
            "windows_per_s": round(len(ws) / train),
            "rows_per_s": round(shard.rows / (read + train)),
            "dataframe_mib": round(frame_mib), "peak_rss_mib": round(peak_mib()),
            "rss_after_import_mib": round(base), "loss": history["loss"][0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--rank", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--frame", metavar="DATA", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rank:
        return rank_run(*args.rank)
    if args.frame:
        print(json.dumps(frame_run(args.frame)))
        return None
    with tempfile.TemporaryDirectory(prefix="seqnets-parquet-") as tmp:
        data = Path(tmp, "data")
        data.mkdir()
        size = write_dataset(data, args.series, args.steps, args.files)
        print(json.dumps({"dataset": f"{args.series} series x {args.steps} steps in "
                          f"{args.files} files", "rows": args.series * args.steps,
                          "size_on_disk_mib": round(size / 2**20, 1)}), flush=True)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc-per-node", "2", __file__, "--rank", str(data), tmp],
                       check=True, env=env)
        for r in range(2):
            print(Path(tmp, f"rank-{r}.json").read_text(), flush=True)
        subprocess.run([sys.executable, __file__, "--frame", str(data)], check=True)
    return None


if __name__ == "__main__":
    main()
