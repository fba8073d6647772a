"""Dense, TimeDistributed, Flatten, dropout (MC too), normalisation and reshaping layers.

The layers that act on each step (Dense, Activation, TimeDistributed, Dropout,
LayerNormalization) take ``lengths`` (padded batches, :mod:`.lengths`) and pass them on
unchanged, with zeros at the padded steps of their output; BatchNormalization leaves the
padded steps out of its statistics. Flatten and RepeatVector refuse them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import positive_int, probability
from ..errors import ConfigError, ShapeError
from . import activations, sync_stats
from .base import Layer, Shape, deserialize, register, serialize, wrong_features
from .initializers import glorot_uniform_
from .lengths import check_lengths, step_mask, zero_padding


def _zero_padded(layer: nn.Module, y: torch.Tensor, lengths: Any) -> torch.Tensor:
    """A per-step layer's output ``y`` with zeros at the padded steps."""
    return zero_padding(y, check_lengths(lengths, y, layer.name or type(layer).__name__))


def dropout_active(layer: nn.Module) -> bool:
    """Whether a layer's dropout applies now: in training, or under :func:`mc_dropout`."""
    return layer.training or getattr(layer, "mc_dropout", False)


@contextlib.contextmanager
def mc_dropout(model: nn.Module) -> Iterator[nn.Module]:
    """Keep every dropout of ``model`` active at inference (Monte-Carlo dropout).

    Unlike ``model.train()``, batch-normalisation statistics stay frozen. Use it around
    repeated predictions to sample the model's predictive distribution::

        with mc_dropout(model):
            samples = torch.stack([model(x) for _ in range(100)])
    """
    layers = [m for m in model.modules() if hasattr(m, "mc_dropout")]
    previous = [m.mc_dropout for m in layers]
    for m in layers:
        m.mc_dropout = True
    try:
        yield model
    finally:
        for m, was in zip(layers, previous, strict=True):
            m.mc_dropout = was


@register
class Dense(Layer):
    """Fully connected layer on the last axis: ``[..., in] → [..., units]``.

    Keras defaults: glorot-uniform kernel, zero bias. On ``[B, T, F]`` input it acts at
    every time step, exactly like ``TimeDistributed(Dense(...))``; with ``lengths`` the
    padded steps of its output are zeros.
    """

    takes_lengths = True

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        input_size: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.units = positive_int(units, "units")
        self.activation = activations.canonical(activation)
        self.use_bias = bool(use_bias)
        self._act = activations.get(self.activation)
        self._build_if_input_size(input_size, sequence=False)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ShapeError(f"Dense needs a known last dimension, got {tuple(input_shape)}")
        fan_in = int(input_shape[-1])
        weight = glorot_uniform_(torch.empty(self.units, fan_in), fan_in, self.units)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(self.units)) if self.use_bias else None
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() == 0 or x.shape[-1] != self.weight.shape[1]:
            raise wrong_features("Dense", self.weight.shape[1], x)
        y = self._act(F.linear(x, self.weight, self.bias))
        return y if lengths is None else _zero_padded(self, y, lengths)

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "name": self.name}


@register
class Activation(Layer):
    """Applies a named activation elementwise (zeros at padded steps, given ``lengths``)."""

    takes_lengths = True

    def __init__(self, activation: str, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = activations.canonical(activation)
        self._act = activations.get(self.activation)
        self.built = True

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        y = self._act(x)
        return y if lengths is None else _zero_padded(self, y, lengths)

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.activation, "name": self.name}


@register
class TimeDistributed(Layer):
    """Applies ``layer`` independently at every time step: ``[B, T, ...] → [B, T, ...]``.

    ``layer`` may be any ``nn.Module`` that maps a batch of steps to a batch of outputs, for
    example a CNN over video frames ``[B, T, C, H, W] → [B, T, F]`` (a module without
    ``compute_output_shape`` has its output shape read from one zero sample when a
    ``Sequential`` builds; only registered layers can be saved with the model).

    With ``lengths`` the layer runs on the valid steps only (a batch normalisation inside it
    sees no padding, and padded frames cost nothing); padded steps of the output are zeros.
    """

    takes_lengths = True

    def __init__(self, layer: nn.Module, name: str | None = None) -> None:
        super().__init__(name)
        if not isinstance(layer, nn.Module):
            raise ConfigError(f"TimeDistributed wraps a layer, got {type(layer).__name__}")
        self.layer = layer
        self.built = getattr(layer, "built", True)

    @property
    def checks_dtype(self) -> bool:
        """As the wrapped layer: an Embedding inside takes ids of any dtype."""
        return getattr(self.layer, "checks_dtype", True)

    def build(self, input_shape: Shape) -> None:
        self._require_rank(input_shape, (2, 3, 4, 5), "[batch, time, ...]")
        if not getattr(self.layer, "built", True):
            self.layer.build(tuple(input_shape[1:]))
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        inner = tuple(input_shape[1:])
        if hasattr(self.layer, "compute_output_shape"):
            return (input_shape[0], *self.layer.compute_output_shape(inner))
        # a plain nn.Module (a per-frame CNN of your own): its output shape read from one
        # all-zero sample, in eval mode (no batch statistics updated) and without gradients
        if any(d is None for d in inner):
            raise ShapeError(f"TimeDistributed({type(self.layer).__name__}) needs a known "
                             f"per-step shape to infer its output, got {inner}")
        was_training = self.layer.training
        self.layer.eval()
        try:
            with torch.no_grad():
                out = self.layer(torch.zeros(1, *inner))
        finally:
            self.layer.train(was_training)
        return (input_shape[0], *out.shape[1:])

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() < 3:
            raise ShapeError(f"TimeDistributed expects [batch, time, ...], got {tuple(x.shape)}")
        b, t = x.shape[:2]
        if lengths is not None:
            valid = step_mask(check_lengths(lengths, x, self.name or "TimeDistributed"), t)
            y = self.layer(x[valid])  # [valid steps, ...]
            out = y.new_zeros(b, t, *y.shape[1:])
            out[valid] = y
            return out
        y = self.layer(x.reshape(b * t, *x.shape[2:]))
        return y.reshape(b, t, *y.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {"layer": serialize(self.layer), "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)


@register
class Flatten(Layer):
    """``[B, d1, d2, ...] → [B, d1*d2*...]`` (needs every dimension known to report shapes)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            raise ShapeError(
                f"Flatten needs every dimension known, got {tuple(input_shape)}; give the "
                "model a fixed input_shape=(time, features)"
            )
        return (math.prod(input_shape),)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


@register
class RepeatVector(Layer):
    """``[B, F] → [B, n, F]``: the bridge from a sequence-to-vector encoder to a decoder."""

    def __init__(self, n: int, name: str | None = None) -> None:
        super().__init__(name)
        self.n = positive_int(n, "n")
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, (1,), "[batch, features]")
        return (self.n, *input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).expand(x.shape[0], self.n, *x.shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {"n": self.n, "name": self.name}


@register
class Dropout(Layer):
    """Zeroes inputs with probability ``rate`` in training, scaling the rest by 1/(1-rate)
    (given ``lengths``, the padded steps are zeros too)."""

    takes_lengths = True

    def __init__(self, rate: float, name: str | None = None) -> None:
        super().__init__(name)
        self.rate = probability(rate, "rate")
        self.mc_dropout = False
        self.built = True

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        y = x if self.rate == 0.0 or not dropout_active(self) else F.dropout(x, self.rate,
                                                                             training=True)
        return y if lengths is None else _zero_padded(self, y, lengths)

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "name": self.name}


@register
class MCDropout(Dropout):
    """Dropout that stays on at inference too (the chapter's MC Dropout), whatever the mode."""

    def __init__(self, rate: float, name: str | None = None) -> None:
        super().__init__(rate, name)
        self.mc_dropout = True


@register
class LayerNormalization(Layer):
    """Normalises the last axis; learned scale and offset. Keras default ``epsilon=1e-3``.
    Each step is normalised on its own, so ``lengths`` only zero the padded steps."""

    takes_lengths = True

    def __init__(self, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape: Shape) -> None:
        size = input_shape[-1]
        if size is None:
            raise ShapeError("LayerNormalization needs a known last dimension")
        self.weight = nn.Parameter(torch.ones(size)) if self.scale else None
        self.bias = nn.Parameter(torch.zeros(size)) if self.center else None
        self.normalized_shape = (int(size),)
        self.built = True

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        y = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.epsilon)
        return y if lengths is None else _zero_padded(self, y, lengths)

    def get_config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "name": self.name}


@register
class BatchNormalization(Layer):
    """Batch normalisation over the features (last axis) of ``[B, F]`` or ``[B, T, F]``.

    Keras defaults: ``momentum=0.99`` (weight of the *old* moving average, the opposite of
    PyTorch's convention), ``epsilon=1e-3``. The moving mean and variance count as
    non-trainable parameters, as in Keras's summary.

    ``layer(x, lengths=lengths)`` on ``[B, T, F]`` (padded batches, :mod:`.lengths`): in
    training the batch statistics (and so the moving averages) are those of the valid steps
    only; padded steps of the output are zeros. Trained data-parallel under ``torchrun``, the
    batch statistics are those of every rank's rows together (:mod:`.sync_stats`).
    """

    takes_lengths = True

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape: Shape) -> None:
        size = input_shape[-1]
        if size is None:
            raise ShapeError("BatchNormalization needs a known last dimension")
        self.weight = nn.Parameter(torch.ones(size)) if self.scale else None
        self.bias = nn.Parameter(torch.zeros(size)) if self.center else None
        self.register_buffer("running_mean", torch.zeros(size))
        self.register_buffer("running_var", torch.ones(size))
        self.built = True

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is not None:
            valid = step_mask(check_lengths(lengths, x, self.name or "BatchNormalization"),
                              x.shape[1])
            steps = x[valid]  # [valid steps, ..., F]: statistics of the valid steps only
            out = x.new_zeros(x.shape)
            out[valid] = self._normalise(steps.reshape(-1, x.shape[-1])).reshape(steps.shape)
            return out
        return self._normalise(x.reshape(-1, x.shape[-1])).reshape(x.shape)

    def _normalise(self, flat: torch.Tensor) -> torch.Tensor:
        sync = sync_stats.active() if self.training else None
        if sync is not None:
            return self._normalise_synced(flat, sync)
        return F.batch_norm(flat, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training, momentum=1.0 - self.momentum,
                            eps=self.epsilon)

    def _normalise_synced(self, flat: torch.Tensor, sync) -> torch.Tensor:
        """Training under a data-parallel run (:mod:`.sync_stats`): the statistics of the
        whole batch over every rank, the moving averages updated as ``F.batch_norm`` does
        (the variance unbiased)."""
        mean, var, n = sync_stats.moments(flat, sync)
        out = (flat - mean) * torch.rsqrt(var + self.epsilon)
        if self.weight is not None:
            out = out * self.weight
        if self.bias is not None:
            out = out + self.bias
        with torch.no_grad():
            keep = self.momentum
            self.running_mean.mul_(keep).add_(mean.detach(), alpha=1.0 - keep)
            unbiased = var.detach() * (n / (n - 1) if n > 1 else 1.0)
            self.running_var.mul_(keep).add_(unbiased, alpha=1.0 - keep)
        return out

    def get_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "name": self.name}
