"""The fewest seconds an epoch of ``chorale_cnn_lstm`` can take on this machine's CPU: the
epoch's floating-point work over the fastest float32 matrix product the machine runs.

    .venv/bin/python benchmarks/chorales_roofline.py --threads 2 \
        --out benchmarks/results/chorales/roofline.json

The work is counted from the layer shapes (a multiply-add is 2 FLOPs; a layer's backward
pass is counted as twice its forward: one product for the input's gradient, one for the
weights'), over the textbook's training windows (window 32 chords, shift 16, 4 notes a
chord: 131 steps each) and, forward only, its validation windows. Element-wise work (gates,
activations, batch norm, the loss) is left out, so the bound is below the real minimum.
The machine's rate is measured with ``torch.mm`` on square float32 matrices (the shape
BLAS runs fastest; the LSTM's own step product, 32 × 256 by 256 × 1024, is measured too
and runs slower). The bound is what a perfect float32 kernel would need; it is compared
with the issue's bar, a quarter of Keras 3's 20 s epoch on this machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from seqnets.data.chorales import arpeggio_windows, load_chorales
from seqnets.io import atomic_write_text

EMBEDDING, FILTERS, KERNEL, UNITS, CLASSES = 5, (32, 48, 64, 96), 2, 256, 47
KERAS_EPOCH_SECONDS = 20.0  # issue 14's median on this machine (Keras 3, TF CPU)


def forward_flops_per_window(steps: int) -> dict:
    """Multiply-add FLOPs of one window's forward pass, per layer group."""
    conv, channels = 0, EMBEDDING
    for filters in FILTERS:
        conv += 2 * steps * KERNEL * channels * filters
        channels = filters
    lstm = 2 * steps * 4 * UNITS * (channels + UNITS)
    dense = 2 * steps * UNITS * CLASSES
    return {"conv": conv, "lstm": lstm, "dense": dense}


def matmul_gflops(n: int, m: int, k: int, repeats: int) -> float:
    """Best-of-5 rate of ``[n, k] @ [k, m]`` in float32, GFLOP/s."""
    a, b = torch.randn(n, k), torch.randn(k, m)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * n * m * k / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_chorales()
    train = arpeggio_windows(data.train)[0]
    valid = arpeggio_windows(data.valid)[0]
    steps = train.shape[1]
    per_window = forward_flops_per_window(steps)
    forward = sum(per_window.values())
    epoch_flops = 3 * forward * len(train) + forward * len(valid)
    square = max(matmul_gflops(n, n, n, 5) for n in (1024, 2048, 4096))
    lstm_step = matmul_gflops(32, 4 * UNITS, UNITS, 2000)
    bound = epoch_flops / (square * 1e9)
    training_bound = 3 * forward * len(train) / (square * 1e9)
    result = {
        "threads": args.threads, "train_windows": len(train), "valid_windows": len(valid),
        "steps": steps, "forward_mflops_per_window": {k: v / 1e6 for k, v in
                                                      per_window.items()},
        "epoch_tflops": epoch_flops / 1e12, "square_matmul_gflops": square,
        "lstm_step_matmul_gflops": lstm_step, "epoch_seconds_lower_bound": bound,
        "training_only_seconds_lower_bound": training_bound,
        "bar_seconds": KERAS_EPOCH_SECONDS / 4,
        "bar_reachable_by_float32_work": training_bound <= KERAS_EPOCH_SECONDS / 4}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
