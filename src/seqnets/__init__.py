"""seqnets: recurrent and convolutional sequence models on PyTorch, Keras-faithful and fast.

    import seqnets as sn
    from seqnets.layers import SimpleRNN, Dense

    data = sn.data.chapter_splits("next_value", seed=42)
    model = sn.Sequential([SimpleRNN(20, return_sequences=True), SimpleRNN(20), Dense(1)],
                          input_size=1, seed=42)
    history = sn.fit(model, data.train, valid=data.valid, epochs=20, seed=42)
    sn.save(model, "deep_rnn/")
"""

from . import data, errors, layers
from .forecast import Forecaster
from .io import load, read_config, save
from .layers import register
from .models import Sequential, count_parameters, zoo
from .training import (
    EarlyStopping,
    History,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    callbacks,
    evaluate,
    fit,
    predict,
)

__version__ = "0.1.0"

__all__ = [
    "EarlyStopping", "Forecaster", "History", "ModelCheckpoint", "ReduceLROnPlateau", "Sequential",
    "TensorBoard", "__version__",
    "callbacks", "count_parameters", "data", "errors", "evaluate", "fit", "layers", "load",
    "predict", "read_config", "register", "save", "zoo",
]
