"""``seqnets bench``: speed and memory of the zoo's models, optionally beside Keras.

Each model is measured in a fresh process (so peak RSS is its own): seconds per training
epoch on the chapter's data (7,000 series × 50 steps, batch 32, validation included, the
first epoch excluded as Keras's timing does), samples per second, peak RSS, the latency
of one window and the throughput of a 1,024-window batch at inference. With ``--vs-keras
PYTHON`` the same experiments run in Keras 3 (the peer script ``keras_ch15.py``, in its own
environment), one after another on the same machine, and the table shows the ratios.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..checks import positive_int
from ..errors import ConfigError

# our experiment name -> the peer script's
KERAS_NAMES = {
    "linear": "linear_1step", "simple_rnn": "simple_rnn", "deep_rnn": "deep_rnn",
    "deep_rnn_dense": "deep_rnn_dense", "linear_10": "linear_10step",
    "seq2vec_10": "seq2vec_10", "seq2seq_rnn": "seq2seq_simplernn",
    "ln_rnn": "seq2seq_ln_simplernn", "lstm": "seq2seq_lstm", "gru": "seq2seq_gru",
    "bn_rnn": "seq2seq_bn_simplernn", "conv_gru": "conv_gru", "wavenet": "wavenet",
}
DEFAULT_MODELS = ["linear", "simple_rnn", "deep_rnn", "deep_rnn_dense", "linear_10",
                  "seq2vec_10", "seq2seq_rnn", "ln_rnn", "lstm", "peephole_lstm", "gru",
                  "conv_gru", "wavenet"]


def measure(name: str, epochs: int, seed: int = 42) -> dict[str, Any]:
    """Measure one zoo model of the chapter in this process (see the module docstring)."""
    from ..data.synthetic import chapter_splits
    from ..layers.ops.dispatch import default_threads, thread_count
    from ..models import zoo
    from ..training import fit
    from . import experiments

    exp = experiments.get(name)
    if exp.kind != "trained":
        raise ConfigError(f"{name} is not a trained model; bench measures zoo models")
    data = chapter_splits(exp.task, seed=seed)
    train, valid = data.train, data.valid
    if exp.crop:
        train, valid = (train[0], train[1][:, 3::2]), (valid[0], valid[1][:, 3::2])
    model = zoo.build(exp.model, seed=seed)
    threads = default_threads(model)
    metrics = ["last_time_step_mse"] if exp.scored_on_last_step else []
    history = fit(model, train, valid=valid, epochs=epochs, lr=exp.lr, metrics=metrics,
                  seed=seed, threads=threads, quiet=True)
    seconds = history["seconds"]
    per_epoch = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    key = "val_last_time_step_mse" if exp.scored_on_last_step else "val_loss"
    model.eval()
    one, batch = torch.tensor(valid[0][:1]), torch.tensor(valid[0][:1024])
    with torch.no_grad(), thread_count(threads):
        latency = time_call(lambda: model(one), repeats=200)
        batch_seconds = time_call(lambda: model(batch), repeats=10)
    return {
        "model": name, "params": sum(p.numel() for p in model.parameters()),
        "epochs": epochs, "threads": threads, "seconds_per_epoch": per_epoch,
        "first_epoch_seconds": seconds[0], "samples_per_second": len(train[0]) / per_epoch,
        "valid_mse": history[key][-1], "peak_rss_mb": _peak_rss_mb(),
        "latency_ms": latency * 1e3, "batch_1024_windows_per_second": 1024 / batch_seconds,
    }


def time_call(fn: Callable[[], Any], repeats: int,
              summary: Callable[[list[float]], float] = statistics.median) -> float:
    """Wall seconds of ``fn()``: one warm-up call, then ``summary`` (median by default, or
    e.g. ``min``) of ``repeats`` timed calls."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return summary(times)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _run_json(cmd: list[str], what: str) -> list[dict[str, Any]]:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return [json.loads(line[len("RESULT "):]) for line in done.stdout.splitlines()
            if line.startswith("RESULT ")]


def ours(name: str, epochs: int, seed: int) -> dict[str, Any]:
    """:func:`measure` in a fresh Python process."""
    cmd = [sys.executable, "-m", "seqnets.chapter.bench", name, str(epochs), str(seed)]
    return _run_json(cmd, f"measuring {name}")[0]


def default_keras_script() -> Path | None:
    """The peer script beside the checkout (``../shared/peers/keras_ch15.py``), if there."""
    env = os.environ.get("SEQNETS_KERAS_SCRIPT")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "peers" / "keras_ch15.py"
        if candidate.is_file():
            return candidate
    return None


def keras(name: str, python: str, script: Path, epochs: int, seed: int) -> dict[str, Any]:
    """The same experiment in Keras, in its own environment."""
    kname = KERAS_NAMES.get(name)
    if kname is None:
        return {"model": name, "keras": "no Keras counterpart"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "keras.jsonl"
        cmd = [python, str(script), "--seed", str(seed), "--only", kname, "--epochs",
               str(epochs), "--out", str(out)]
        _run_json(cmd, f"Keras {kname}")
        rec = json.loads(out.read_text().splitlines()[-1])
    # the median of the epochs after the first, as for ours (the script's own summary is
    # their mean, which a slow spell of the machine moves more)
    epochs_s = rec["epoch_s"][1:] or rec["epoch_s"]
    return {"model": name, "seconds_per_epoch": statistics.median(epochs_s),
            "first_epoch_seconds": rec["first_epoch_s"], "peak_rss_mb": rec["peak_rss_mb"],
            "valid_mse": (rec["valid_mse"] if rec.get("valid_last_time_step_mse") is None
                          else rec["valid_last_time_step_mse"])}


def run(models: Sequence[str] | None = None, epochs: int = 3, seed: int = 42,
        keras_python: str | None = None, keras_script: str | Path | None = None,
        log: Callable[[str], None] = print, repeats: int = 1) -> dict[str, Any]:
    """Benchmark ``models`` (default: the chapter's trained models); returns the results.

    ``repeats > 1`` measures each model that many times, alternating with Keras when it
    runs (ours, Keras, ours, Keras, ...), and reports medians: the median of our times,
    of Keras's, and of the paired ratios, so that a slow spell of the machine lands on both
    sides of a pair instead of on one side of the comparison."""
    models = list(models or DEFAULT_MODELS)
    if epochs < 2:
        raise ConfigError("bench needs at least 2 epochs (the first one is excluded)")
    positive_int(repeats, "repeats")
    script = Path(keras_script) if keras_script else default_keras_script()
    if keras_python and (script is None or not script.is_file()):
        raise ConfigError("--vs-keras needs the peer script keras_ch15.py: give "
                          "--keras-script PATH or set SEQNETS_KERAS_SCRIPT")
    start = time.perf_counter()
    rows = []
    for name in models:
        pairs = []
        for _ in range(repeats):
            row = ours(name, epochs, seed)
            log(f"seqnets {name}: {row['seconds_per_epoch']:.3f} s/epoch")
            if keras_python:
                k = keras(name, keras_python, script, epochs, seed)
                row["keras"] = k
                if "seconds_per_epoch" in k:
                    row["ratio"] = row["seconds_per_epoch"] / k["seconds_per_epoch"]
                    log(f"keras   {name}: {k['seconds_per_epoch']:.3f} s/epoch "
                        f"(ratio {row['ratio']:.2f})")
            pairs.append(row)
        rows.append(pairs[0] if repeats == 1 else _median_row(pairs))
    return {"settings": {"epochs": epochs, "seed": seed, "batch_size": 32,
                         "repeats": repeats,
                         "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                         "torch": torch.__version__, "keras_python": keras_python,
                         "wall_seconds": time.perf_counter() - start},
            "rows": rows}


def _median_row(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from repeated measurements: the run with the median time, its times and
    ratio replaced by the medians; every run kept under ``runs``."""
    ordered = sorted(pairs, key=lambda r: r["seconds_per_epoch"])
    row = dict(ordered[len(ordered) // 2])
    row["seconds_per_epoch"] = statistics.median(r["seconds_per_epoch"] for r in pairs)
    keras_times = [r["keras"]["seconds_per_epoch"] for r in pairs
                   if "seconds_per_epoch" in r.get("keras", {})]
    if keras_times:
        row["keras"] = dict(row["keras"], seconds_per_epoch=statistics.median(keras_times))
        row["ratio"] = statistics.median(r["ratio"] for r in pairs if "ratio" in r)
    row["runs"] = [{"seconds_per_epoch": r["seconds_per_epoch"],
                    "keras_seconds_per_epoch": r.get("keras", {}).get("seconds_per_epoch"),
                    "ratio": r.get("ratio")} for r in pairs]
    return row


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    with_keras = any("keras" in r for r in results["rows"])
    head = "| model | params | s/epoch | samples/s | peak RSS MB | latency ms | windows/s @1024 |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if with_keras:
        head += " Keras s/epoch | ratio |"
        rule += "---:|---:|"
    lines = [head, rule]
    for r in results["rows"]:
        line = (f"| {r['model']} | {r['params']:,} | {r['seconds_per_epoch']:.3f} | "
                f"{r['samples_per_second']:,.0f} | {r['peak_rss_mb']:.0f} | "
                f"{r['latency_ms']:.2f} | {r['batch_1024_windows_per_second']:,.0f} |")
        if with_keras:
            k = r.get("keras", {})
            if "seconds_per_epoch" in k:
                line += f" {k['seconds_per_epoch']:.3f} | {r['ratio']:.2f} |"
            else:
                line += " — | — |"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":  # the per-model worker: python -m seqnets.chapter.bench NAME EPOCHS SEED
    result = measure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    print("RESULT " + json.dumps(result), flush=True)
