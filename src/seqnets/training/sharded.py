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
over the ranks, so every rank logs the same history.

Checkpoints are :func:`~seqnets.fit`'s (rank 0 writes them; every rank's dropout RNG is in
them). Rank ``r``'s data order in epoch ``e`` is drawn from its own generator seeded by
``(seed, r, e)``, so a resumed run redraws it from the position alone. The data's
fingerprint is every rank's row count and a hash of rows sampled from each rank's data: a
run resumed with other data, or with another number of ranks, is refused.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from ..layers.ops.dispatch import default_threads, thread_count
from . import distributed, run_state, runs
from .batches import as_pair, model_device
from .checkpoints import data_fingerprint
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
                quiet: bool = False, checkpoint: str | os.PathLike | None = None,
                resume: str | os.PathLike | None = None) -> History:
    """:func:`~seqnets.fit` where each rank passes its own ``train`` (and ``valid``) rows:
    a pair ``(X, Y)`` or a window source such as
    :meth:`~seqnets.data.parquet_shards.ParquetShard.window_set`. ``batch_size`` is the
    global batch; across ranks each row is used once per epoch. Alone (no torchrun) it
    trains on its data with batches of equal sizes. ``checkpoint`` and ``resume`` are
    :func:`~seqnets.fit`'s (every rank passes the same folder; under ``torchrun
    --max-restarts`` a restarted group resumes from it); resume with the same data on the
    same number of ranks."""
    config = FitConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                       loss=loss, metrics=metrics, clipnorm=clipnorm,
                       global_clipnorm=global_clipnorm, clipvalue=clipvalue, shuffle=shuffle,
                       bucket=False, seed=seed, threads=threads, quiet=quiet)
    data = _source(train, "train")
    val = None if valid is None else _source(valid, "valid")
    every_epoch = checkpoint is not None
    if checkpoint is None and resume is None:  # inside runs.checkpointed(): its next folder
        checkpoint, again = runs.next_fit()
        resume = checkpoint if again else None
    group = distributed.from_environment(model_device(model))
    if group is not None and resume is None and distributed.restarted() and checkpoint \
            is not None and run_state.has_checkpoint(checkpoint):
        resume = checkpoint  # torchrun restarted the group after a failure: carry on
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

    def fingerprint() -> dict:  # read from the data when first needed, by every rank
        return _fingerprint(data, counts, group)

    saved = None if resume is None else run_state.load(resume, config, fingerprint())
    steps = _Steps(model, config, sum(counts), group)
    trainer = steps.trainer
    seed = config.seed if config.seed is not None else int(torch.randint(0, 2**62, (1,)))
    if saved is not None:  # the interrupted run's, drawn or given
        seed = int(saved["position"]["order_rng"][0])
    if group is not None:
        seed = group.broadcast_int(seed)
    # every position keeps the orders' seed (where fit keeps its order generator's state)
    order_seed = torch.tensor([seed], dtype=torch.int64)
    run = run_state.Run(model, trainer, callbacks, config, None, fingerprint,
                        plan.shape[1], checkpoint, group)
    threads = config.threads
    if threads is None and steps.device.type == "cpu":
        threads = default_threads(model)
        if group is not None:
            threads = max(1, min(threads, (os.cpu_count() or 1) // group.local_world))
    dropout_seed = config.seed if group is None or config.seed is None \
        else config.seed + group.rank

    def batches(order: torch.Tensor | None, done: int) -> Iterator[tuple]:
        """The epoch's batches after the first ``done`` steps."""
        start = int(plan[rank, :done].sum())
        for n_rs, n_s in zip(plan[rank, done:].tolist(), totals[done:].tolist(),
                             strict=True):
            rows = slice(start, start + n_rs) if order is None else order[start:start + n_rs]
            if n_rs == 0:  # no rows at this step: one row, weight 0 (DDP needs every rank)
                rows = slice(0, 1)
            xb, yb = data[rows]
            start += n_rs
            yield xb, yb, None, n_rs * world / n_s

    with thread_count(threads), seeded(dropout_seed), StopRequests() as stop:
        for cb in callbacks:
            cb.on_train_begin(trainer)
        position = run.restore(saved) if saved is not None else Position(epoch=0)
        position.order_rng = order_seed
        try:
            for epoch in range(position.epoch, config.epochs):
                if trainer.stop_training:  # a resumed run that had already stopped
                    break
                trainer.epoch = epoch
                if position.epoch != epoch:
                    position = Position(epoch=epoch, order_rng=order_seed)
                begin = time.perf_counter() - position.seconds
                order = _order(len(data), seed, rank, epoch) if config.shuffle else None
                if not steps.epoch(position, batches(order, position.batch), callbacks,
                                   stop):  # under torchrun perhaps another rank's signal
                    position.seconds = time.perf_counter() - begin
                    run.interrupted(position, stop.signum or signal.SIGTERM)
                steps.end_epoch(position, begin, callbacks, None if val is None else
                                lambda: _evaluate(model, val, config.loss, config.metrics,
                                                  max(config.batch_size, 256), group))
                signalled = stop.signum is not None
                if group is not None:  # one decision for all ranks
                    trainer.stop_training, signalled = group.any(trainer.stop_training,
                                                                 signalled)
                position = Position(epoch=epoch + 1, order_rng=order_seed)
                if every_epoch:
                    run.write(run.folder(), position)
                if signalled:
                    run.interrupted(position, stop.signum or signal.SIGTERM)
                if trainer.stop_training:
                    break
            if checkpoint is not None and not every_epoch:  # a finished call of a run
                run.write(run.folder(), position)
        finally:
            for cb in callbacks:
                cb.on_train_end(trainer)
    model.eval()
    return trainer.history


def _order(n: int, seed: int, rank: int, epoch: int) -> torch.Tensor:
    """Rank ``rank``'s shuffled order of its ``n`` rows in ``epoch``: a generator of its own
    per rank and epoch, so that a resumed run draws it again from the position alone."""
    mixed = np.random.SeedSequence([seed % 2**63, rank, epoch]).generate_state(2, np.uint32)
    g = torch.Generator().manual_seed(int(mixed[0]) << 32 | int(mixed[1]))
    return torch.randperm(n, generator=g)


def _fingerprint(data: Any, counts: list[int], group: distributed.Group | None) -> dict:
    """Every rank's row count and a hash of up to 256 evenly spaced rows of each rank's
    data (the same dict on every rank)."""
    rows = torch.linspace(0, len(data) - 1, min(len(data), 256)).long()
    local = data_fingerprint(*data[rows])["sha256"]
    digest = torch.tensor(list(bytes.fromhex(local)), dtype=torch.uint8)
    parts = [digest] if group is None else group.gather(digest)
    return {"shapes": [["rows per rank", counts]],
            "sha256": [bytes(p.tolist()).hex() for p in parts]}


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
