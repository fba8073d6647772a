"""Seconds per training epoch of the PyTorch peers, Darts and NeuralForecast, on the chapter's data.

    python3 -m venv /tmp/peersenv
    /tmp/peersenv/bin/pip install torch==2.13.0            # the CPU build, first
    echo torch==2.13.0 > /tmp/peers-constraints.txt
    /tmp/peersenv/bin/pip install -c /tmp/peers-constraints.txt \\
        "darts[torch]==0.48.1" neuralforecast==3.3.0
    /tmp/peersenv/bin/python benchmarks/peers.py [--epochs 3] [--only darts_lstm,nf_gru]
                                                 [--series 7000] [--out FILE.json] [--check]

A standalone script: it does not import seqnets (the peers live in their own environment), so the
chapter's generator is written out below. The training set is the chapter's: the first 7,000 of
10,000 two-sine series of 60 steps drawn with seed 42 (the train split of
``chapter_splits("seq2seq", seed=42)``), 50 input steps and 10 to forecast, one training window per
series, batch 32, so one epoch is 7,000 samples in 219 batches.

Fairness settings, the same for every model: CPU, one torch thread (``--threads``), no
validation, no checkpointing, no logger, no progress bar, no model summary, Adam with lr 1e-3,
MSE loss.

* Darts: ``BlockRNNModel`` (LSTM / GRU: 2 layers of 20 units, then one Linear(20 -> 1) on each of
  the last 10 hidden states) and ``TCNModel`` (5 residual blocks of two dilated convolutions, 20
  filters, kernel 2, dilation base 2, no weight norm, no dropout; it is trained on the 50-step
  target shifted by 10), fitted on a list of 7,000 ``TimeSeries`` of 60 steps, one training sample
  each. An epoch is Lightning's epoch.
* NeuralForecast: ``LSTM`` / ``GRU`` (2 layers of 20 units, ``decoder_layers=1``: one Linear(20 ->
  1) on each of the last 10 hidden states) and ``TCN`` (20 channels, kernel 2, dilations 1..32,
  ``decoder_layers=1``), with ``scaler_type="identity"``, ``batch_size=32`` series per step,
  ``windows_batch_size=None`` (every window of the batch's series is used) and
  ``training_data_availability_threshold=1.0`` (only windows whose 50 + 10 steps are all real, so
  exactly one window per 60-step series; without it NeuralForecast pads 10 zeros at the end and
  would train on 10 windows per series). NeuralForecast counts ``max_steps``, not epochs: it runs
  ``max_steps = 219 * epochs`` and an "epoch" is timed as each run of 219 optimisation steps
  (counted in ``on_train_batch_end``), which is also one pass of its shuffled series loader.

Seconds per epoch = median over epochs 2..N (the first pays start-up). Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

N_SERIES, N_TRAIN, N_IN, HORIZON, SEED, BATCH = 10_000, 7_000, 50, 10, 42, 32
TCN_DILATIONS = [1, 2, 4, 8, 16, 32]
# Darts' residual block holds two dilated convolutions, so with kernel 2 and base 2 its receptive
# field is 1 + 2 * (2**L - 1): 5 blocks cover 63 >= 50 steps (Darts' own default for 50 inputs).
DARTS_TCN_BLOCKS = 5
MODELS = ("darts_lstm", "darts_gru", "darts_tcn", "nf_lstm", "nf_gru", "nf_tcn")

RECORDS: dict[str, dict] = {}  # filled by the callback (NeuralForecast deep-copies its models)


class CheckDone(Exception):
    """Raised by the callback in --check mode once the data loader is known."""


def generate_time_series(batch_size: int, n_steps: int, seed: int) -> np.ndarray:
    """The chapter's noisy two-sine series, float32 ``[batch, n_steps, 1]`` (legacy NumPy RNG)."""
    rng = np.random.RandomState(seed)
    freq1, freq2, off1, off2 = rng.rand(4, batch_size, 1)
    t = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((t - off1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((t - off2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.rand(batch_size, n_steps) - 0.5)
    return series[..., np.newaxis].astype(np.float32)


def training_series(n: int) -> np.ndarray:
    """The first ``n`` (<= 7,000) series of the chapter's train split, ``[n, 60]`` float32."""
    return generate_time_series(N_SERIES, N_IN + HORIZON, SEED)[:n, :, 0]


def make_callback(key: str, steps_per_epoch: int, check: bool):
    import pytorch_lightning as pl
    import torch

    class Timer(pl.Callback):
        """Wall-clock marks at epoch starts / ends and after every ``steps_per_epoch`` batches."""

        def __init__(self) -> None:
            RECORDS[key] = {"epoch_start": [], "epoch_end": [], "step_marks": [], "batches": 0}

        @property
        def rec(self) -> dict:  # looked up each time: the peers may deep-copy the callback
            return RECORDS[key]

        def on_train_start(self, trainer, pl_module) -> None:
            loader = trainer.train_dataloader
            self.rec.update(
                batches_per_epoch=int(trainer.num_training_batches),
                dataset_len=len(loader.dataset),
                loader_batch_size=loader.batch_size,
                torch_threads=torch.get_num_threads(),
                parameters=sum(p.numel() for p in pl_module.parameters()),
                module=type(pl_module).__name__,
            )
            if check:
                if key.startswith("nf_"):  # windows the first batch of series yields
                    batch = trainer.strategy.batch_to_device(next(iter(loader)))
                    *_, cond, _, _ = pl_module._create_windows(batch, step="train")
                    self.rec["first_batch"] = {"series": int(batch["temporal"].shape[0]),
                                               "windows": int(len(cond))}
                raise CheckDone

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            now = time.perf_counter()
            self.rec["epoch_start"].append(now)
            if not self.rec["step_marks"]:
                self.rec["step_marks"].append(now)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.rec["batches"] += 1
            if self.rec["batches"] % steps_per_epoch == 0:
                self.rec["step_marks"].append(time.perf_counter())

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            self.rec["epoch_end"].append(time.perf_counter())

    return Timer()


def trainer_kwargs(callback, root: str) -> dict:
    return dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                num_sanity_val_steps=0, default_root_dir=root, callbacks=[callback])


def run_darts(key: str, data: np.ndarray, epochs: int, steps: int, check: bool,
              root: str) -> None:
    from darts import TimeSeries
    from darts.models import BlockRNNModel, TCNModel

    series = [TimeSeries.from_values(s) for s in data]
    common = dict(input_chunk_length=N_IN, output_chunk_length=HORIZON, batch_size=BATCH,
                  n_epochs=epochs, random_state=SEED, optimizer_kwargs={"lr": 1e-3},
                  save_checkpoints=False, work_dir=root, log_tensorboard=False,
                  pl_trainer_kwargs=trainer_kwargs(make_callback(key, steps, check), root))
    if key == "darts_tcn":
        model = TCNModel(num_filters=20, kernel_size=2, dilation_base=2,
                         num_layers=DARTS_TCN_BLOCKS, weight_norm=False, dropout=0.0, **common)
    else:
        model = BlockRNNModel(model=key.split("_")[1].upper(), hidden_dim=20, n_rnn_layers=2,
                              dropout=0.0, **common)
    model.fit(series, epochs=epochs, verbose=False)


def run_nf(key: str, data: np.ndarray, epochs: int, steps: int, check: bool, root: str) -> None:
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import GRU, LSTM, TCN

    n, t = data.shape
    df = pd.DataFrame({"unique_id": np.repeat(np.arange(n), t),
                       "ds": np.tile(np.arange(t), n),
                       "y": data.reshape(-1)})
    max_steps = steps * epochs
    common = dict(h=HORIZON, input_size=N_IN, encoder_hidden_size=20, decoder_layers=1,
                  loss=MSE(), valid_loss=MSE(), max_steps=max_steps, val_check_steps=max_steps,
                  learning_rate=1e-3, batch_size=BATCH, windows_batch_size=None,
                  training_data_availability_threshold=1.0, scaler_type="identity",
                  random_seed=SEED, **trainer_kwargs(make_callback(key, steps, check), root))
    if key == "nf_tcn":
        model = TCN(kernel_size=2, dilations=TCN_DILATIONS, **common)
    else:
        cls = LSTM if key == "nf_lstm" else GRU
        model = cls(encoder_n_layers=2, encoder_dropout=0.0, **common)
    NeuralForecast(models=[model], freq=1).fit(df=df, val_size=0)


def seconds_per_epoch(key: str) -> dict:
    rec = RECORDS[key]
    if key.startswith("nf_"):  # per run of `steps` optimisation steps
        marks = rec["step_marks"]
        times = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    else:
        times = [b - a for a, b in zip(rec["epoch_start"], rec["epoch_end"], strict=False)]
    out = {"epoch_seconds": times}
    if len(times) >= 2:
        out["s_per_epoch"] = statistics.median(times[1:])
    return out


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    got = {"python": platform.python_version()}
    for pkg in ("torch", "darts", "neuralforecast", "pytorch-lightning", "lightning", "numpy",
                "pandas"):
        try:
            got[pkg] = version(pkg)
        except PackageNotFoundError:
            got[pkg] = None
    return got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3, help="epochs per model (>= 2; default 3)")
    ap.add_argument("--only", default=",".join(MODELS),
                    help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--series", type=int, default=N_TRAIN,
                    help=f"training series (default {N_TRAIN}; fewer only for smoke tests)")
    ap.add_argument("--out", help="write the results as JSON to this file")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1; seqnets picks 1 or 2 per model)")
    ap.add_argument("--check", action="store_true",
                    help="only build each model's data loader and print batches per epoch")
    args = ap.parse_args(argv)
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in keys if k not in MODELS]
    if bad or not keys:
        ap.error(f"--only: unknown {bad}; choose from {', '.join(MODELS)}")
    if args.epochs < 2 and not args.check:
        ap.error("--epochs must be >= 2 (epoch 1 is excluded as start-up)")
    if not 1 <= args.series <= N_TRAIN:
        ap.error(f"--series must be in 1..{N_TRAIN}")

    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "darts",
                 "neuralforecast"):
        logging.getLogger(name).setLevel(logging.ERROR)

    data = training_series(args.series)
    steps = math.ceil(args.series / BATCH)
    print(f"{args.series} series of {data.shape[1]} steps, batch {BATCH}: "
          f"{steps} batches per epoch expected", flush=True)
    results: dict[str, dict] = {}
    for key in keys:
        runner = run_darts if key.startswith("darts_") else run_nf
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="peers-") as root:
            try:
                runner(key, data, args.epochs, steps, args.check, root)
            except CheckDone:
                pass
        rec = RECORDS[key]
        res = {k: rec.get(k) for k in ("module", "parameters", "batches_per_epoch",
                                       "dataset_len", "loader_batch_size", "torch_threads",
                                       "first_batch")}
        res["wall_seconds"] = time.perf_counter() - t0
        extra = f", first batch {rec['first_batch']}" if rec.get("first_batch") else ""
        print(f"{key}: {res['module']} ({res['parameters']} parameters), "
              f"{res['dataset_len']} training samples/series, loader batch "
              f"{res['loader_batch_size']}, {res['batches_per_epoch']} batches per epoch, "
              f"{res['torch_threads']} torch thread(s){extra}", flush=True)
        if res["batches_per_epoch"] != steps:
            print(f"  WARNING: {key} has {res['batches_per_epoch']} batches per epoch, "
                  f"not {steps}", flush=True)
        if not args.check:
            res.update(seconds_per_epoch(key))
            res["epochs_run"] = len(res["epoch_seconds"])
            print(f"  epoch seconds: {[round(s, 2) for s in res['epoch_seconds']]}", flush=True)
        results[key] = res

    if not args.check:
        print(f"\n{'model':<12} {'s/epoch':>8}   (median of epochs 2..{args.epochs})")
        for key, res in results.items():
            print(f"{key:<12} {res.get('s_per_epoch', float('nan')):8.2f}")
    if args.out:
        doc = {"versions": versions(),
               "settings": {"series": args.series, "steps": N_IN + HORIZON, "input_steps": N_IN,
                            "horizon": HORIZON, "seed": SEED, "batch_size": BATCH,
                            "batches_per_epoch": steps, "epochs": args.epochs,
                            "torch_threads": args.threads, "device": "cpu",
                            "check_only": args.check,
                            "machine": platform.machine(), "argv": sys.argv[1:],
                            "darts_tcn_blocks": DARTS_TCN_BLOCKS,
                            "nf_tcn_dilations": TCN_DILATIONS,
                            "timing": "median of epochs 2..N; Darts: on_train_epoch_start/end; "
                                      f"NeuralForecast: every {steps} steps in on_train_batch_end"},
               "results": results}
        with open(args.out, "w") as fh:
            json.dump(doc, fh, indent=2)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
