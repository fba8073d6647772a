"""Keras side of the conv_gru parity check: seed 42, 20 epochs, no shuffling.

    /path/to/tf-venv/bin/python benchmarks/keras_parity/conv_gru_keras.py OUT.json

Saves Keras's initial weights and its validation curve (last-time-step MSE) for
``conv_gru_seqnets.py`` to start from the same weights and see the same batches.
"""

import json
import sys
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "shared" / "peers"))
from keras_ch15 import build, data_10step_seq, last_time_step_mse  # noqa: E402, F401

X_train, Y_train, X_valid, Y_valid, _, _ = data_10step_seq(42)
Y_train, Y_valid = Y_train[:, 3::2], Y_valid[:, 3::2]
keras.utils.set_random_seed(42)
m = build("conv_gru")
w0 = [w.tolist() for w in m.get_weights()]
h = m.fit(X_train, Y_train, epochs=20, validation_data=(X_valid, Y_valid), verbose=0,
          shuffle=False)
Path(sys.argv[1]).write_text(json.dumps({
    "w0": w0, "val_last_time_step_mse": h.history["val_last_time_step_mse"],
    "val_loss": h.history["val_loss"]}))
