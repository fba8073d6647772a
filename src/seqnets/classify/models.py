"""Sequence classifiers by name, in the zoo's style: ``build(name, n_classes, input_shape)``.

    model = seqnets.classify.build("sketch_lstm", n_classes=10, input_shape=3, seed=42)
    model.summary()
    probs = model(x, lengths=lengths)        # [B, n_classes]; padding never changes them

Each returns a plain :class:`~seqnets.Sequential` whose last layer is
``Dense(n_classes, activation="softmax")`` (Keras's head; ``activation=None`` gives logits,
what :class:`~seqnets.classify.Classifier` trains with its cross-entropy on logits). Every
one takes ``lengths`` (:mod:`seqnets.layers.lengths`):

- ``sketch_lstm``: the textbook's QuickDraw solution, three strided ``Conv1D`` + batch
  normalisation, ``LSTM(128, return_sequences=True)``, ``LSTM(128)``, softmax;
- ``sketch_gru``: the same with ``GRU`` layers;
- ``dilated_conv``: WaveNet-style causal convolutions (dilations 1, 2, 4, 8, twice) with
  batch normalisation, global average (or max) pooling over the valid steps, softmax;
- ``video_gru``: ``TimeDistributed`` over a per-frame module (default :class:`FrameCNN`;
  any ``nn.Module`` mapping ``[N, C, H, W]`` to ``[N, F]``) on ``[B, T, C, H, W]``, then
  ``GRU``, softmax: the chapter's exercise answer for video classification.

Three strided ``'valid'`` convolutions need sequences of at least 21 steps
(:func:`shortest_input`); ``padding="same"`` takes sequences of any length (JapaneseVowels
has 7 to 29 steps). These builders live here rather than in :mod:`seqnets.models.zoo`
because they need the number of classes and, for videos, a frame shape and module.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import positive_int
from ..errors import ConfigError, ShapeError
from ..layers import (
    GRU,
    LSTM,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Dense,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    TimeDistributed,
)
from ..layers.base import Layer, Shape, register
from ..layers.initializers import glorot_uniform_
from ..models import Sequential

CONVS = ((32, 5), (64, 5), (128, 3))  # the textbook's (filters, kernel size), strides 2


@register
class FrameCNN(Layer):
    """A small CNN for one frame: ``[N, C, H, W] → [N, units]``.

    Per entry of ``filters``: a 2-D convolution (``kernel_size``, 'same' padding, ReLU,
    glorot-uniform kernel, zero bias) and 2×2 max pooling; then the feature maps are
    flattened (so where things are in the frame is kept: motion shows in it) and a
    ``Dense(units, relu)``. Inside ``TimeDistributed`` it runs on every frame.
    """

    def __init__(self, filters: tuple[int, ...] | list[int] = (16, 32), kernel_size: int = 3,
                 units: int = 64, name: str | None = None) -> None:
        super().__init__(name)
        self.filters = tuple(positive_int(f, "filters") for f in filters)
        if not self.filters:
            raise ConfigError("FrameCNN needs at least one convolution (filters=(16, 32))")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd ('same' padding), got {kernel_size}")
        self.units = positive_int(units, "units")

    def build(self, input_shape: Shape) -> None:
        self._require_rank(input_shape, (3,), "[frames, channels, height, width]")
        if any(d is None for d in input_shape):
            raise ShapeError(f"FrameCNN needs a known frame shape, got {tuple(input_shape)}")
        c, h, w = (int(d) for d in input_shape)
        if min(h, w) < 2 ** len(self.filters):
            raise ShapeError(f"FrameCNN: frames of {h}x{w} are too small for "
                             f"{len(self.filters)} 2x2 poolings; use fewer filters")
        k = self.kernel_size
        self.convs = nn.ModuleList()
        for f in self.filters:
            conv = nn.Conv2d(c, f, k, padding=k // 2)
            with torch.no_grad():
                glorot_uniform_(conv.weight, c * k * k, f * k * k)
                conv.bias.zero_()
            self.convs.append(conv)
            c, h, w = f, h // 2, w // 2
        self.dense = Dense(self.units, activation="relu", input_size=c * h * w)
        self.input_shape = (c, h, w)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (self.units,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ShapeError(f"FrameCNN expects frames [N, C, H, W], got {tuple(x.shape)}")
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.dense(x.flatten(1))

    def get_config(self) -> dict[str, Any]:
        return {"filters": list(self.filters), "kernel_size": self.kernel_size,
                "units": self.units, "name": self.name}


@dataclass(frozen=True)
class ClassifierEntry:
    """A classifier by name: what it takes (``"sequence"`` ``[T, C]`` steps or ``"video"``
    ``[T, C, H, W]`` frames) and how it is built."""

    name: str
    kind: str
    description: str
    builder: Callable[..., list[nn.Module]]


def _convs(padding: str, bn_momentum: float, filters: tuple | None) -> list[nn.Module]:
    layers: list[nn.Module] = []
    sizes = [f for f, _ in CONVS] if filters is None else list(filters)
    if len(sizes) != len(CONVS):
        raise ConfigError(f"filters: one count per convolution ({len(CONVS)}), got {filters}")
    for (_, k), f in zip(CONVS, sizes, strict=True):
        layers += [Conv1D(f, kernel_size=k, strides=2, padding=padding, activation="relu"),
                   BatchNormalization(momentum=bn_momentum)]
    return layers


def _recurrent(cls, n_classes: int, activation, units: int = 128, padding: str = "valid",
               bn_momentum: float = 0.99, filters: tuple | None = None,
               bidirectional: bool = False) -> list[nn.Module]:
    first = cls(units, return_sequences=True)
    return [*_convs(padding, bn_momentum, filters),
            Bidirectional(first) if bidirectional else first, cls(units),
            Dense(n_classes, activation=activation)]


def _dilated(n_classes: int, activation, filters: int = 64, kernel_size: int = 2,
             dilations: tuple = (1, 2, 4, 8) * 2, padding: str = "causal",
             pool: str = "avg", bn_momentum: float = 0.99) -> list[nn.Module]:
    if pool not in ("avg", "max"):
        raise ConfigError(f"pool must be 'avg' or 'max', got {pool!r}")
    layers: list[nn.Module] = []
    for rate in dilations:
        layers += [Conv1D(filters, kernel_size=kernel_size, padding=padding, activation="relu",
                          dilation_rate=rate), BatchNormalization(momentum=bn_momentum)]
    pooling = GlobalAveragePooling1D() if pool == "avg" else GlobalMaxPooling1D()
    return [*layers, pooling, Dense(n_classes, activation=activation)]


def _video(n_classes: int, activation, frame: nn.Module | None = None, units: int = 64,
           frame_filters: tuple = (16, 32), frame_units: int = 64) -> list[nn.Module]:
    if frame is not None and not isinstance(frame, nn.Module):
        raise ConfigError(f"frame must be an nn.Module ([N, C, H, W] -> [N, F]), got "
                          f"{type(frame).__name__}")
    per_frame = frame if frame is not None else FrameCNN(frame_filters, units=frame_units)
    return [TimeDistributed(per_frame), GRU(units), Dense(n_classes, activation=activation)]


_ENTRIES = [
    ClassifierEntry("sketch_lstm", "sequence",
                    "the textbook's: Conv1D(32, k5, s2) + BN → Conv1D(64, k5, s2) + BN → "
                    "Conv1D(128, k3, s2) + BN → LSTM(128, seq) → LSTM(128) → Dense softmax",
                    partial(_recurrent, LSTM)),
    ClassifierEntry("sketch_gru", "sequence",
                    "sketch_lstm with GRU(128, seq) → GRU(128)",
                    partial(_recurrent, GRU)),
    ClassifierEntry("dilated_conv", "sequence",
                    "WaveNet-style: causal Conv1D(64, k2, relu) + BN, dilations 1,2,4,8 ×2 "
                    "→ GlobalAveragePooling1D → Dense softmax", _dilated),
    ClassifierEntry("video_gru", "video",
                    "TimeDistributed(FrameCNN or your module) on [B, T, C, H, W] → GRU(64) "
                    "→ Dense softmax", _video),
]
CLASSIFIERS: dict[str, ClassifierEntry] = {e.name: e for e in _ENTRIES}


def names() -> list[str]:
    """Every classifier's name."""
    return list(CLASSIFIERS)


def info(name: str) -> ClassifierEntry:
    """The entry for ``name`` (kind, description)."""
    try:
        return CLASSIFIERS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown classifier {name!r}; choose one of {names()}") from None


def build(name: str, n_classes: int, input_shape: int | tuple = 1, seed: int | None = None,
          activation: str | None = "softmax", **options) -> Sequential:
    """The classifier ``name`` for ``n_classes`` classes and steps of ``input_shape``: the
    channel count of a sequence's step (``C`` or ``(C,)``), or a frame's ``(C, H, W)``.

    ``options``: ``units``, ``padding`` (``"valid"``, ``"same"``), ``bn_momentum``,
    ``filters``, ``bidirectional`` (the first recurrent layer) for the sketch models;
    ``filters``, ``kernel_size``, ``dilations``, ``padding``, ``pool`` for ``dilated_conv``;
    ``frame`` (your per-frame module), ``units``, ``frame_filters``, ``frame_units`` for
    ``video_gru``. ``activation=None`` ends in logits.
    """
    entry = info(name)
    positive_int(n_classes, "n_classes", least=2)
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    want = 3 if entry.kind == "video" else 1
    if len(shape) != want or not all(isinstance(d, int) and d > 0 for d in shape):
        what = "(channels, height, width) of a frame" if want == 3 else "the channels of a step"
        raise ConfigError(f"{name} takes {entry.kind}s: input_shape must be {what}, got "
                          f"{input_shape!r}")
    takes = sorted(set(inspect.signature(entry.builder).parameters) -
                   {"n_classes", "activation"})
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ConfigError(f"classifier {name!r} has no option "
                          f"{', '.join(map(repr, unknown))}; its options are: "
                          f"{', '.join(takes)}. Fix: check the spelling, or drop it")
    layers = entry.builder(n_classes, activation, **options)
    return Sequential(layers, input_shape=(None, *shape), seed=seed, name=name)


def shortest_input(model: nn.Module, longest: int = 4096) -> int:
    """The fewest steps a sequence needs to pass through ``model`` (every layer's output
    at least one step long): 21 for three strided 'valid' convolutions, 1 with 'same'."""
    for steps in range(1, longest + 1):
        try:
            model.output_lengths(torch.tensor([steps]))
        except ShapeError:
            continue
        return steps
    raise ConfigError(f"{getattr(model, 'name', 'the model')} takes no sequence of up to "
                      f"{longest} steps")
