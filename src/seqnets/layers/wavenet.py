"""WaveNet (van den Oord et al. 2016): gated, residual, skip-connected causal convolutions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.utils.checkpoint
from torch import nn

from ..checks import positive_int
from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, register
from .conv import Conv1D
from .lengths import check_lengths, zero_padding
from .ops import dispatch


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


def _pointwise(conv: Conv1D, x: torch.Tensor) -> torch.Tensor:
    """A kernel-1 convolution applied to one step ``[B, C]`` (without its activation)."""
    return torch.nn.functional.linear(x, conv.weight[:, :, 0], conv.bias)


@register
class WaveNet(Layer):
    """The full WaveNet with a regression head: ``[B, T, in] → [B, T, outputs]``, causal.

    ``blocks`` stacks of ``layers_per_block`` gated residual layers with dilations
    1, 2, 4, ..., 2**(layers_per_block-1) (the paper: 3 blocks of 10 layers, receptive
    field 1,024 per block). Skip outputs are summed, then ReLU → 1×1 conv → ReLU → 1×1 conv
    to ``outputs`` values per step (a regression head, not a softmax over quantised values).

    ``checkpoint=True`` recomputes each layer's activations in the backward pass instead of
    keeping them (gradient checkpointing): training memory then holds one residual stream
    per layer, so sequences of tens of thousands of steps fit in a few GiB.

    ``layer(x, lengths=lengths)`` (padded batches, :mod:`.lengths`): every convolution is
    causal, so a valid step never sees the padding after it; inputs past each length are
    read as zeros and the padded steps of the output are zeros.
    """

    takes_lengths = True

    def __init__(self, blocks: int = 3, layers_per_block: int = 10, channels: int = 32,
                 skip_channels: int | None = None, kernel_size: int = 2, outputs: int = 10,
                 checkpoint: bool = False, input_size: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.blocks = positive_int(blocks, "blocks")
        self.layers_per_block = positive_int(layers_per_block, "layers_per_block")
        self.channels = positive_int(channels, "channels")
        self.skip_channels = positive_int(skip_channels or channels, "skip_channels")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if self.kernel_size < 2:
            raise ConfigError("WaveNet needs kernel_size >= 2")
        self.outputs = positive_int(outputs, "outputs")
        self.checkpoint = bool(checkpoint)
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

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is not None:
            lengths = check_lengths(lengths, x, self.name or "WaveNet")
            return zero_padding(self(zero_padding(x, lengths)), lengths)
        h = self.input_conv(x)
        skips = 0
        save_memory = self.checkpoint and self.training and torch.is_grad_enabled()
        for layer in self.residual_layers:
            if save_memory:
                h, skip = torch.utils.checkpoint.checkpoint(layer, h, use_reentrant=False)
            else:
                h, skip = layer(h)
            skips = skips + skip
        return self.head_out(self.head_hidden(torch.relu(skips)))

    # generation ---------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, context: torch.Tensor, steps: int,
                 implementation: str = "auto") -> torch.Tensor:
        """Continue ``context`` ``[B, T, in]`` for ``steps`` steps, one at a time.

        Each step's first ``input_size`` outputs become the next input (for a model trained
        to output the next values, that is the forecast). Returns the outputs
        ``[B, steps, outputs]``; row 0 is the output at the last context step.

        Fast generation (Paine et al. 2016): the context is run once, then every layer
        keeps a queue of its last ``(kernel_size-1)·dilation`` inputs, so a step costs
        O(layers) instead of recomputing the receptive field. ``implementation``:
        ``"auto"`` (the compiled loop on CPU when numba is installed, else PyTorch ops),
        ``"compiled"``, ``"torch"``, or ``"naive"`` (full recomputation, the reference).
        """
        if implementation not in ("auto", "compiled", "torch", "naive"):
            raise ConfigError(f"implementation must be 'auto', 'compiled', 'torch' or "
                              f"'naive', got {implementation!r}")
        positive_int(steps, "steps")
        if context.dim() != 3 or context.shape[2] != self.input_size or context.shape[1] < 1:
            raise ShapeError(f"context must be [batch, time >= 1, {self.input_size}], "
                             f"got {tuple(context.shape)}")
        if self.outputs < self.input_size:
            raise ConfigError(f"generation feeds outputs back as inputs: outputs "
                              f"({self.outputs}) must be >= input_size ({self.input_size})")
        was_training = self.training
        self.eval()
        try:
            if implementation == "naive":
                return self._generate_naive(context, steps)
            first, queues = self._prime(context)
            if dispatch.generation_path(implementation, context.device) == "compiled":
                return self._generate_compiled(first, queues, context.shape[1], steps)
            return self._generate_torch(first, queues, context.shape[1], steps)
        finally:
            self.train(was_training)

    def _generate_naive(self, context: torch.Tensor, steps: int) -> torch.Tensor:
        window = context
        outs = []
        for _ in range(steps):
            y = self(window[:, -self.receptive_field:])[:, -1]
            outs.append(y)
            window = torch.cat([window, y[:, None, :self.input_size]], dim=1)
        return torch.stack(outs, dim=1)

    def _prime(self, context: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the context once; return the last output and each layer's input queue
        ``[B, (k-1)·d, C]`` holding its inputs at slots ``time mod ((k-1)·d)``."""
        k, T = self.kernel_size, context.shape[1]
        streams = [context]
        h = self.input_conv(context)
        skips = 0
        for layer in self.residual_layers:
            streams.append(h)
            h, skip = layer(h)
            skips = skips + skip
        last = self.head_out(self.head_hidden(torch.relu(skips)))[:, -1]
        queues = []
        for seq, d in zip(streams, [1, *self.dilations], strict=True):
            span = (k - 1) * d
            padded = torch.nn.functional.pad(seq, (0, 0, max(span - T, 0), 0))[:, -span:]
            times = torch.arange(T - span, T)
            queue = torch.empty_like(padded)
            queue[:, times % span] = padded
            queues.append(queue)
        return last, queues

    def _flat_taps(self, conv: Conv1D) -> torch.Tensor:
        """Conv weight ``[out, in, k]`` as ``[out, k·in]``: tap j (lag ``(k-1-j)·d``) is
        the j-th block of columns."""
        return conv.weight.permute(0, 2, 1).reshape(conv.weight.shape[0], -1)

    def _generate_torch(self, first: torch.Tensor, queues: list[torch.Tensor], t0: int,
                        steps: int) -> torch.Tensor:
        k, n_in = self.kernel_size, self.input_size
        convs = [self.input_conv] + [layer.dilated for layer in self.residual_layers]
        weights = [self._flat_taps(c) for c in convs]
        lags = [[(k - 1 - j) * d for j in range(k)] for d in [1, *self.dilations]]
        outs = [first]
        for s in range(1, steps):
            t = t0 + s - 1
            h = outs[-1][:, :n_in]
            skips = 0
            for i, (conv, w, queue) in enumerate(zip(convs, weights, queues, strict=True)):
                span = queue.shape[1]
                taps = torch.cat([h if lag == 0 else queue[:, (t - lag) % span]
                                  for lag in lags[i]], dim=-1)
                queue[:, t % span] = h  # after reading: the oldest tap shares this slot
                z = torch.nn.functional.linear(taps, w, conv.bias)
                if i == 0:
                    h = z
                    continue
                block = self.residual_layers[i - 1]
                g = block.gate(z)
                skips = skips + _pointwise(block.skip, g)
                h = h + _pointwise(block.residual, g)
            hidden = torch.relu(_pointwise(self.head_hidden, torch.relu(skips)))
            outs.append(_pointwise(self.head_out, hidden))
        return torch.stack(outs, dim=1)

    def _generate_compiled(self, first: torch.Tensor, queues: list[torch.Tensor], t0: int,
                           steps: int) -> torch.Tensor:
        from .ops.numba_generation import wavenet_generate

        def np32(t: torch.Tensor) -> Any:
            return t.detach().to(first.dtype).contiguous().numpy()

        blocks = list(self.residual_layers)
        span_max = max(q.shape[1] for q in queues[1:])
        bufs = torch.zeros(len(blocks), first.shape[0], span_max, self.channels,
                           dtype=first.dtype)
        for i, q in enumerate(queues[1:]):
            bufs[i, :, :q.shape[1]] = q
        stack = lambda ts: np32(torch.stack(ts))  # noqa: E731
        out = wavenet_generate(
            np32(first), steps, t0, self.input_size, self.kernel_size,
            np32(self._flat_taps(self.input_conv)), np32(self.input_conv.bias),
            np32(queues[0]),
            stack([self._flat_taps(b.dilated) for b in blocks]),
            stack([b.dilated.bias for b in blocks]),
            np.asarray(self.dilations, dtype=np.int64), bufs.numpy(),
            stack([b.residual.weight[:, :, 0] for b in blocks]),
            stack([b.residual.bias for b in blocks]),
            stack([b.skip.weight[:, :, 0] for b in blocks]),
            stack([b.skip.bias for b in blocks]),
            np32(self.head_hidden.weight[:, :, 0]), np32(self.head_hidden.bias),
            np32(self.head_out.weight[:, :, 0]), np32(self.head_out.bias))
        return torch.from_numpy(out)

    def get_config(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "layers_per_block": self.layers_per_block,
                "channels": self.channels, "skip_channels": self.skip_channels,
                "kernel_size": self.kernel_size, "outputs": self.outputs,
                "checkpoint": self.checkpoint, "name": self.name}
