"""Variable-length batches: the ``lengths`` convention every layer that cares follows.

A batch of sequences of different lengths is padded at the end to one length ``T`` and
carried with ``lengths``, an integer tensor ``[B]`` of valid steps per sequence
(``1 <= lengths[b] <= T``): steps ``t >= lengths[b]`` of sequence ``b`` are padding.
:func:`seqnets.training.pad_sequences` builds such a batch from a list of arrays.

A layer that takes ``lengths`` (``forward(x, lengths=None)``; its class says
``takes_lengths = True``) never lets the padding change a valid step's output: recurrent
layers skip the padded steps, convolutions read them as zeros, normalisation and pooling
leave them out of their statistics. It returns zeros at its own padded steps, and
:meth:`output_lengths` tells the lengths of its output (a strided convolution shortens
them; a sequence-to-vector layer returns ``None``: no time axis left).
:class:`seqnets.Sequential` threads them through: ``model(x, lengths=lengths)``.

Without ``lengths`` every layer runs exactly as before, on the same fast paths.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import DataError, ShapeError


def check_lengths(lengths: Any, x: torch.Tensor, who: str) -> torch.Tensor:
    """``lengths`` as a long tensor on ``x``'s device, after checking it against ``x``
    ``[B, T, ...]``: one integer per sequence, each in ``[1, T]``."""
    if x.dim() < 3:
        raise ShapeError(f"{who} got lengths, but its input {tuple(x.shape)} has no time axis "
                         "([batch, time, features] needed); give lengths only where the input "
                         "is a sequence")
    if not isinstance(lengths, torch.Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as err:
            raise DataError(f"{who}: lengths must be integers, one per sequence; "
                            f"cannot read {type(lengths).__name__}: {err}") from None
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise DataError(f"{who}: lengths must be an integer tensor (torch.long), "
                        f"got dtype {lengths.dtype}")
    batch, steps = x.shape[0], x.shape[1]
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ShapeError(f"{who}: lengths must have shape [batch] = [{batch}] (one length per "
                         f"sequence), got shape {tuple(lengths.shape)} for input "
                         f"{tuple(x.shape)}")
    if batch == 0:
        return lengths.to(device=x.device, dtype=torch.long)
    low, high = (int(v) for v in torch.aminmax(lengths))
    if low < 1:
        b = int((lengths < 1).nonzero()[0])
        raise DataError(f"{who}: every length must be at least 1; sequence {b} has length "
                        f"{int(lengths[b])}")
    if high > steps:
        b = int((lengths > steps).nonzero()[0])
        raise DataError(f"{who}: sequence {b} has length {int(lengths[b])}, more than the "
                        f"input's {steps} time steps (input {tuple(x.shape)}); lengths count "
                        "the valid steps of each padded sequence")
    return lengths.to(device=x.device, dtype=torch.long)


def step_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``[B, steps]`` booleans: True at valid steps (``t < lengths[b]``)."""
    return torch.arange(steps, device=lengths.device) < lengths[:, None]


def pad_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """``[B, steps]`` booleans: True at padded steps (``t >= lengths[b]``)."""
    return torch.arange(steps, device=lengths.device) >= lengths[:, None]


def zero_padding(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` ``[B, T, ...]`` with its padded steps set to zero (gradients flow to the rest)."""
    pad = pad_mask(lengths, x.shape[1])
    return x.masked_fill(pad.reshape(*pad.shape, *([1] * (x.dim() - 2))), 0.0)


def last_steps(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence's last valid step: ``[B, T, F] → [B, F]``."""
    index = (lengths - 1).view(-1, 1, 1).expand(x.shape[0], 1, x.shape[2])
    return x.gather(1, index).squeeze(1)


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence reversed within its own length, the padding left at the end:
    step ``t < L`` becomes step ``L - 1 - t``."""
    t = torch.arange(x.shape[1], device=x.device)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # [B, T]
    return x.gather(1, index[..., None].expand_as(x))


def pad_time(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``x`` ``[B, T', ...]`` padded with zero steps at the end to ``steps`` steps."""
    if x.shape[1] == steps:
        return x
    return torch.cat([x, x.new_zeros(x.shape[0], steps - x.shape[1], *x.shape[2:])], dim=1)


def cannot_take_lengths(layer: Any) -> str:
    """The message for a layer given lengths that it cannot honour."""
    name = getattr(layer, "name", None) or type(layer).__name__
    return (f"layer {name!r} ({type(layer).__name__}) cannot take lengths: it does not know "
            "which steps are padding, so padding would change its output. Call the model "
            "without lengths (every sequence of the batch as long as the batch), or use layers "
            "that take lengths (see seqnets.layers.lengths); a layer of your own opts in with "
            "takes_lengths = True, forward(x, lengths=None) and output_lengths(lengths)")


__all__ = ["cannot_take_lengths", "check_lengths", "last_steps", "pad_mask", "pad_time",
           "reverse_within", "step_mask", "zero_padding"]
