#!/usr/bin/env python
"""Seconds per epoch of the textbook model with the Keras peer's geometry: 'valid'
convolutions over JapaneseVowels padded to 29 steps (13, 5, 2 LSTM steps for every series,
as the peer's LSTMs run; here without lengths, so that the work per batch is the peer's).

    SEQNETS_UEA_DIR=/tmp/aeonx/aeon/datasets/data nice -n 10 .venv/bin/python \
        benchmarks/classify_speed_valid.py [--epochs 30] [--threads 1]

The same recipe as the peer otherwise (Adam 1e-3, batch 16, 20 % validation evaluated every
epoch); the accuracy is not the point (no lengths: padding changes the predictions).
"""

import argparse
import os
import statistics
from pathlib import Path

import numpy as np
import torch

import seqnets as sn
from seqnets.classify import build
from seqnets.classify.inputs import channel_stats, padded, scaled, stratified_split


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    folder = Path(os.environ.get("SEQNETS_UEA_DIR", "."))
    data = sn.data.read_ts(next(folder.rglob("JapaneseVowels_TRAIN.ts")))
    labels = np.asarray(data.labels)
    classes = np.unique(labels)
    y = torch.from_numpy(np.searchsorted(classes, labels))
    fit_idx, val_idx = stratified_split(labels, 0.2, seed=42)
    mean, std = channel_stats([data.series[i] for i in fit_idx])
    x, _ = padded(scaled(list(data.series), mean, std))  # [270, 26, 12]: TRAIN's longest
    x = torch.nn.functional.pad(torch.from_numpy(x), (0, 0, 0, 29 - x.shape[1]))  # TEST's 29
    model = build("sketch_lstm", len(classes), x.shape[2], seed=42, activation=None,
                  bn_momentum=0.9)
    hist = sn.fit(model, (x[fit_idx], y[fit_idx]), valid=(x[val_idx], y[val_idx]),
                  epochs=args.epochs, batch_size=16, lr=1e-3, loss="crossentropy",
                  metrics=["accuracy"], seed=42, threads=args.threads, quiet=True)
    print(f"sketch_lstm 'valid', padded to {x.shape[1]} steps, no lengths: "
          f"{statistics.median(hist.history['seconds']):.3f} s/epoch (median of "
          f"{args.epochs}, threads {args.threads})")


if __name__ == "__main__":
    main()
