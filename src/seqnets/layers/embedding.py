"""Embeddings of integer tokens: Keras's ``Embedding``, and a learned embedding of the
position inside a repeating cycle (the voice of a note in an arpeggio of chords)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import positive_int
from ..errors import DataError, ShapeError
from .base import Layer, Shape, register


def token_ids(x: torch.Tensor, vocabulary: int, layer: str) -> torch.Tensor:
    """``[B, T]`` or ``[B, T, 1]`` token ids (integers, or floats holding whole numbers, as
    the training loop passes inputs) as int64 ``[B, T]``, each in ``0..vocabulary-1``."""
    if x.dim() == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dim() not in (1, 2):
        raise ShapeError(f"{layer} expects token ids [batch, time] (or [batch, time, 1]), got "
                         f"{tuple(x.shape)}")
    if x.is_floating_point():
        ids = x.long()
        if not torch.equal(ids.to(x.dtype), x):
            raise DataError(f"{layer}: token ids must be whole numbers")
    else:
        ids = x.long()
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocabulary):
        raise DataError(f"{layer}: token ids must be in 0..{vocabulary - 1}, got "
                        f"{int(ids.min())}..{int(ids.max())}. Fix: map the ids into that "
                        f"range, or build it with input_dim={max(int(ids.max()) + 1, vocabulary)}")
    return ids


@register
class Embedding(Layer):
    """A learned vector per token: ``[B, T]`` ids → ``[B, T, output_dim]``.

    Keras's arguments and default initialiser (uniform in ``[-0.05, 0.05]``). The ids may be
    integers or floats holding whole numbers (the training loop passes inputs as float32),
    ``[B, T]`` or ``[B, T, 1]``; an id outside ``0..input_dim-1`` is a DataError (Keras on
    CPU raises too; on GPU it would silently read zeros).
    """

    checks_dtype = False  # ids of any dtype; token_ids converts and checks them

    def __init__(self, input_dim: int, output_dim: int, input_size: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.input_dim = positive_int(input_dim, "input_dim")
        self.output_dim = positive_int(output_dim, "output_dim")
        if input_size is not None:
            self.build((None, input_size))

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) == 2 and input_shape[-1] not in (1, None):
            raise ShapeError(f"Embedding takes one token id per step ([batch, time] or "
                             f"[batch, time, 1]), got per-sample shape {tuple(input_shape)}")
        self.weight = nn.Parameter(torch.empty(self.input_dim, self.output_dim)
                                   .uniform_(-0.05, 0.05))
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.embedding(token_ids(x, self.input_dim, "Embedding"), self.weight)

    def get_config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "name": self.name}


@register
class PhaseEmbedding(Layer):
    """Appends a learned vector for each step's place in a cycle of ``period`` steps:
    ``[B, T, F]`` → ``[B, T, F + output_dim]``, step ``t`` getting vector ``(t + offset) %
    period``. For chords flattened into arpeggios (``period=4``) it tells a convolution
    which voice each note belongs to. Not a Keras layer; uniform(-0.05, 0.05) as
    :class:`Embedding`. Sequences are taken to start at phase ``offset`` (0 by default).
    """

    def __init__(self, period: int, output_dim: int, name: str | None = None) -> None:
        super().__init__(name)
        self.period = positive_int(period, "period")
        self.output_dim = positive_int(output_dim, "output_dim")

    def build(self, input_shape: Shape) -> None:
        self._require_rank(input_shape, (2,), "[batch, time, features]")
        self.weight = nn.Parameter(torch.empty(self.period, self.output_dim)
                                   .uniform_(-0.05, 0.05))
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], input_shape[1] + self.output_dim)

    def vectors(self, start: int, steps: int, like: torch.Tensor) -> torch.Tensor:
        """The phase vectors of steps ``start .. start+steps-1``: ``[steps, output_dim]``."""
        phase = torch.arange(start, start + steps, device=like.device) % self.period
        return self.weight[phase].to(like.dtype)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        if x.dim() != 3:
            raise ShapeError(f"PhaseEmbedding expects [batch, time, features], got "
                             f"{tuple(x.shape)}")
        phase = self.vectors(offset, x.shape[1], x).expand(x.shape[0], -1, -1)
        return torch.cat([x, phase], dim=-1)

    def get_config(self) -> dict[str, Any]:
        return {"period": self.period, "output_dim": self.output_dim, "name": self.name}
