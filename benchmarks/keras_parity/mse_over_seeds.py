"""Validation MSE after 20 epochs, seqnets against Keras, over every seed either side ran.

    python benchmarks/keras_parity/mse_over_seeds.py [--ours benchmarks/results/chapter ...]
        [--keras 'benchmarks/results/keras_ch15_seed*.jsonl'] [--out FILE.md]

Ours: the ``runs`` of ``seqnets reproduce`` result folders; Keras: the JSONL records of
``keras_ch15.py`` (sequence-to-sequence models scored on the last time step, as the chapter
does). Per model: mean and spread of each side, our mean relative to Keras's, a 95%
bootstrap interval for that ratio, and a two-sided permutation p-value for the difference of
the means (10,000 shuffles of the pooled seeds; both fixed-seeded, so the table reproduces).
Only numpy is needed.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np

# keras_ch15.py's experiment names -> the zoo's
KERAS_NAMES = {
    "linear_1step": "linear", "simple_rnn": "simple_rnn", "deep_rnn": "deep_rnn",
    "deep_rnn_dense": "deep_rnn_dense", "linear_10step": "linear_10",
    "seq2vec_10": "seq2vec_10", "seq2seq_simplernn": "seq2seq_rnn",
    "seq2seq_ln_simplernn": "ln_rnn", "seq2seq_lstm": "lstm", "seq2seq_gru": "gru",
    "conv_gru": "conv_gru", "wavenet": "wavenet",
}


def ours(folders: list[str]) -> dict[str, dict[int, float]]:
    scores: dict[str, dict[int, float]] = {}
    for folder in folders:
        for run in json.loads((Path(folder) / "results.json").read_text())["runs"]:
            if run["experiment"] in KERAS_NAMES.values():
                scores.setdefault(run["experiment"], {})[run["seed"]] = run["valid_mse"]
    return scores


def keras(pattern: str) -> dict[str, dict[int, float]]:
    scores: dict[str, dict[int, float]] = {}
    for path in sorted(glob.glob(pattern)):
        for line in Path(path).read_text().splitlines():
            rec = json.loads(line)
            name = KERAS_NAMES.get(rec.get("experiment"))
            if name is None or rec.get("status") == "failed":
                continue
            value = rec.get("valid_last_time_step_mse") or rec["valid_mse"]
            scores.setdefault(name, {})[rec["seed"]] = value
    return scores


def compare(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
            draws: int = 10_000) -> tuple[float, float, float, float]:
    """(ratio of means a/b, its 95% bootstrap interval low and high, permutation p-value)."""
    boot = (rng.choice(a, (draws, a.size)).mean(1) / rng.choice(b, (draws, b.size)).mean(1))
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    extreme = 0
    for _ in range(draws):
        rng.shuffle(pooled)
        extreme += abs(pooled[:a.size].mean() - pooled[a.size:].mean()) >= observed - 1e-15
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(a.mean() / b.mean()), float(low), float(high), (extreme + 1) / (draws + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ours", nargs="+", default=["benchmarks/results/chapter"])
    parser.add_argument("--keras", default="benchmarks/results/keras_ch15_seed*.jsonl")
    parser.add_argument("--out", default=None, help="also write the table here (Markdown)")
    args = parser.parse_args()
    mine, theirs = ours(args.ours), keras(args.keras)
    rng = np.random.default_rng(0)
    lines = ["| model | seqnets: seeds, mean ± std | Keras: seeds, mean ± std | ours / Keras "
             "(95% bootstrap) | permutation p |", "|---|---:|---:|---:|---:|"]
    for name in KERAS_NAMES.values():
        if name not in mine or name not in theirs:
            continue
        a = np.array(list(mine[name].values()))
        b = np.array(list(theirs[name].values()))
        row = f"| {name} | {a.size}: {a.mean():.5f} ± {a.std(ddof=1) if a.size > 1 else 0:.5f} " \
              f"| {b.size}: {b.mean():.5f} ± {b.std(ddof=1) if b.size > 1 else 0:.5f} "
        if a.size > 1 and b.size > 1:
            ratio, low, high, p = compare(a, b, rng)
            row += f"| {ratio:.3f} ({low:.3f}–{high:.3f}) | {p:.3f} |"
        else:
            row += f"| {a.mean() / b.mean():.3f} | |"
        lines.append(row)
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
