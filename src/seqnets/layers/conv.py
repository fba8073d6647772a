"""1-D convolution along time, with Keras's padding modes."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from ..errors import ConfigError, ShapeError
from . import activations
from .base import Layer, Shape, positive_int, register
from .initializers import glorot_uniform_

PADDINGS = ("valid", "same", "causal")
_MAX_TAPS_KERNEL = 8  # above this, F.conv1d (no k-fold copy of the input)


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

    Deliberate difference: Keras refuses ``strides > 1`` together with
    ``dilation_rate > 1``; PyTorch supports it, and so do we.
    """

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

    def _pads(self, length: int) -> tuple[int, int]:
        span = self._span()
        if self.padding == "causal":
            return span - 1, 0
        if self.padding == "same":
            out = -(-length // self.strides)
            total = max((out - 1) * self.strides + span - length, 0)
            return total // 2, total - total // 2
        return 0, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ShapeError(f"Conv1D expects [batch, time, features], got {tuple(x.shape)}")
        if x.shape[2] != self.input_size:
            raise ShapeError(f"Conv1D was built for {self.input_size} input features, got "
                             f"{x.shape[2]} (input shape {tuple(x.shape)})")
        if self.padding == "valid" and x.shape[1] < self._span():
            raise ShapeError(f"Conv1D with padding='valid' needs at least {self._span()} "
                             f"steps, got {x.shape[1]}")
        left, right = self._pads(x.shape[1])
        if self.groups == 1 and self.kernel_size <= _MAX_TAPS_KERNEL:
            return self._taps_product(x, left, right)
        h = x.transpose(1, 2)  # (B, F, T): PyTorch's channels-first layout
        if left or right:
            h = F.pad(h, (left, right))
        h = F.conv1d(h, self.weight, self.bias, stride=self.strides,
                     dilation=self.dilation_rate, groups=self.groups)
        return self._act(h.transpose(1, 2))  # (B, T', filters)

    def _taps_product(self, x: torch.Tensor, left: int, right: int) -> torch.Tensor:
        """The convolution as one matrix product over the concatenated taps.

        Small dilated convolutions are overhead-bound on CPU (PyTorch may even take its slow
        dilated path); gathering the k shifted views of ``[B, T, C]`` and multiplying once
        by the ``[filters, k·C]`` kernel gives the same sums, several times faster here.
        One autograd function with a hand-written backward (fewer, larger operations than
        pad + slices + cat + linear under autograd). ReLU is fused into it.
        """
        relu = self.activation == "relu"
        y = _Taps.apply(x, self.weight, self.bias, self.kernel_size, self.dilation_rate,
                        self.strides, left, right, relu)
        return y if relu else self._act(y)

    def get_config(self) -> dict[str, Any]:
        return {"filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "dilation_rate": self.dilation_rate, "activation": self.activation,
                "use_bias": self.use_bias, "groups": self.groups, "name": self.name}


class _Taps(torch.autograd.Function):
    """``act(taps(x) @ W^T + b)``: taps ``[B, T', k·C]`` (tap-major), W ``[filters, k·C]``.

    Kept to a handful of large operations each way (pad, one concatenation, one product;
    two products and k shifted additions back): at these sizes every extra operation costs
    as much as its arithmetic."""

    @staticmethod
    def forward(ctx, x, weight, bias, k, d, s, left, right, relu):
        B, T, C = x.shape
        xp = F.pad(x, (0, 0, left, right)) if left or right else x
        count = (xp.shape[1] - d * (k - 1) - 1) // s + 1
        end = (count - 1) * s + 1
        col = torch.cat([xp[:, j * d:j * d + end:s] for j in range(k)], dim=-1) \
            if k > 1 or s > 1 else xp
        w = weight.permute(0, 2, 1).reshape(weight.shape[0], k * C)
        flat = col.reshape(B * count, k * C)
        y = torch.addmm(bias, flat, w.t()) if bias is not None else flat @ w.t()
        if relu:
            y.relu_()
        y = y.view(B, count, -1)
        ctx.save_for_backward(flat, w, y if relu else None)
        ctx.geometry = (B, T, C, k, d, s, left, right, count, end)
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        flat, w, y = ctx.saved_tensors
        B, T, C, k, d, s, left, right, count, end = ctx.geometry
        if y is not None:
            dy = torch.ops.aten.threshold_backward(dy, y, 0.0)  # ReLU's backward, one pass
        g = dy.reshape(B * count, -1)
        dx = dweight = dbias = None
        if ctx.needs_input_grad[1]:
            dweight = (g.t() @ flat).view(-1, k, C).permute(0, 2, 1)   # (filters, C, k)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            dbias = g.sum(0)
        if ctx.needs_input_grad[0]:
            dcol = (g @ w).view(B, count, k * C)
            if k == 1 and s == 1:
                dxp = dcol
            else:
                dxp = dcol.new_zeros(B, T + left + right, C)
                for j in range(k):
                    dxp[:, j * d:j * d + end:s] += dcol[:, :, j * C:(j + 1) * C]
            dx = dxp[:, left:left + T]
        return dx, dweight, dbias, None, None, None, None, None, None


def _single(value: Any, argument: str) -> Any:
    """Accept Keras's one-element tuples (``kernel_size=(4,)``)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ConfigError(f"{argument} must be one integer for Conv1D, got {value!r}")
        return value[0]
    return value


__all__ = ["Conv1D", "conv_output_length", "PADDINGS"]
