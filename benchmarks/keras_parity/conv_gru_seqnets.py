"""seqnets side of the conv_gru parity check, from Keras's initial weights.

    .venv/bin/python benchmarks/keras_parity/conv_gru_seqnets.py KERAS.json

Keras's layouts → ours: Conv1D kernel [k, in, F] → [F, in, k]; GRU kernels [in, 3u] with
gates (z, r, h) → [3u, in] with gates (r, z, n), biases [2, 3u] → input and recurrent bias;
Dense kernel [in, out] → [out, in]. Without shuffling both runs see the same batches in the
same order, so a difference is in the layers, the loss or Adam.
"""

import json
import sys

import numpy as np
import torch

import seqnets as sn
from seqnets.data.synthetic import chapter_splits
from seqnets.models import zoo


def gates_zrh_to_rzn(a: np.ndarray) -> np.ndarray:
    z, r, h = np.split(a, 3, axis=-1)
    return np.concatenate([r, z, h], axis=-1)


keras_run = json.load(open(sys.argv[1]))
w = [np.array(v, dtype=np.float32) for v in keras_run["w0"]]
model = zoo.build("conv_gru", seed=0)
state = {
    "layers.0.weight": w[0].transpose(2, 1, 0), "layers.0.bias": w[1],
    "layers.1.cell.weight_ih": gates_zrh_to_rzn(w[2]).T,
    "layers.1.cell.weight_hh": gates_zrh_to_rzn(w[3]).T,
    "layers.1.cell.bias": gates_zrh_to_rzn(w[4][0]),
    "layers.1.cell.recurrent_bias": gates_zrh_to_rzn(w[4][1]),
    "layers.2.cell.weight_ih": gates_zrh_to_rzn(w[5]).T,
    "layers.2.cell.weight_hh": gates_zrh_to_rzn(w[6]).T,
    "layers.2.cell.bias": gates_zrh_to_rzn(w[7][0]),
    "layers.2.cell.recurrent_bias": gates_zrh_to_rzn(w[7][1]),
    "layers.3.layer.weight": w[8].T, "layers.3.layer.bias": w[9],
}
model.load_state_dict({k: torch.tensor(np.ascontiguousarray(v)) for k, v in state.items()})
splits = chapter_splits("seq2seq", seed=42)
(xt, yt), (xv, yv) = splits.train, splits.valid
h = sn.fit(model, (xt, yt[:, 3::2]), valid=(xv, yv[:, 3::2]), epochs=20, quiet=True,
           shuffle=False, seed=0, metrics=["last_time_step_mse"])
ours, theirs = h["val_last_time_step_mse"], keras_run["val_last_time_step_mse"]
print("epoch  seqnets   keras    (validation last-time-step MSE)")
for e in range(0, 20, 2):
    print(f"{e + 1:>5}  {ours[e]:.5f}  {theirs[e]:.5f}")
print(f"   20  {ours[-1]:.5f}  {theirs[-1]:.5f}")
