"""Generation speed of the chorale models: 56 chords from the 8 opening chords of test
chorale 2, note by note, as the textbook does it (the whole sequence through the model for
every note) and incrementally (seqnets.music.generate: conv queues and recurrent state).
Prints one JSON line per model. Weights do not change the time, so an untrained model is
used unless a trained model folder is given.

    python benchmarks/chorales_generation.py [--model-dir DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import seqnets as sn
from seqnets.data.chorales import load_chorales, to_classes
from seqnets.music import generate, load_chorale_model


def recompute(model, seed_chords, chords):
    seq = torch.from_numpy(to_classes(seed_chords).reshape(1, -1))
    with torch.no_grad():
        for _ in range(4 * chords):
            nxt = model(seq.float())[:, -1].argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
    return seq[0].numpy()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", action="append", default=[])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [load_chorales().test[2][:8]]
    models = [(d, load_chorale_model(d)[0]) for d in args.model_dir] or \
        [(name, sn.zoo.build(name, seed=42).eval()) for name in ("chorale_cnn_lstm",
                                                                  "chorale_beat_lstm")]
    for name, model in models:
        fast = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = generate(model, seeds, 56, temperature=0)
            fast.append(time.perf_counter() - start)
        start = time.perf_counter()
        slow = recompute(model, seeds[0], 56)
        slow_s = time.perf_counter() - start
        print(json.dumps({
            "model": name, "chords": 56, "seed_chords": 8, "threads": args.threads,
            "incremental_s_median": float(np.median(fast)), "incremental_s": fast,
            "recompute_s": slow_s,
            "equal_at_temperature_0": bool(np.array_equal(to_classes(out[0]).reshape(-1),
                                                          slow))}), flush=True)


if __name__ == "__main__":
    main()
