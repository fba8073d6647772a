"""Batch slices and product routes of the native convolution loops: the measurements behind
``MIN_SLICE_ROWS`` and the default route of ``csrc/gemm.h``.

    .venv/bin/python benchmarks/conv_slices.py [--repeats 300]

For the chapter's WaveNet (8 causal dilated layers of 20 channels and a 1x1 head), the
milliseconds of one forward and backward pass at several batch sizes and lengths, with the
batch run as one slice on 2 intra-op threads and as 2 slices side by side, and their ratio;
then, at batch 32, the pass with each route of the products (AVX2 kernels, torch's BLAS,
ATen's mm). Run it on an otherwise idle machine; the order of what is compared alternates.
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

import torch

from seqnets.layers.ops import native
from seqnets.models import zoo


def pass_ms(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    def once() -> None:
        model(x).square().sum().backward()

    for _ in range(10):
        once()
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if native.library() is None:
        raise SystemExit("the native loops are unavailable here")
    torch.set_num_threads(2)
    model = zoo.build("wavenet", seed=0)
    print(f"{'batch':>5} {'steps':>5} {'rows':>6} {'1 slice ms':>10} {'2 slices ms':>11} "
          f"{'2/1':>5}")
    for batch, steps in [(1, 50), (2, 50), (4, 50), (8, 50), (4, 100), (16, 50), (32, 50),
                         (256, 50), (32, 500)]:
        x = torch.randn(batch, steps, 1, generator=torch.Generator().manual_seed(0))
        times: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.rounds):
            for slices in ((1, 2) if r % 2 == 0 else (2, 1)):
                with mock.patch.object(native, "slice_count", lambda b, t, k=slices: k):
                    reps = max(10, args.repeats * 1600 // (batch * steps))
                    times[slices].append(pass_ms(model, x, min(reps, args.repeats * 4)))
        one, two = statistics.median(times[1]), statistics.median(times[2])
        print(f"{batch:>5} {steps:>5} {batch * steps:>6} {one:>10.3f} {two:>11.3f} "
              f"{two / one:>5.2f}", flush=True)
    routes(model, args)


def routes(model: torch.nn.Module, args: argparse.Namespace) -> None:
    ops = native.library()
    best = ops.products(-1)
    names = {2: "AVX2 kernels", 1: "torch's BLAS", 0: "ATen mm"}
    x = torch.randn(32, 50, 1, generator=torch.Generator().manual_seed(0))
    times: dict[int, list[float]] = {r: [] for r in range(best + 1)}
    try:
        for r in range(args.rounds):
            for route in (sorted(times) if r % 2 == 0 else sorted(times, reverse=True)):
                ops.products(route)
                times[route].append(pass_ms(model, x, args.repeats))
    finally:
        ops.products(best)
    print("\nbatch 32 x 50 steps, 2 slices: ms per forward and backward pass")
    base = statistics.median(times[best])
    for route in sorted(times, reverse=True):
        ms = statistics.median(times[route])
        print(f"  {names[route]:<13} {ms:6.3f}  ({ms / base:.2f}x the default)")


if __name__ == "__main__":
    main()
