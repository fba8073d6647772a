"""1-D convolution along time, with Keras's padding modes."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as _torch_module

from ..checks import positive_int
from ..errors import ConfigError, ShapeError
from . import activations
from .base import Layer, Shape, register, wrong_features
from .initializers import glorot_uniform_
from .lengths import check_lengths, zero_padding
from .ops import dispatch
from .ops.conv import Geometry, conv_stack, pads

PADDINGS = ("valid", "same", "causal")
_MAX_TAPS_KERNEL = 8  # above this, F.conv1d (its k products per tap cost more than one conv)
_FUSED_ACTIVATIONS = ("relu", "linear")


def conv_output_length(length: int | None, kernel_size: int, strides: int, padding: str,
                       dilation_rate: int) -> int | None:
    """Output length of :class:`Conv1D` for an input of ``length`` steps (None stays None)."""
    if length is None:
        return None
    span = dilation_rate * (kernel_size - 1) + 1
    if padding == "valid":
        return max(0, (length - span) // strides + 1)
    return -(-length // strides)  # "same" and "causal": ceil(length / strides)


@register
class Conv1D(Layer):
    """1-D convolution over ``[B, T, F]`` → ``[B, T', filters]``.

    ``padding``: ``"valid"`` (no padding), ``"same"`` (TensorFlow's rule: output length
    ``ceil(T / strides)``, the extra pad on the right), or ``"causal"`` (left padding only:
    output step ``t`` sees inputs ``≤ t`` and never the future). Keras defaults:
    glorot-uniform kernel (fans ``k·in`` and ``k·filters``), zero bias.

    On CPU, kernels of up to 8 taps run as one product per tap over time-major memory
    (faster there than ``F.conv1d``); on other devices ``F.conv1d`` (cuDNN) runs them.

    Deliberate difference: Keras refuses ``strides > 1`` together with
    ``dilation_rate > 1``; PyTorch supports it, and so do we.

    ``layer(x, lengths=lengths)`` (padded batches, :mod:`.lengths`): inputs past each
    sequence's length are read as zeros, whatever they hold, and each output sequence has
    :meth:`output_lengths` valid steps (``conv_output_length`` of its own length), zeros
    after them: every valid output equals the sequence's output alone. With
    ``padding="same"`` and ``strides > 1`` TensorFlow's left padding depends on the length,
    so each sequence is then padded by its own rule.
    """

    takes_lengths = True

    def __init__(self, filters: int, kernel_size: int, strides: int = 1,
                 padding: str = "valid", dilation_rate: int = 1,
                 activation: str | None = None, use_bias: bool = True, groups: int = 1,
                 input_size: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.filters = positive_int(filters, "filters")
        self.kernel_size = positive_int(_single(kernel_size, "kernel_size"), "kernel_size")
        self.strides = positive_int(_single(strides, "strides"), "strides")
        self.dilation_rate = positive_int(_single(dilation_rate, "dilation_rate"),
                                          "dilation_rate")
        if padding not in PADDINGS:
            raise ConfigError(f"padding must be one of {PADDINGS}, got {padding!r}")
        self.padding = padding
        self.activation = activations.canonical(activation)
        self.use_bias = bool(use_bias)
        self.groups = positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ConfigError(f"filters={filters} must be divisible by groups={groups}")
        self._act = activations.get(self.activation)
        self._build_if_input_size(input_size, sequence=True)

    def build(self, input_shape: Shape) -> None:
        self._require_rank(input_shape, (2,), "[batch, time, features]")
        channels = input_shape[-1]
        if channels is None:
            raise ShapeError("Conv1D needs a known input feature size")
        if channels % self.groups:
            raise ConfigError(f"input features ({channels}) must be divisible by "
                              f"groups={self.groups}")
        per_group = channels // self.groups
        k = self.kernel_size
        self.weight = nn.Parameter(glorot_uniform_(
            torch.empty(self.filters, per_group, k), k * per_group, k * self.filters))
        self.bias = nn.Parameter(torch.zeros(self.filters)) if self.use_bias else None
        self.input_size = int(channels)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, (2,), "[batch, time, features]")
        length = conv_output_length(input_shape[0], self.kernel_size, self.strides,
                                    self.padding, self.dilation_rate)
        if length == 0:
            raise ShapeError(f"Conv1D(kernel_size={self.kernel_size}, dilation_rate="
                             f"{self.dilation_rate}, padding='valid') needs at least "
                             f"{self._span()} steps, got {input_shape[0]}")
        return (length, self.filters)

    def _span(self) -> int:
        return self.dilation_rate * (self.kernel_size - 1) + 1

    @property
    def geometry(self) -> Geometry:
        """Kernel size, dilation, strides and padding: what the layer does to the time axis."""
        return Geometry(self.kernel_size, self.dilation_rate, self.strides, self.padding)

    def _pads(self, length: int) -> tuple[int, int]:
        return pads(self.geometry, length)

    def fits_taps(self) -> bool:
        """Whether the geometry suits one product per tap (:mod:`.ops.dispatch` decides
        where that runs): no groups, at most 8 taps."""
        return self.groups == 1 and self.kernel_size <= _MAX_TAPS_KERNEL

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3:
            raise ShapeError(f"Conv1D expects [batch, time, features], got {tuple(x.shape)}")
        if x.shape[2] != self.input_size:
            raise wrong_features("Conv1D", self.input_size, x)
        if self.padding == "valid" and x.shape[1] < self._span():
            raise ShapeError(f"Conv1D with padding='valid' needs at least {self._span()} "
                             f"steps, got {x.shape[1]}. Fix: give longer sequences, or use "
                             "padding='same' or 'causal' or a smaller kernel_size")

    def output_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """Each output sequence's valid steps: ``conv_output_length`` of its own length."""
        if lengths is None:
            return None
        s, span = self.strides, self._span()
        if self.padding == "valid":
            out = torch.div(lengths - span, s, rounding_mode="floor") + 1
            if bool((out < 1).any()):
                b = int((out < 1).nonzero()[0])
                raise ShapeError(f"{self.name or 'Conv1D'} with padding='valid' needs at least "
                                 f"{span} steps, but sequence {b} has {int(lengths[b])}; "
                                 "drop or pad the shortest sequences, or use "
                                 "padding='same' or 'causal'")
            return out
        return -torch.div(-lengths, s, rounding_mode="floor")  # ceil(length / strides)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        self._check_input(x)
        if lengths is not None:
            return self._forward_lengths(x, lengths)
        return self._convolve(x, self.geometry)

    def _forward_lengths(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = check_lengths(lengths, x, self.name or "Conv1D")
        out_lengths = self.output_lengths(lengths)
        if self.padding == "same" and self.strides > 1:  # _own_pads zeroes the padding too
            y = self._convolve(self._own_pads(x, lengths), self.geometry._replace(padding="valid"))
        else:
            y = self._convolve(zero_padding(x, lengths), self.geometry)
        return zero_padding(y, out_lengths)

    def _own_pads(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` laid out for a 'valid' convolution with each sequence padded by its own
        'same' rule: sequence ``b`` starts after its own left padding (zeros around it)."""
        s, span = self.strides, self._span()
        rest = lengths % s
        total = torch.where(rest == 0, span - s, span - rest).clamp(min=0)
        left = total // 2  # TensorFlow's rule (ops.conv.pads) for each length
        count = -(-x.shape[1] // s)
        source = torch.arange((count - 1) * s + span, device=x.device) - left[:, None]
        inside = (source >= 0) & (source < lengths[:, None])  # [B, T_padded]
        index = source.clamp(0, x.shape[1] - 1)[..., None].expand(-1, -1, x.shape[2])
        return x.gather(1, index).masked_fill(~inside[..., None], 0.0)

    def _convolve(self, x: torch.Tensor, geometry: Geometry) -> torch.Tensor:
        if dispatch.conv_runs_taps(self, x.device):
            relu = self.activation == "relu"
            y = conv_stack(x, (geometry,), (relu,), [self.weight], [self.bias])
            return y if relu else self._act(y)
        left, right = pads(geometry, x.shape[1])
        h = x.transpose(1, 2)  # (B, F, T): PyTorch's channels-first layout
        if left or right:
            h = F.pad(h, (left, right))
        h = F.conv1d(h, self.weight, self.bias, stride=self.strides,
                     dilation=self.dilation_rate, groups=self.groups)
        return self._act(h.transpose(1, 2))  # (B, T', filters)

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "dilation_rate": self.dilation_rate, "activation": self.activation,
                "use_bias": self.use_bias, "groups": self.groups, "name": self.name}


def fusable(layer: object) -> bool:
    """Whether :class:`~seqnets.Sequential` may run ``layer`` inside a fused run of
    convolutions (:func:`run_fused`): a built plain Conv1D, ReLU or linear, no groups, a
    kernel of at most 8 taps, on CPU, and no hooks (a fused run calls no layer's ``forward``)."""
    return (type(layer) is Conv1D and layer.built
            and dispatch.conv_runs_taps(layer, layer.weight.device)
            and layer.activation in _FUSED_ACTIVATIONS
            and not (layer._forward_hooks or layer._forward_pre_hooks or _global_hooks()))


def _global_hooks() -> bool:
    """Whether hooks for every module are registered (``register_module_forward_hook``;
    torch keeps them in private module-level dicts)."""
    return bool(getattr(_torch_module, "_global_forward_hooks", None)
                or getattr(_torch_module, "_global_forward_pre_hooks", None))


def run_fused(convs: list[Conv1D], x: torch.Tensor) -> torch.Tensor:
    """Consecutive :func:`fusable` convolutions as one autograd function: the same values
    and gradients as calling them one by one, with the per-layer overheads paid once."""
    if any(after.input_size != before.filters for before, after in pairwise(convs)):
        for conv in convs:  # mismatched sizes: let the layer that cannot take its input say so
            x = conv(x)
        return x
    convs[0]._check_input(x)
    return conv_stack(x, tuple(c.geometry for c in convs),
                      tuple(c.activation == "relu" for c in convs),
                      [c.weight for c in convs], [c.bias for c in convs])


def _single(value: Any, argument: str) -> Any:
    """Accept Keras's one-element tuples (``kernel_size=(4,)``)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ConfigError(f"{argument} must be one integer for Conv1D, got {value!r}")
        return value[0]
    return value


__all__ = ["Conv1D", "conv_output_length", "fusable", "run_fused", "PADDINGS"]
