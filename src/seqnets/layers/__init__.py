"""Layers with Keras's names, arguments and defaults, as PyTorch modules."""

from .base import Layer, deserialize, register, serialize
from .bidirectional import Bidirectional
from .cells import Cell, GRUCell, LNSimpleRNNCell, LSTMCell, PeepholeLSTMCell, SimpleRNNCell
from .conv import Conv1D
from .core import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    LayerNormalization,
    MCDropout,
    RepeatVector,
    TimeDistributed,
    mc_dropout,
)
from .embedding import Embedding, PhaseEmbedding
from .pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .wavenet import WaveNet

__all__ = [
    "Activation", "BatchNormalization", "Bidirectional", "Cell", "Conv1D", "Dense", "Dropout",
    "Embedding", "Flatten", "GRU", "GRUCell", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
    "LNSimpleRNNCell", "LSTM", "LSTMCell", "Layer", "LayerNormalization", "MCDropout",
    "PeepholeLSTMCell", "PhaseEmbedding", "RNN", "RepeatVector", "SimpleRNN", "SimpleRNNCell",
    "TimeDistributed", "WaveNet", "deserialize", "mc_dropout", "register", "serialize",
]
