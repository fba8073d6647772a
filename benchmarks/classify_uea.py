#!/usr/bin/env python
"""Test accuracy and seconds per epoch of seqnets' classifiers on a UEA/UCR dataset.

    SEQNETS_UEA_DIR=/tmp/aeonx/aeon/datasets/data nice -n 10 .venv/bin/python \
        benchmarks/classify_uea.py [--dataset JapaneseVowels] [--model sketch_lstm] \
        [--seeds 42,43,44] [--threads 1] [--bidirectional] [--json out.json]

The recipe is the Keras peer's (../shared/peers/classify_keras.py): Adam(1e-3), batch 16, a
stratified 20 % of TRAIN held out for early stopping on val_loss (patience 20, best weights
kept, at most 100 epochs), per-channel z-normalisation with TRAIN's statistics; the
convolutions use padding='same' (JapaneseVowels has series of 7 steps; three strided
'valid' convolutions need 21) and the model takes each series' length.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import seqnets as sn
from seqnets.classify import Classifier


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="JapaneseVowels")
    ap.add_argument("--model", default="sketch_lstm")
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--patience", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--padding", default="same")
    ap.add_argument("--bidirectional", action="store_true",
                    help="the first recurrent layer of the sketch models Bidirectional")
    ap.add_argument("--validation", type=float, default=0.2,
                    help="share of each class held out for early stopping (0: none)")
    ap.add_argument("--bucket", action="store_true", help="batches of similar lengths")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    folder = Path(os.environ.get("SEQNETS_UEA_DIR", "."))
    find = lambda part: next(folder.rglob(f"{args.dataset}_{part}.ts"))  # noqa: E731
    train, test = sn.data.read_ts(find("TRAIN")), sn.data.read_ts(find("TEST"))
    print(f"{args.dataset}: train {len(train)}, test {len(test)}, {len(train.classes)} classes",
          flush=True)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        options = {"padding": args.padding} if args.model != "video_gru" else {}
        if args.bidirectional:
            options["bidirectional"] = True
        clf = Classifier(args.model, epochs=args.epochs, batch_size=args.batch_size,
                         lr=1e-3, patience=args.patience, validation=args.validation,
                         bucket=args.bucket,
                         model_options=options, seed=seed, threads=args.threads)
        start = time.perf_counter()
        clf.fit(train)
        fit_s = time.perf_counter() - start
        acc = clf.score(test)
        epoch_s = statistics.median(clf.history_["seconds"])
        rows.append({"seed": seed, "test_accuracy": acc, "epochs": len(clf.history_["loss"]),
                     "best_epoch": clf.best_epoch_, "epoch_s_median": epoch_s,
                     "fit_s": fit_s})
        print(f"seed {seed}: test accuracy {acc:.4f} | {rows[-1]['epochs']} epochs (best "
              f"{clf.best_epoch_}) | {epoch_s:.3f} s/epoch | fit {fit_s:.1f} s", flush=True)
    mean = statistics.mean(r["test_accuracy"] for r in rows)
    epoch_s = statistics.median(r["epoch_s_median"] for r in rows)
    print(f"{args.dataset} {args.model}: test accuracy mean {mean:.4f} over seeds "
          f"{[r['seed'] for r in rows]}; median {epoch_s:.3f} s/epoch (threads {args.threads})")
    if args.json:
        Path(args.json).write_text(json.dumps({"dataset": args.dataset, "model": args.model,
                                               "args": vars(args), "runs": rows,
                                               "mean_test_accuracy": mean}, indent=2) + "\n")


if __name__ == "__main__":
    main()
