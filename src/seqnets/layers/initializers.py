"""Keras's default initialisers, stated in Keras's shapes.

Weights are stored in PyTorch's layout (``[out, in]``), but fans are computed as Keras
computes them for its own layout, so the distributions match Keras exactly.
"""

from __future__ import annotations

import math

import torch

from .ops.dispatch import thread_count


@torch.no_grad()
def glorot_uniform_(tensor: torch.Tensor, fan_in: int, fan_out: int) -> torch.Tensor:
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), Keras's ``glorot_uniform``."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return tensor.uniform_(-limit, limit)


@torch.no_grad()
def orthogonal_(tensor: torch.Tensor) -> torch.Tensor:
    """Keras's ``orthogonal`` recurrent-kernel initialiser.

    Keras orthogonalises its ``[units, k*units]`` kernel (rows orthonormal); we store the
    transpose ``[k*units, units]``, whose columns are then orthonormal: the same draw.
    The QR factorisation runs on one thread: its rounding depends on the thread count, and
    a difference of 1e-7 in the initial weights is enough for training to take another path,
    so a seed gives the same weights whatever threads the caller runs.
    """
    with thread_count(1):
        return torch.nn.init.orthogonal_(tensor)
