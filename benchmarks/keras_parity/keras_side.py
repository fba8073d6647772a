"""Keras side of the parity check: the chapter's linear model, seed 42, 20 epochs.

    /path/to/tf-venv/bin/python benchmarks/keras_parity/keras_side.py OUT.json

Saves Keras's initial weights and validation curve, with and without shuffling, for
``seqnets_side.py`` to start from the same weights.
"""

import json
import sys
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "shared" / "peers"))
from keras_ch15 import data_1step  # noqa: E402 - the peer script beside the checkout

X_train, y_train, X_valid, y_valid, _, _ = data_1step(42)
out = {}
for shuffle in (False, True):
    keras.utils.set_random_seed(42)
    m = keras.models.Sequential([keras.Input(shape=(50, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(1)])
    m.compile(loss="mse", optimizer="adam")
    w0 = [w.tolist() for w in m.get_weights()]
    h = m.fit(X_train, y_train, epochs=20, validation_data=(X_valid, y_valid), verbose=0,
              shuffle=shuffle)
    out[str(shuffle)] = {"w0": w0, "val_loss": h.history["val_loss"]}
Path(sys.argv[1]).write_text(json.dumps(out))
