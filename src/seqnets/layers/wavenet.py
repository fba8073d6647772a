"""WaveNet (van den Oord et al. 2016): gated, residual, skip-connected causal convolutions."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from .base import Layer, Shape, positive_int, register
from .conv import Conv1D


class GatedResidualBlock(nn.Module):
    """One WaveNet layer: ``z = tanh(W_f * x) ⊙ σ(W_g * x)`` (tanh once), then a 1×1
    residual projection added to ``x`` and a 1×1 skip projection. ``[B, T, C] → [B, T, C]``."""

    def __init__(self, channels: int, skip_channels: int, kernel_size: int,
                 dilation: int) -> None:
        super().__init__()
        self.channels = channels
        # filter and gate in one convolution: the first half of the outputs is the filter
        self.dilated = Conv1D(2 * channels, kernel_size, padding="causal",
                              dilation_rate=dilation, input_size=channels)
        self.residual = Conv1D(channels, 1, input_size=channels)
        self.skip = Conv1D(skip_channels, 1, input_size=channels)

    def gate(self, h: torch.Tensor) -> torch.Tensor:
        """The gated activation of the dilated convolution's output ``h`` ``[..., 2C]``."""
        f, g = h.split(self.channels, dim=-1)
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.gate(self.dilated(x))
        return x + self.residual(z), self.skip(z)


@register
class WaveNet(Layer):
    """The full WaveNet with a regression head: ``[B, T, in] → [B, T, outputs]``, causal.

    ``blocks`` stacks of ``layers_per_block`` gated residual layers with dilations
    1, 2, 4, ..., 2**(layers_per_block-1) (the paper: 3 blocks of 10 layers, receptive
    field 1,024 per block). Skip outputs are summed, then ReLU → 1×1 conv → ReLU → 1×1 conv
    to ``outputs`` values per step (a regression head, not a softmax over quantised values).
    """

    def __init__(self, blocks: int = 3, layers_per_block: int = 10, channels: int = 32,
                 skip_channels: int | None = None, kernel_size: int = 2, outputs: int = 10,
                 input_size: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.blocks = positive_int(blocks, "blocks")
        self.layers_per_block = positive_int(layers_per_block, "layers_per_block")
        self.channels = positive_int(channels, "channels")
        self.skip_channels = positive_int(skip_channels or channels, "skip_channels")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if self.kernel_size < 2:
            raise ConfigError("WaveNet needs kernel_size >= 2")
        self.outputs = positive_int(outputs, "outputs")
        self._build_if_input_size(input_size, sequence=True)

    @property
    def dilations(self) -> list[int]:
        return [2 ** i for i in range(self.layers_per_block)] * self.blocks

    @property
    def receptive_field(self) -> int:
        """How many input steps one output step sees."""
        k = self.kernel_size
        return k + sum((k - 1) * d for d in self.dilations)

    def build(self, input_shape: Shape) -> None:
        self._require_rank(input_shape, (2,), "[batch, time, features]")
        self.input_size = int(input_shape[-1])
        c, s = self.channels, self.skip_channels
        self.input_conv = Conv1D(c, self.kernel_size, padding="causal", input_size=self.input_size)
        self.residual_layers = nn.ModuleList(
            GatedResidualBlock(c, s, self.kernel_size, d) for d in self.dilations)
        self.head_hidden = Conv1D(s, 1, activation="relu", input_size=s)
        self.head_out = Conv1D(self.outputs, 1, input_size=s)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input_conv(x)
        skips = 0
        for layer in self.residual_layers:
            h, skip = layer(h)
            skips = skips + skip
        return self.head_out(self.head_hidden(torch.relu(skips)))

    def get_config(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "layers_per_block": self.layers_per_block,
                "channels": self.channels, "skip_channels": self.skip_channels,
                "kernel_size": self.kernel_size, "outputs": self.outputs, "name": self.name}
