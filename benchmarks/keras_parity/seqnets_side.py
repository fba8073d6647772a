"""seqnets side of the parity check: the same linear model from Keras's initial weights.

    .venv/bin/python benchmarks/keras_parity/seqnets_side.py KERAS.json

Prints both validation curves (every 4th epoch and the last). Without shuffling the two
runs see the same batches in the same order, so any difference is in the layer, the loss or
Adam; with shuffling they differ only by the order of the batches.
"""

import json
import sys

import numpy as np
import torch

import seqnets as sn
from seqnets.data.synthetic import chapter_splits
from seqnets.models import zoo

keras_runs = json.load(open(sys.argv[1]))
splits = chapter_splits("next_value", seed=42)
for shuffle in (False, True):
    run = keras_runs[str(shuffle)]
    model = zoo.build("linear", seed=0)
    weight, bias = list(model.parameters())
    with torch.no_grad():  # Keras stores the kernel [in, out], PyTorch [out, in]
        weight.copy_(torch.tensor(np.array(run["w0"][0]).T, dtype=torch.float32))
        bias.copy_(torch.tensor(np.array(run["w0"][1]), dtype=torch.float32))
    h = sn.fit(model, splits.train, valid=splits.valid, epochs=20, quiet=True,
               shuffle=shuffle, seed=0)
    print(f"shuffle={shuffle}: seqnets {[round(v, 5) for v in h['val_loss'][::4]]} "
          f"last {h['val_loss'][-1]:.5f}")
    print(f"               keras   {[round(v, 5) for v in run['val_loss'][::4]]} "
          f"last {run['val_loss'][-1]:.5f}")
