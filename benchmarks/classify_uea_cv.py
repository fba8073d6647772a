#!/usr/bin/env python
"""A UEA recipe chosen on TRAIN alone, then scored on TEST once: stratified k-fold
cross-validation over the training file picks among the recipes ``classify_uea.py`` was
run with and two ensembles of five (``Classifier(ensemble=5)``: the mean of five models'
probabilities), and only the chosen one is trained on all of TRAIN (seeds 42, 43, 44) and
tested.

    SEQNETS_UEA_DIR=/tmp/aeonx/aeon/datasets/data .venv/bin/python \
        benchmarks/classify_uea_cv.py --json benchmarks/results/classify/japanese_vowels_cv.json

Each recipe is fitted on k - 1 folds (its own early-stopping split, if it has one, taken
from those) and scored on the held-out fold, one seed per fold; the best mean accuracy
wins, ties going to the earlier recipe in :data:`RECIPES` (the first is the Keras peer's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

import seqnets as sn
from seqnets.classify import Classifier

PEER = {"validation": 0.2, "patience": 20, "epochs": 100}
RECIPES = {
    "peer's (20% validation, patience 20)": {**PEER},
    "patience 40, 150 epochs at most": {**PEER, "patience": 40, "epochs": 150},
    "all of TRAIN, 80 epochs": {"validation": 0.0, "patience": None, "epochs": 80},
    "all of TRAIN, 50 epochs": {"validation": 0.0, "patience": None, "epochs": 50},
    "bidirectional first LSTM": {**PEER, "model_options": {"padding": "same",
                                                           "bidirectional": True}},
    "sketch_gru": {**PEER, "model": "sketch_gru"},
    "dilated_conv": {**PEER, "model": "dilated_conv"},
    "peer's, ensemble of 5": {**PEER, "ensemble": 5},
    "all of TRAIN, 50 epochs, ensemble of 5": {"validation": 0.0, "patience": None,
                                               "epochs": 50, "ensemble": 5},
}


def classifier(recipe: dict, seed: int) -> Classifier:
    settings = {"model": "sketch_lstm", "model_options": {"padding": "same"}, **recipe}
    return Classifier(settings.pop("model"), batch_size=16, lr=1e-3, bucket=False,
                      seed=seed, threads=1, **settings)


def folds(labels: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Stratified folds: each class's shuffled indices dealt round the ``k`` folds."""
    rng = np.random.default_rng(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    start = 0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            out[(start + j) % k].append(int(i))
        start += len(idx)
    return [np.sort(np.array(f)) for f in out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="JapaneseVowels")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    folder = Path(os.environ.get("SEQNETS_UEA_DIR", "."))
    find = lambda part: next(folder.rglob(f"{args.dataset}_{part}.ts"))  # noqa: E731
    train, test = sn.data.read_ts(find("TRAIN")), sn.data.read_ts(find("TEST"))
    series, labels = list(train.series), np.asarray(train.labels)
    parts = folds(labels, args.folds, seed=0)
    cv = {}
    for name, recipe in RECIPES.items():
        start, scores = time.perf_counter(), []
        for j, held in enumerate(parts):
            fit_idx = np.setdiff1d(np.arange(len(series)), held)
            clf = classifier(recipe, seed=j).fit([series[i] for i in fit_idx],
                                                 labels[fit_idx])
            scores.append(clf.score([series[i] for i in held], labels[held]))
        cv[name] = {"cv_accuracy": statistics.mean(scores), "folds": scores,
                    "seconds": time.perf_counter() - start}
        print(f"{name}: cv accuracy {cv[name]['cv_accuracy']:.4f} "
              f"({', '.join(f'{s:.3f}' for s in scores)}) in {cv[name]['seconds']:.0f} s",
              flush=True)
    chosen = max(cv, key=lambda n: cv[n]["cv_accuracy"])  # the first of equals
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        clf = classifier(RECIPES[chosen], seed).fit(train)
        runs.append({"seed": seed, "test_accuracy": clf.score(test)})
    mean = statistics.mean(r["test_accuracy"] for r in runs)
    print(f"chosen on TRAIN: {chosen}; TEST accuracy mean {mean:.4f} "
          f"({', '.join(format(r['test_accuracy'], '.4f') for r in runs)})")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"dataset": args.dataset, "folds": args.folds, "cv": cv, "chosen": chosen,
             "runs": runs, "mean_test_accuracy": mean}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
