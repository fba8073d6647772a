"""GPU check, for a machine with CUDA: the fused cuDNN paths are taken and agree with the
cell loop; every zoo model gives the same outputs and gradients on CUDA as on CPU (fused,
compiled-on-CPU, loop and convolution paths alike); WaveNet's fast generation equals full
recomputation on CUDA; a model saved from CUDA loads on CPU; the zoo's epoch times at batch
32 and 1,024, with every warning raised; WaveNet's epoch with our convolution taps against
cuDNN's conv1d.

    PYTHONPATH=src python benchmarks/gpu_check.py [--out DIR] [--budget SECONDS]

Writes ``gpu_check.json`` (and prints it). Needs no installation beyond torch and numpy.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch

import seqnets as sn
from seqnets.chapter import BY_NAME
from seqnets.data import chapter_splits
from seqnets.layers import GRU, LSTM, SimpleRNN


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def fused_checks(device: torch.device) -> list[dict]:
    rows = []
    for cls, kwargs in ((SimpleRNN, {}), (SimpleRNN, {"activation": "relu"}), (LSTM, {}),
                        (GRU, {})):
        torch.manual_seed(0)
        fused = cls(16, return_sequences=True, input_size=8, **kwargs).to(device)
        path = fused._path(torch.zeros(1, 1, 8, device=device), None)
        assert path == "fused" or device.type == "cpu", path  # CPU may take the compiled loop
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
        activities = [torch.profiler.ProfilerActivity.CPU]
        if device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        with torch.profiler.profile(activities=activities) as prof:
            fused(x).sum().backward()
            _sync(device)
        ops = sorted({e.key for e in prof.key_averages()})
        rows.append({
            "layer": cls.__name__ + (f"({kwargs})" if kwargs else ""), "path": path,
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


def _zoo_batch(name: str, rows: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    exp = BY_NAME.get(name)
    task = exp.task if exp else sn.zoo.info(name).task
    x, y = (torch.tensor(a[:rows]) for a in chapter_splits(task, seed=42).train)
    return x.to(device), (y[:, 3::2] if name == "conv_gru" else y).to(device)


def device_parity(device: torch.device) -> list[dict]:
    """Each zoo model on CPU and on CUDA with the same weights: outputs (eval mode) and,
    for models without dropout, the gradients of the training loss."""
    rows = []
    for name in sn.zoo.names():
        x, y = _zoo_batch(name, 64, torch.device("cpu"))
        cpu = sn.zoo.build(name, seed=0)
        gpu = sn.zoo.build(name, seed=0).to(device)
        gpu.load_state_dict(cpu.state_dict())
        row = {"model": name}
        for model in (cpu, gpu):
            model.eval()
        with torch.no_grad():
            out_cpu = cpu(x)
            out_gpu = gpu(x.to(device)).cpu()
        row["max_output_diff"] = float((out_cpu - out_gpu).abs().max())
        if "dropout" not in name and name != "bn_rnn":
            grads = []
            for model, dev in ((cpu, torch.device("cpu")), (gpu, device)):
                model.train()
                loss = torch.nn.functional.mse_loss(model(x.to(dev)), y.to(dev))
                params = list(model.parameters())
                # allow_unused: WaveNet's last residual product feeds nothing
                found = torch.autograd.grad(loss, params, allow_unused=True)
                grads.append([torch.zeros_like(p).cpu() if g is None else g.cpu()
                              for p, g in zip(params, found, strict=True)])
            row["max_grad_rel_diff"] = max(
                float((a - b).abs().max() / a.abs().max().clamp_min(1e-12))
                for a, b in zip(*grads, strict=True))
        rows.append(row)
        print(row, flush=True)
    return rows


def generation_check(device: torch.device) -> dict:
    """WaveNet (3 blocks × 10 layers, 32 channels) on CUDA: cached generation against full
    recomputation, and its speed."""
    from seqnets.layers import WaveNet

    torch.manual_seed(0)
    net = WaveNet(blocks=3, layers_per_block=10, channels=32, outputs=1, input_size=1).to(device)
    context = torch.randn(4, 64, 1, device=device)
    steps = 200
    timings = {}
    outs = {}
    for impl in ("torch", "naive"):
        _sync(device)
        start = time.perf_counter()
        outs[impl] = net.generate(context, steps, implementation=impl)
        _sync(device)
        timings[impl] = time.perf_counter() - start
    return {"steps": steps, "max_diff": float((outs["torch"] - outs["naive"]).abs().max()),
            "cached_seconds": timings["torch"], "naive_seconds": timings["naive"],
            "speedup": timings["naive"] / timings["torch"]}


def save_load_check(device: torch.device) -> dict:
    """A model trained on CUDA, saved, loaded on CPU: the same outputs."""
    x, y = _zoo_batch("gru", 256, device)
    model = sn.zoo.build("gru", seed=0).to(device)
    sn.fit(model, (x, y), epochs=1, batch_size=32, seed=0, quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        sn.save(model, Path(tmp) / "gru")
        loaded = sn.load(Path(tmp) / "gru")
    model.eval()
    with torch.no_grad():
        diff = (model(x).cpu() - loaded(x.cpu())).abs().max()
    return {"model": "gru", "max_output_diff": float(diff)}


def conv_paths(device: torch.device) -> list[dict]:
    """WaveNet (the zoo's) per epoch with our time-major taps against cuDNN's conv1d."""
    from seqnets.layers.ops import dispatch as conv

    x, y = _zoo_batch("wavenet", 7000, device)
    rows = []
    default_devices = conv.TAPS_DEVICES
    try:
        for path, devices in (("taps", ("cpu", device.type)), ("conv1d", ("none",))):
            conv.TAPS_DEVICES = devices  # ("none",): every Conv1D takes F.conv1d
            for batch in (32, 1024):
                model = sn.zoo.build("wavenet", seed=0).to(device)
                hist = sn.fit(model, (x, y), epochs=3, batch_size=batch, seed=0, quiet=True)
                rows.append({"path": path, "batch": batch,
                             "seconds_per_epoch": min(hist["seconds"][1:]),
                             "loss": hist["loss"][-1]})
                print(rows[-1], flush=True)
    finally:
        conv.TAPS_DEVICES = default_devices
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
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                hist = sn.fit(model, (x, y), epochs=2, batch_size=batch, seed=0, quiet=True)
            rows.append({"model": name, "batch": batch,
                         "seconds_per_epoch": hist["seconds"][1],
                         "first_epoch_seconds": hist["seconds"][0],
                         "loss": hist["loss"][-1],
                         "warnings": sorted({str(w.message)[:200] for w in caught})})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds for the zoo's epoch times; models past it are skipped")
    parser.add_argument("--device", default="cuda",
                        help="'cpu' runs every check against itself: a dry run of the script")
    args = parser.parse_args()
    device = torch.device(args.device)
    # exact float32 for the equality checks (cuDNN may otherwise use TF32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    result = {"device": name, "torch": torch.__version__,
              "cudnn": torch.backends.cudnn.version(), "fused": fused_checks(device),
              "conv": conv_checks(device)}
    print(json.dumps({k: result[k] for k in ("fused", "conv")}, indent=1), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # each stage is saved as it ends, so a run cut short still brings back what it measured
    for key, stage in (("parity", device_parity), ("generation", generation_check),
                       ("save_load", save_load_check), ("conv_paths", conv_paths),
                       ("epochs", lambda d: epoch_times(d, args.budget))):
        result[key] = stage(device)
        print(key, "done", flush=True)
        (out / "gpu_check.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
