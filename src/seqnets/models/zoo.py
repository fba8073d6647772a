"""The chapter's models by name (spec §2) and the variants the chapter describes.

``build(name)`` returns a plain :class:`~seqnets.Sequential` (or, for ``wavenet_full``, a
:class:`~seqnets.layers.WaveNet`) that you can print, change and train::

    model = seqnets.zoo.build("conv_gru", seed=42)
    model.summary()

Each entry also says which of the chapter's tasks it solves (``info(name).task``):
``next_value`` (``[B, 1]``), ``next_10`` (``[B, 10]``) or ``seq2seq`` (``[B, T, 10]``); the
chorale models (:mod:`seqnets.music`) solve ``next_note``: note classes ``[B, T]`` in, logits
``[B, T, 47]`` out, over chords flattened into arpeggios.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from ..errors import ConfigError
from ..layers import (
    GRU,
    LSTM,
    RNN,
    BatchNormalization,
    Conv1D,
    Dense,
    Embedding,
    Flatten,
    LNSimpleRNNCell,
    PeepholeLSTMCell,
    PhaseEmbedding,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
)
from ..layers.wavenet import WaveNet
from .sequential import Sequential


@dataclass(frozen=True)
class ZooEntry:
    """A zoo model: how to build it and what it is for."""

    name: str
    task: str
    description: str
    builder: Callable[..., list[nn.Module] | nn.Module]
    fixed_length: bool = False  # needs input_shape=(window, features): Flatten inside


def _linear(outputs: int):
    return [Flatten(), Dense(outputs)]


def _simple_rnn():
    return [SimpleRNN(1)]


def _deep_rnn(units=20):
    return [SimpleRNN(units, return_sequences=True), SimpleRNN(units, return_sequences=True),
            SimpleRNN(1)]


def _rnn_dense(outputs: int, units=20):
    return [SimpleRNN(units, return_sequences=True), SimpleRNN(units), Dense(outputs)]


def _seq2seq(make_layer: Callable[[int], nn.Module], units=20, outputs=10):
    return [make_layer(units), make_layer(units), TimeDistributed(Dense(outputs))]


def _seq(cls, **kwargs):
    return lambda units: cls(units, return_sequences=True, **kwargs)


def _cell(cls):
    return lambda units: RNN(cls(units), return_sequences=True)


def _bn_rnn(units=20, outputs=10):
    return [SimpleRNN(units, return_sequences=True), BatchNormalization(),
            SimpleRNN(units, return_sequences=True), BatchNormalization(),
            TimeDistributed(Dense(outputs))]


def _conv_gru(units=20, outputs=10):
    return [Conv1D(20, kernel_size=4, strides=2, padding="valid"),
            GRU(units, return_sequences=True), GRU(units, return_sequences=True),
            TimeDistributed(Dense(outputs))]


def _wavenet(outputs=10, filters=20):
    layers: list[nn.Module] = [
        Conv1D(filters, kernel_size=2, padding="causal", activation="relu", dilation_rate=rate)
        for rate in (1, 2, 4, 8) * 2
    ]
    return [*layers, Conv1D(outputs, kernel_size=1)]


def _wavenet_full(outputs=10, blocks=2, layers_per_block=4, channels=32):
    return WaveNet(blocks=blocks, layers_per_block=layers_per_block, channels=channels,
                   outputs=outputs)


def _encoder_decoder(units=20, horizon=10):
    return [SimpleRNN(units, return_sequences=True), GRU(units),  # encoder: sequence → vector
            RepeatVector(horizon),                                 # vector → sequence
            GRU(units, return_sequences=True),                     # decoder
            TimeDistributed(Dense(1)), Flatten()]                  # [B, horizon]


def _mlp(outputs=10, units=256):
    return [Flatten(), Dense(units, activation="relu"), Dense(units, activation="relu"),
            Dense(outputs)]


def _chorale_cnn_lstm(classes=47, embedding=5, units=256, phase=0, bn_momentum=0.99):
    layers: list[nn.Module] = [Embedding(classes, embedding)]
    if phase:  # each note's voice and beat: its place in a cycle of 4 chords (16 notes)
        layers.append(PhaseEmbedding(16, phase))
    for filters, rate in zip((32, 48, 64, 96), (1, 2, 4, 8), strict=True):
        layers += [Conv1D(filters, kernel_size=2, padding="causal", activation="relu",
                          dilation_rate=rate), BatchNormalization(momentum=bn_momentum)]
    return [*layers, LSTM(units, return_sequences=True), Dense(classes)]


def _dropout(cls, rate=0.2):
    return lambda units: cls(units, return_sequences=True, dropout=rate, recurrent_dropout=rate)


_ENTRIES = [
    ZooEntry("linear", "next_value", "Flatten → Dense(1): 51 parameters",
             partial(_linear, 1), fixed_length=True),
    ZooEntry("simple_rnn", "next_value", "SimpleRNN(1): 3 parameters", _simple_rnn),
    ZooEntry("deep_rnn", "next_value", "SimpleRNN(20, seq) → SimpleRNN(20, seq) → SimpleRNN(1)",
             _deep_rnn),
    ZooEntry("deep_rnn_dense", "next_value", "SimpleRNN(20, seq) → SimpleRNN(20) → Dense(1)",
             partial(_rnn_dense, 1)),
    ZooEntry("linear_10", "next_10", "Flatten → Dense(10)",
             partial(_linear, 10), fixed_length=True),
    ZooEntry("seq2vec_10", "next_10", "SimpleRNN(20, seq) → SimpleRNN(20) → Dense(10)",
             partial(_rnn_dense, 10)),
    ZooEntry("encoder_decoder", "next_10",
             "encoder SimpleRNN(20, seq) → GRU(20) → RepeatVector(10) → decoder GRU(20, seq) "
             "→ TimeDistributed(Dense(1))", _encoder_decoder),
    ZooEntry("seq2seq_rnn", "seq2seq", "SimpleRNN(20, seq) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _seq(SimpleRNN))),
    ZooEntry("ln_rnn", "seq2seq", "RNN(LNSimpleRNNCell(20), seq) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _cell(LNSimpleRNNCell))),
    ZooEntry("bn_rnn", "seq2seq",
             "SimpleRNN(20, seq) → BN → SimpleRNN(20, seq) → BN → TimeDistributed(Dense(10))",
             _bn_rnn),
    ZooEntry("lstm", "seq2seq", "LSTM(20, seq) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _seq(LSTM))),
    ZooEntry("peephole_lstm", "seq2seq",
             "RNN(PeepholeLSTMCell(20), seq) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _cell(PeepholeLSTMCell))),
    ZooEntry("gru", "seq2seq", "GRU(20, seq) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _seq(GRU))),
    ZooEntry("conv_gru", "seq2seq",
             "Conv1D(20, k4, s2, valid) → GRU(20, seq) ×2 → TimeDistributed(Dense(10)); "
             "targets Y[:, 3::2]", _conv_gru),
    ZooEntry("wavenet", "seq2seq",
             "causal Conv1D(20, k2, relu), dilations 1,2,4,8,1,2,4,8 → Conv1D(10, k1)", _wavenet),
    ZooEntry("wavenet_full", "seq2seq",
             "WaveNet: gated residual blocks with skip connections, regression head",
             _wavenet_full),
    ZooEntry("seq2seq_rnn_dropout", "seq2seq",
             "SimpleRNN(20, seq, dropout .2, recurrent_dropout .2) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _dropout(SimpleRNN))),
    ZooEntry("lstm_dropout", "seq2seq",
             "LSTM(20, seq, dropout .2, recurrent_dropout .2) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _dropout(LSTM))),
    ZooEntry("gru_dropout", "seq2seq",
             "GRU(20, seq, dropout .2, recurrent_dropout .2) ×2 → TimeDistributed(Dense(10))",
             partial(_seq2seq, _dropout(GRU))),
    # not in the chapter: a direct multi-horizon head for forecasting many short series
    ZooEntry("mlp", "direct", "Flatten → Dense(256, relu) ×2 → Dense(10): all steps ahead at "
             "once from the whole window (not in the chapter; Forecaster strategy='direct')",
             _mlp, fixed_length=True),
    # the chorales exercise (seqnets.music): next note of an arpeggio, 47 classes (0 = silence)
    ZooEntry("chorale_cnn_lstm", "next_note",
             "the textbook's: Embedding(47, 5) → causal Conv1D(k2, relu) + BN with 32/48/64/96 "
             "filters, dilations 1/2/4/8 → LSTM(256, seq) → Dense(47) logits",
             _chorale_cnn_lstm),
    ZooEntry("chorale_beat_lstm", "next_note",
             "chorale_cnn_lstm with Embedding(47, 16) and a PhaseEmbedding(16, 8) of each "
             "note's voice and beat (its place in a cycle of 4 chords): knows where chords "
             "change", partial(_chorale_cnn_lstm, embedding=16, phase=8)),
]
ZOO: dict[str, ZooEntry] = {e.name: e for e in _ENTRIES}


def names() -> list[str]:
    """Every model name, in the chapter's order."""
    return list(ZOO)


def info(name: str) -> ZooEntry:
    """The zoo entry for ``name`` (task, description)."""
    try:
        return ZOO[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; the zoo has {names()}") from None


def option_names(name: str) -> tuple[str, ...]:
    """The options :func:`build` takes for ``name`` (``units``, ``outputs``, ...), sorted."""
    return tuple(sorted(inspect.signature(info(name).builder).parameters))


def build(name: str, input_size: int = 1, window: int = 50, seed: int | None = None,
          **options) -> nn.Module:
    """Build the zoo model ``name`` for ``input_size`` features per step.

    ``window`` is the input length, used only by models that need a fixed length
    (``linear``, ``linear_10``). ``options`` override sizes: ``units``, ``outputs``,
    ``horizon`` (``encoder_decoder``), ``blocks``/``layers_per_block``/``channels``
    (``wavenet_full``); :func:`option_names` lists a model's. An option the model does not take
    is refused (a misspelt ``unitz=64`` would otherwise build the default size).
    """
    entry = info(name)
    unknown = sorted(set(options) - set(option_names(name)))
    if unknown:
        takes = ", ".join(option_names(name)) or "none"
        raise ConfigError(f"zoo model {name!r} has no option {', '.join(map(repr, unknown))}; "
                          f"its options are: {takes}. Fix: check the spelling, or drop it")
    made = entry.builder(**options)
    if isinstance(made, nn.Module):
        return Sequential([made], input_size=input_size, seed=seed, name=name)
    shape = (window, input_size) if entry.fixed_length else (None, input_size)
    return Sequential(made, input_shape=shape, seed=seed, name=name)
