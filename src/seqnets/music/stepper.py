"""Run a causal next-note model one note at a time, carrying its state.

A :class:`Stepper` takes a :class:`~seqnets.Sequential` of causal layers (``Embedding``,
``PhaseEmbedding``, causal ``Conv1D``, ``BatchNormalization``, ``Dropout``, ``Activation``,
recurrent layers with ``return_sequences=True``, ``Dense``, ``TimeDistributed(Dense)``,
``WaveNet``) and computes, for each new note, the logits of the next one: every
convolution keeps a queue of its last ``(kernel_size - 1) * dilation`` inputs, every
recurrent layer its state, so a step costs one pass through the layers at one position and
the notes before it are never run again. Its outputs equal the full model's at the same
positions (in eval mode), up to float rounding: ``tests/music/test_generation.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..layers import (
    RNN,
    Activation,
    BatchNormalization,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    PhaseEmbedding,
    TimeDistributed,
    WaveNet,
)

__all__ = ["Stepper"]

Step = Callable[[torch.Tensor], torch.Tensor]


class _ConvQueue:
    """One causal convolution at one step: the last ``(k-1)·d`` inputs in a ring buffer."""

    def __init__(self, conv: Conv1D, batch: int, like: torch.Tensor) -> None:
        if conv.padding != "causal" and conv.kernel_size > 1 or conv.strides != 1:
            raise ConfigError(f"step-by-step generation needs causal, stride-1 convolutions; "
                              f"{conv.name} has padding={conv.padding!r}, "
                              f"strides={conv.strides}")
        if conv.groups != 1:
            raise ConfigError(f"{conv.name}: grouped convolutions cannot be stepped")
        self.conv, k, d = conv, conv.kernel_size, conv.dilation_rate
        self.span = (k - 1) * d
        self.lags = [(k - 1 - j) * d for j in range(k)]
        # weight [out, in, k] as [out, k·in]: tap j (lag (k-1-j)·d) is the j-th column block
        self.weight = conv.weight.permute(0, 2, 1).reshape(conv.weight.shape[0], -1)
        self.queue = like.new_zeros(batch, max(self.span, 1), conv.input_size)
        self.t = 0

    def __call__(self, x: torch.Tensor, activate: bool = True) -> torch.Tensor:
        t, span = self.t, self.span
        if span:
            taps = torch.cat([x if lag == 0 else self.queue[:, (t - lag) % span]
                              for lag in self.lags], dim=-1)
            self.queue[:, t % span] = x  # after reading: the oldest tap shares this slot
        else:
            taps = x
        self.t += 1
        z = F.linear(taps, self.weight, self.conv.bias)
        return self.conv._act(z) if activate else z


def _wavenet_step(net: WaveNet, batch: int, like: torch.Tensor) -> Step:
    first = _ConvQueue(net.input_conv, batch, like)
    blocks = [(b, _ConvQueue(b.dilated, batch, like)) for b in net.residual_layers]

    def pointwise(conv: Conv1D, x: torch.Tensor) -> torch.Tensor:
        return conv._act(F.linear(x, conv.weight[:, :, 0], conv.bias))

    def step(x: torch.Tensor) -> torch.Tensor:
        h = first(x)
        skips = 0
        for block, queue in blocks:
            g = block.gate(queue(h, activate=False))
            skips = skips + pointwise(block.skip, g)
            h = h + pointwise(block.residual, g)
        return pointwise(net.head_out, pointwise(net.head_hidden, torch.relu(skips)))

    return step


def _rnn_step(layer: RNN, batch: int, like: torch.Tensor) -> Step:
    if not layer.return_sequences or layer.go_backwards or layer.return_state:
        raise ConfigError(f"{layer.name}: step-by-step generation needs return_sequences=True, "
                          "go_backwards=False and return_state=False")
    sizes = layer._state_sizes()
    states = [tuple(like.new_zeros(batch, s) for s in sizes)]

    def step(x: torch.Tensor) -> torch.Tensor:
        y, states[0] = layer.cell(x, states[0])
        return y

    return step


def _batch_norm_step(layer: BatchNormalization) -> Step:
    return lambda x: F.batch_norm(x, layer.running_mean, layer.running_var, layer.weight,
                                  layer.bias, training=False, eps=layer.epsilon)


class Stepper:
    """The model ``model`` run one position at a time for ``batch`` sequences.

    ``step(tokens)`` feeds the tokens ``[batch]`` (int64) at the next position and returns
    the logits ``[batch, classes]`` the model gives there (its prediction of the token
    after). The model is put in eval mode; call under ``torch.no_grad()``.
    """

    def __init__(self, model: nn.Module, batch: int) -> None:
        layers = list(getattr(model, "layers", [model]))
        if not layers or not isinstance(layers[0], Embedding):
            raise ConfigError("step-by-step generation needs a Sequential model that starts "
                              "with an Embedding of the note classes")
        model.eval()
        param = next(model.parameters())
        like = param.new_zeros(())
        self.batch, self.t = batch, 0
        self.steps: list[Step] = [self._layer_step(layer, batch, like) for layer in layers[1:]]
        self.embedding = layers[0]

    def _layer_step(self, layer: nn.Module, batch: int, like: torch.Tensor) -> Step:
        if isinstance(layer, PhaseEmbedding):
            return lambda x: torch.cat(
                [x, layer.weight[self.t % layer.period].expand(x.shape[0], -1)], dim=-1)
        if isinstance(layer, Conv1D):
            return _ConvQueue(layer, batch, like)
        if isinstance(layer, BatchNormalization):
            return _batch_norm_step(layer)
        if isinstance(layer, (Dropout, Activation, Dense)):
            return layer  # per position already; Dropout is the identity in eval mode
        if isinstance(layer, TimeDistributed) and isinstance(layer.layer, Dense):
            return layer.layer
        if isinstance(layer, RNN):
            return _rnn_step(layer, batch, like)
        if isinstance(layer, WaveNet):
            return _wavenet_step(layer, batch, like)
        raise ConfigError(f"{type(layer).__name__} ({getattr(layer, 'name', '?')}) cannot be "
                          "run step by step; a chorale model is built from Embedding, "
                          "PhaseEmbedding, causal Conv1D, BatchNormalization, recurrent "
                          "layers, WaveNet and Dense")

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.shape != (self.batch,):
            raise ConfigError(f"step takes one token per sequence [{self.batch}], got "
                              f"{tuple(tokens.shape)}")
        x = F.embedding(tokens, self.embedding.weight)
        for step in self.steps:
            x = step(x)
        self.t += 1
        return x
