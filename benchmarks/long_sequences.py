"""Long sequences: fast WaveNet generation and the memory of training on 16,384 steps.

    .venv/bin/python benchmarks/long_sequences.py [--generate-steps 16000] [--batch 8]

1. WaveNet 3 blocks × 10 layers × 32 channels: time to generate ``--generate-steps`` steps
   with the cached queues, against recomputing the receptive field at every step (timed
   over ``--naive-steps`` steps and scaled), and the largest difference between the two.
2. One training epoch of the same WaveNet (gradient checkpointing on) on 64 series of
   16,384 steps, in a fresh process: seconds and peak RSS.
Prints a table and writes ``long_sequences.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from seqnets import fit
from seqnets.data import generate_time_series, seq2seq_targets
from seqnets.layers import WaveNet


def generation(steps: int, naive_steps: int, context: int) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = WaveNet(blocks=3, layers_per_block=10, channels=32, outputs=1, input_size=1).eval()
    x = torch.tensor(generate_time_series(1, context, seed=1))
    start = time.perf_counter()
    fast = model.generate(x, steps)
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    naive = model.generate(x, naive_steps, implementation="naive")
    naive_s = time.perf_counter() - start
    naive_total = naive_s / naive_steps * steps
    return {"steps": steps, "receptive_field": model.receptive_field,
            "fast_seconds": fast_s, "naive_seconds_per_step": naive_s / naive_steps,
            "naive_seconds_estimated": naive_total, "speedup": naive_total / fast_s,
            "max_abs_difference": float((fast[:, :naive_steps] - naive).abs().max())}


def training_memory(series: int, length: int, batch: int) -> dict:
    """Runs in its own process (peak RSS is per process)."""
    torch.manual_seed(0)
    data = generate_time_series(series, length + 10, seed=2)
    x, y = data[:, :length], seq2seq_targets(data, n_steps=length, horizon=10)
    model = WaveNet(blocks=3, layers_per_block=10, channels=32, outputs=10, checkpoint=True,
                    input_size=1)
    start = time.perf_counter()
    history = fit(model, (x, y), epochs=1, batch_size=batch, seed=0, quiet=True,
                  threads=torch.get_num_threads())
    return {"series": series, "length": length, "batch_size": batch,
            "epoch_seconds": time.perf_counter() - start, "loss": history["loss"][0],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate-steps", type=int, default=16000)
    parser.add_argument("--naive-steps", type=int, default=40)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--series", type=int, default=64)
    parser.add_argument("--length", type=int, default=16384)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="long_sequences.json")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(training_memory(args.series, args.length, args.batch)))
        return
    gen = generation(args.generate_steps, args.naive_steps, args.context)
    print(f"generation: {gen['steps']} steps in {gen['fast_seconds']:.2f} s with queues; "
          f"recomputation {gen['naive_seconds_per_step'] * 1e3:.1f} ms/step → "
          f"{gen['naive_seconds_estimated']:.0f} s; speed-up {gen['speedup']:.0f}×; "
          f"max difference {gen['max_abs_difference']:.2e}", flush=True)
    cmd = [sys.executable, __file__, "--worker", "--series", str(args.series), "--length",
           str(args.length), "--batch", str(args.batch)]
    train = json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                      check=True).stdout.splitlines()[-1])
    print(f"training: {train['series']} × {train['length']} steps, batch "
          f"{train['batch_size']}: one epoch {train['epoch_seconds']:.1f} s, peak RSS "
          f"{train['peak_rss_mb']:.0f} MB", flush=True)
    with open(args.out, "w") as f:
        json.dump({"generation": gen, "training": train}, f, indent=1)


if __name__ == "__main__":
    main()
