"""Batch statistics over every rank of a data-parallel run: synchronised batch normalisation.

Under ``torchrun`` each rank holds a part of every batch. :class:`BatchNormalization` in
training then normalises with the mean and variance of the *whole* batch, as one process
would: the training loop runs each forward pass inside :func:`summed_over` with a function
that sums a tensor over the ranks (an all-reduce), and the layer's moments add up every
rank's row count, sum and sum of squares (in float64). The backward pass sums the
moments' gradients over the ranks the same way, so each rank's inputs get the gradient of
the loss summed over the ranks; DDP's average of the parameters' gradients is then that of
the whole batch. A rank that only stands in (a batch with fewer rows than ranks: one row,
loss weight 0) adds nothing to the statistics and gets no gradient through them.

Outside :func:`summed_over` (one process, evaluation) nothing is synchronised.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

__all__ = ["active", "moments", "summed_over"]

Reduce = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class _Sync:
    reduce: Reduce
    counted: bool


_SYNC: contextvars.ContextVar[_Sync | None] = contextvars.ContextVar("seqnets_batch_sync",
                                                                     default=None)


@contextlib.contextmanager
def summed_over(reduce: Reduce | None, counted: bool = True) -> Iterator[None]:
    """Within the block, batch statistics are summed over the ranks by ``reduce`` (a
    function returning the sum over the ranks of a tensor; None: not synchronised).
    ``counted=False``: this rank's rows stand in and count for nothing."""
    token = _SYNC.set(None if reduce is None else _Sync(reduce, counted))
    try:
        yield
    finally:
        _SYNC.reset(token)


def active() -> _Sync | None:
    """The synchronisation in force, or None."""
    return _SYNC.get()


class _Moments(torch.autograd.Function):
    @staticmethod
    def forward(ctx, flat: torch.Tensor, sync: _Sync):
        x = flat.detach().double()
        weight = 1.0 if sync.counted else 0.0
        local = torch.cat([x.sum(0), (x * x).sum(0), x.new_tensor([len(x)])]) * weight
        total = sync.reduce(local)
        f = flat.shape[1]
        n = total[-1]
        mean = total[:f] / n
        var = (total[f:2 * f] / n - mean * mean).clamp(min=0.0)
        ctx.save_for_backward(flat, mean, n)
        ctx.sync = sync
        count = n.to(flat.dtype)
        ctx.mark_non_differentiable(count)
        return mean.to(flat.dtype), var.to(flat.dtype), count

    @staticmethod
    def backward(ctx, dmean, dvar, dn):
        flat, mean, n = ctx.saved_tensors
        sync = ctx.sync
        f = flat.shape[1]
        total = sync.reduce(torch.cat([dmean, dvar]).double())
        if not sync.counted:  # its rows were not in the statistics
            return torch.zeros_like(flat), None
        grad = total[:f] / n + total[f:] * 2.0 * (flat.double() - mean) / n
        return grad.to(flat.dtype), None


def moments(flat: torch.Tensor, sync: _Sync) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The mean and (biased) variance per column of the rows ``flat`` ``[N, F]`` of every
    rank together, and their total row count."""
    return _Moments.apply(flat, sync)
