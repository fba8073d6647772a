"""Data-parallel training where every rank holds only its own windows: :func:`fit_sharded`.

Under torchrun each rank passes its own training rows (e.g. the windows of its shard of a
Parquet dataset, :func:`~seqnets.data.parquet_shards.read_parquet_shard`), as many or as few
as it has. The ranks all-reduce their counts ``N_r`` once; every rank then takes
``S = ceil(N / batch_size)`` steps an epoch (``N`` the sum), cutting its own shuffled order
into ``S`` batches whose sizes differ by at most one (:func:`shard_plan`). Each rank's loss
at step ``s`` is weighted by ``n_rs * world / n_s``, where ``n_s`` is the step's rows over
all ranks, known to every rank from the counts alone: DDP's mean of the gradients is then
the gradient of the step's mean loss over its ``n_s`` rows, and across ranks every window is
used exactly once per epoch. Epoch losses, metrics and validation scores are sums reduced
over the ranks, so every rank logs the same history. Checkpoints and resuming are not
supported in this mode (a :class:`~seqnets.errors.ConfigError`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, DataError, TrainingInterrupted
from ..layers.ops.dispatch import default_threads, thread_count
from . import distributed, runs
from .batches import as_pair, model_device
from .config import FitConfig
from .environment import seeded
from .loop import _forward, _Steps
from .losses import LossFn, get_loss, get_metric
from .optim import OptimizerSpec
from .run_state import Position
from .signals import StopRequests
from .state import Callback, History

__all__ = ["fit_sharded", "shard_plan"]


def shard_plan(counts: Sequence[int], batch_size: int) -> np.ndarray:
    """Rows ``[rank, step]`` of every rank at each of the ``S = ceil(sum / batch_size)``
    steps of an epoch. Rank ``r`` takes ``N_r // S`` rows a step and one more at
    ``N_r % S`` steps; those extra rows go round the steps, continuing where the previous
    rank's stopped, so every step's total is ``floor(N / S)`` or one more (never 0, never
    over ``batch_size``)."""
    n = int(sum(counts))
    if n == 0:
        raise DataError("no training rows on any rank. Fix: give every rank its windows")
    steps = math.ceil(n / batch_size)
    plan = np.zeros((len(counts), steps), np.int64)
    offset = 0
    for r, count in enumerate(counts):
        base, extra = divmod(int(count), steps)
        plan[r] = base
        plan[r, (offset + np.arange(extra)) % steps] += 1
        offset += extra
    return plan


class _Pairs:
    """``(X, Y)`` tensors indexed as a window source is: ``pairs[rows] -> (x, y)``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, rows: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[rows], self.y[rows]


def _source(data: Any, name: str) -> Any:
    if isinstance(data, (tuple, list)):
        return _Pairs(*as_pair(data, name))
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise DataError(f"{name} must be a pair (X, Y) or a window source (ws[rows] -> (x, "
                        f"y), e.g. ParquetShard.window_set), got {type(data).__name__}")
    return data


def fit_sharded(model: nn.Module, train: Any, valid: Any = None, *, epochs: int = 1,
                batch_size: int = 32, optimizer: OptimizerSpec = "adam",
                lr: float | None = None, loss: str | LossFn = "mse",
                metrics: Sequence[str | LossFn] = (), clipnorm: float | None = None,
                global_clipnorm: float | None = None, clipvalue: float | None = None,
                callbacks: Sequence[Callback] = (), shuffle: bool = True,
                seed: int | None = None, threads: int | None = None,
                quiet: bool = False) -> History:
    """:func:`~seqnets.fit` where each rank passes its own ``train`` (and ``valid``) rows:
    a pair ``(X, Y)`` or a window source such as
    :meth:`~seqnets.data.parquet_shards.ParquetShard.window_set`. ``batch_size`` is the
    global batch; across ranks each row is used once per epoch. Alone (no torchrun) it
    trains on its data with batches of equal sizes. No checkpoints or resuming."""
    config = FitConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                       loss=loss, metrics=metrics, clipnorm=clipnorm,
                       global_clipnorm=global_clipnorm, clipvalue=clipvalue, shuffle=shuffle,
                       bucket=False, seed=seed, threads=threads, quiet=quiet)
    if runs._ACTIVE.get() is not None:
        raise ConfigError("fit_sharded keeps no checkpoints: it cannot run inside a "
                          "checkpointed command run")
    data = _source(train, "train")
    val = None if valid is None else _source(valid, "valid")
    group = distributed.from_environment(model_device(model))
    counts = [len(data)] if group is None else [
        int(c) for c in group.gather(torch.tensor([len(data)], dtype=torch.int64))]
    if min(counts) == 0:
        empty = [r for r, c in enumerate(counts) if c == 0]
        raise DataError(f"rank(s) {empty} have no training rows (each rank needs at least "
                        "one). Fix: give the dataset at least as many series as ranks")
    plan = shard_plan(counts, config.batch_size)
    rank = 0 if group is None else group.rank
    world = 1 if group is None else group.world
    totals = plan.sum(0)
    steps = _Steps(model, config, sum(counts), group)
    trainer = steps.trainer
    seed = config.seed if config.seed is not None else int(torch.randint(0, 2**62, (1,)))
    if group is not None:
        seed = group.broadcast_int(seed)
    order_rng = torch.Generator().manual_seed(seed + rank)  # each rank its own order
    threads = config.threads
    if threads is None and steps.device.type == "cpu":
        threads = default_threads(model)
        if group is not None:
            threads = max(1, min(threads, (os.cpu_count() or 1) // group.local_world))
    dropout_seed = config.seed if group is None or config.seed is None \
        else config.seed + group.rank

    def batches(order: torch.Tensor | None) -> Iterator[tuple]:
        start = 0
        for n_rs, n_s in zip(plan[rank].tolist(), totals.tolist(), strict=True):
            rows = slice(start, start + n_rs) if order is None else order[start:start + n_rs]
            if n_rs == 0:  # no rows at this step: one row, weight 0 (DDP needs every rank)
                rows = slice(0, 1)
            xb, yb = data[rows]
            start += n_rs
            yield xb, yb, None, n_rs * world / n_s

    with thread_count(threads), seeded(dropout_seed), StopRequests() as stop:
        for cb in callbacks:
            cb.on_train_begin(trainer)
        try:
            for epoch in range(config.epochs):
                trainer.epoch = epoch
                position = Position(epoch=epoch)
                begin = time.perf_counter()
                order = torch.randperm(len(data), generator=order_rng) if config.shuffle \
                    else None
                if not steps.epoch(position, batches(order), callbacks, stop):
                    raise TrainingInterrupted(
                        f"training stopped by signal {stop.signum} in epoch {epoch + 1}; "
                        "fit_sharded writes no checkpoint: start it again",
                        checkpoint="", signal=stop.signum)
                steps.end_epoch(position, begin, callbacks, None if val is None else
                                lambda: _evaluate(model, val, config.loss, config.metrics,
                                                  max(config.batch_size, 256), group))
                if group is not None:
                    trainer.stop_training = group.any(trainer.stop_training)[0]
                if trainer.stop_training:
                    break
        finally:
            for cb in callbacks:
                cb.on_train_end(trainer)
    model.eval()
    return trainer.history


@torch.no_grad()
def _evaluate(model: nn.Module, data: Any, loss: str | LossFn,
              metrics: Sequence[str | LossFn], batch_size: int,
              group: distributed.Group | None) -> dict[str, float]:
    """Every rank scores all its own rows; the sums and counts are added over the ranks."""
    _, loss_fn = get_loss(loss)
    fns = [get_metric(m) for m in metrics]
    names = ["loss"] + [nm for nm, _ in fns]
    totals = [0.0] * len(names) + [float(len(data))]
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(data), batch_size):
            xb, yb = data[slice(start, min(start + batch_size, len(data)))]
            out = _forward(model, xb, None, device)
            yb = yb.to(device)
            k = len(xb)
            totals[0] += float(loss_fn(out, yb)) * k
            for i, (_, fn) in enumerate(fns, start=1):
                totals[i] += float(fn(out, yb)) * k
    finally:
        model.train(was_training)
    if group is not None:
        totals = group.sum(totals)
    n = totals.pop()
    if n == 0:
        raise DataError("no validation rows on any rank. Fix: give valid rows, or valid=None")
    return {name: total / n for name, total in zip(names, totals, strict=True)}
