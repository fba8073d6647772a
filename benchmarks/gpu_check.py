"""GPU check, for a machine with CUDA: the fused cuDNN paths are taken and agree with the
cell loop, and the zoo's epoch times at batch 32 and 1,024.

    PYTHONPATH=src python benchmarks/gpu_check.py [--out DIR] [--budget SECONDS]

Writes ``gpu_check.json`` (and prints it). Needs no installation beyond torch and numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import seqnets as sn
from seqnets.chapter import BY_NAME
from seqnets.data import chapter_splits
from seqnets.layers import GRU, LSTM, SimpleRNN


def fused_checks(device: torch.device) -> list[dict]:
    rows = []
    for cls, kwargs in ((SimpleRNN, {}), (SimpleRNN, {"activation": "relu"}), (LSTM, {}),
                        (GRU, {})):
        torch.manual_seed(0)
        fused = cls(16, return_sequences=True, input_size=8, **kwargs).to(device)
        assert fused._path(torch.zeros(1, 1, 8, device=device), None) == "fused"
        loop = cls(16, return_sequences=True, input_size=8, implementation="loop",
                   **kwargs).to(device)
        loop.load_state_dict(fused.state_dict())
        x = torch.randn(4, 30, 8, device=device, requires_grad=True)
        grads = []
        outs = []
        for layer in (fused, loop):
            y = layer(x)
            outs.append(y.detach())
            grads.append(torch.autograd.grad(y.square().sum(), [x, *layer.parameters()]))
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                torch.profiler.ProfilerActivity.CUDA]) as prof:
            fused(x).sum().backward()
            torch.cuda.synchronize()
        ops = sorted({e.key for e in prof.key_averages()})
        rows.append({
            "layer": cls.__name__ + (f"({kwargs})" if kwargs else ""),
            "max_output_diff": float((outs[0] - outs[1]).abs().max()),
            "max_grad_diff": max(float((a - b).abs().max()) for a, b in zip(*grads, strict=True)),
            "max_grad_rel_diff": max(float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
                                     for a, b in zip(*grads, strict=True)),
            "cudnn_ops": [op for op in ops if "cudnn" in op.lower()][:6],
        })
    return rows


def conv_checks(device: torch.device) -> list[dict]:
    """The fused convolution runs (time-major taps) against cuDNN's conv1d, layer by layer."""
    import torch.nn.functional as F

    from seqnets.layers import Conv1D
    from seqnets.layers.conv import run_fused

    rows = []
    for label, specs in (
            ("wavenet", [dict(filters=20, kernel_size=2, padding="causal", activation="relu",
                              dilation_rate=r) for r in (1, 2, 4, 8)] + [dict(filters=10,
                                                                              kernel_size=1)]),
            ("strided+same", [dict(filters=8, kernel_size=4, strides=2, padding="valid"),
                              dict(filters=8, kernel_size=3, padding="same",
                                   activation="relu")])):
        torch.manual_seed(0)
        convs, channels = [], 3
        for spec in specs:
            convs.append(Conv1D(input_size=channels, **spec).to(device))
            channels = spec["filters"]
        x = torch.randn(16, 64, 3, device=device, requires_grad=True)
        params = [p for c in convs for p in c.parameters()]
        y = run_fused(convs, x)
        grads = torch.autograd.grad(y.square().sum(), [x, *params])
        ref = x
        for c in convs:
            left, right = c._pads(ref.shape[1])
            h = F.conv1d(F.pad(ref.transpose(1, 2), (left, right)), c.weight, c.bias,
                         stride=c.strides, dilation=c.dilation_rate).transpose(1, 2)
            ref = torch.relu(h) if c.activation == "relu" else h
        ref_grads = torch.autograd.grad(ref.square().sum(), [x, *params])
        rows.append({
            "run": label, "max_output_diff": float((y - ref).detach().abs().max()),
            "max_grad_rel_diff": max(float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
                                     for a, b in zip(grads, ref_grads, strict=True))})
    return rows


def epoch_times(device: torch.device, budget: float) -> list[dict]:
    rows = []
    start = time.perf_counter()
    for name in sn.zoo.names():
        exp = BY_NAME.get(name)
        task = exp.task if exp else sn.zoo.info(name).task
        data = chapter_splits(task, seed=42)
        x, y = (torch.tensor(a, device=device) for a in data.train)
        if name == "conv_gru":
            y = y[:, 3::2]
        for batch in (32, 1024):
            if time.perf_counter() - start > budget:
                rows.append({"model": name, "batch": batch, "skipped": "budget"})
                continue
            model = sn.zoo.build(name, seed=0).to(device)
            hist = sn.fit(model, (x, y), epochs=2, batch_size=batch, seed=0, quiet=True)
            rows.append({"model": name, "batch": batch,
                         "seconds_per_epoch": hist["seconds"][1],
                         "first_epoch_seconds": hist["seconds"][0],
                         "loss": hist["loss"][-1]})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--budget", type=float, default=240.0)
    args = parser.parse_args()
    device = torch.device("cuda")
    # exact float32 for the equality checks (cuDNN may otherwise use TF32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "cudnn": torch.backends.cudnn.version(), "fused": fused_checks(device),
              "conv": conv_checks(device)}
    print(json.dumps({k: result[k] for k in ("fused", "conv")}, indent=1), flush=True)
    result["epochs"] = epoch_times(device, args.budget)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "gpu_check.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
