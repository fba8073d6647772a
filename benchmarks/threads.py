"""Intra-op threads against model size: the measurement behind ``default_threads``.

    .venv/bin/python benchmarks/threads.py [--steps 40]

For each model, milliseconds per training step (batch 32, the chapter's 50-step windows)
with 1 thread and with every core; plus two larger models where more threads can pay.
Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

import seqnets as sn
from seqnets.chapter import BY_NAME
from seqnets.data import chapter_splits

LARGE = {  # name: (builder, window length)
    "wavenet_3x10x32_len1024": (lambda: sn.zoo.build("wavenet_full", seed=0, blocks=3,
                                                     layers_per_block=10, channels=32), 1024),
    "gru_256_len200": (lambda: sn.Sequential([sn.layers.GRU(256, return_sequences=True),
                                              sn.layers.GRU(256, return_sequences=True),
                                              sn.layers.TimeDistributed(
                                                  sn.layers.Dense(10))],
                                             input_size=1, seed=0), 200),
}


def step_ms(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, threads: int,
            steps: int) -> float:
    torch.set_num_threads(threads)
    opt = torch.optim.Adam(model.parameters(), eps=1e-7)

    def step() -> None:
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", default="threads.json")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    for name in ["deep_rnn", "seq2seq_rnn", "ln_rnn", "lstm", "gru", "conv_gru", "wavenet"]:
        exp = BY_NAME[name]
        data = chapter_splits(exp.task, seed=0, n_series=100)
        x, y = torch.tensor(data.train[0][:32]), torch.tensor(data.train[1][:32])
        if exp.crop:
            y = y[:, 3::2]
        model = sn.zoo.build(name, seed=0)
        rows.append({"model": name, "params": sum(p.numel() for p in model.parameters()),
                     **{f"ms_{t}_threads": step_ms(model, x, y, t, args.steps)
                        for t in sorted({1, cores})}})
        print(rows[-1], flush=True)
    for name, (build, length) in LARGE.items():
        model = build()
        x = torch.randn(32, length, 1)
        y = torch.randn(32, length, 10)
        rows.append({"model": name, "params": sum(p.numel() for p in model.parameters()),
                     **{f"ms_{t}_threads": step_ms(model, x, y, t, max(4, args.steps // 10))
                        for t in sorted({1, cores})}})
        print(rows[-1], flush=True)
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
