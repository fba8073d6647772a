"""fit / evaluate / predict: the training loop, with Keras's defaults.

Data is a pair ``(X, Y)`` of NumPy arrays or tensors, batch first, or a triple
``(X, Y, lengths)`` of sequences of different lengths padded at the end (X ``[N, T, ...]``,
``lengths`` ``[N]``, as :func:`~seqnets.training.pad_sequences` builds them): each batch is
then cut to its longest sequence and the model called as ``model(x, lengths=lengths)``.
Randomness (shuffling and dropout) comes from ``seed``: same seed, same history on CPU.
The global RNG is left as it was. The pieces live apart: the settings (:mod:`.config`), the
batch source (:mod:`.batches`), the thread choice (:mod:`seqnets.layers.ops.dispatch`), the
callbacks' protocol (:mod:`.state`), progress and memory (:mod:`.environment`).
"""

from __future__ import annotations

import itertools
import math
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, DivergenceError
from ..layers import sync_stats
from ..layers.ops.dispatch import default_threads, thread_count
from . import distributed, run_state, runs
from .batches import (
    as_data,
    as_lengths,
    as_tensor,
    batch_triples,
    bucket_order,
    model_device,
)
from .checkpoints import data_fingerprint
from .config import FitConfig
from .environment import LONG_SEQUENCE, Progress, return_freed_memory, seeded
from .losses import LossFn, get_loss, get_metric
from .optim import OptimizerSpec, make_optimizer
from .run_state import Position
from .signals import StopRequests
from .state import Callback, History, Trainer


def fit(model: nn.Module, train: Any, valid: Any = None, *, epochs: int = 1,
        batch_size: int = 32, optimizer: OptimizerSpec = "adam", lr: float | None = None,
        loss: str | LossFn = "mse", metrics: Sequence[str | LossFn] = (),
        clipnorm: float | None = None, global_clipnorm: float | None = None,
        clipvalue: float | None = None, callbacks: Sequence[Callback] = (),
        shuffle: bool = True, bucket: bool = False, seed: int | None = None,
        threads: int | None = None, quiet: bool = False,
        checkpoint: str | os.PathLike | None = None,
        resume: str | os.PathLike | None = None) -> History:
    """Train ``model`` on ``train = (X, Y)`` or ``(X, Y, lengths)``; returns the
    :class:`History`.

    Args:
        valid: ``(X_valid, Y_valid)`` (or with lengths), evaluated after every epoch
            (``val_*`` keys).
        optimizer, lr: a Keras name with Keras defaults, a torch optimiser or a factory.
        loss: ``"mse"``, ``"mae"``, ``"huber"``, ``"crossentropy"`` (logits), or a callable.
        metrics: names (``"mse"``, ``"mae"``, ``"last_time_step_mse"``, ``"accuracy"``) or
            callables, reported for training and validation data.
        clipnorm: clip each parameter's gradient to this norm (Keras's ``clipnorm``);
            ``global_clipnorm`` clips the norm of all gradients together; ``clipvalue``
            clips every gradient element to ``[-clipvalue, clipvalue]``.
        callbacks: :mod:`seqnets.callbacks` objects (early stopping, checkpoints, TensorBoard).
        bucket: with lengths, batch sequences of similar lengths together (shuffled pools
            sorted by length, :func:`~seqnets.training.batches.bucket_order`), so that each
            batch carries little padding; needs ``shuffle``.
        seed: seeds shuffling and dropout; the same seed gives the same history on CPU.
        threads: intra-op CPU threads while training (default: the measured rule of
            :func:`~seqnets.layers.ops.dispatch.default_threads`).
        quiet: no progress output (a bar on a terminal, a line per epoch otherwise).
        checkpoint: a folder where the whole run state (weights, optimiser, RNGs, data
            order, position, callbacks, history) is written after every epoch, and on
            SIGINT / SIGTERM. Without it an interrupted run writes its checkpoint to a new
            temporary folder. Either way an interruption finishes the current step, writes
            the checkpoint and raises :class:`~seqnets.errors.TrainingInterrupted`, whose
            message says how to resume.
        resume: a checkpoint folder to continue from, with the same model (as built),
            data and settings (``epochs`` may grow); on CPU the final weights are those of
            the uninterrupted run, bit for bit.

    Started by ``torchrun``, every process runs ``fit`` data-parallel: ``batch_size`` is the
    global batch, shared out among the ranks (:mod:`seqnets.training.distributed`).
    """
    config = FitConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                       loss=loss, metrics=metrics, clipnorm=clipnorm,
                       global_clipnorm=global_clipnorm, clipvalue=clipvalue, shuffle=shuffle,
                       bucket=bucket, seed=seed, threads=threads, quiet=quiet)
    return fit_config(model, train, valid, config, callbacks, checkpoint=checkpoint,
                      resume=resume)


def fit_config(model: nn.Module, train: Any, valid: Any, config: FitConfig,
               callbacks: Sequence[Callback] = (), *,
               checkpoint: str | os.PathLike | None = None,
               resume: str | os.PathLike | None = None) -> History:
    """:func:`fit` with its settings as one :class:`~seqnets.training.FitConfig`."""
    x, y, lengths = as_data(train, "train")
    if x.dim() >= 2 and x.shape[1] >= LONG_SEQUENCE:
        return_freed_memory()
    val = as_data(valid, "valid") if valid is not None else None
    every_epoch = checkpoint is not None
    if checkpoint is None and resume is None:  # inside runs.checkpointed(): its next folder
        checkpoint, again = runs.next_fit()
        resume = checkpoint if again else None
    group = distributed.from_environment(model_device(model))
    if group is not None and resume is None and distributed.restarted() and checkpoint \
            is not None and run_state.has_checkpoint(checkpoint):
        resume = checkpoint  # torchrun restarted the group after a failure: carry on
    saved = None if resume is None else run_state.load(resume, config,
                                                       data_fingerprint(x, y, lengths))
    steps = _Steps(model, config, len(x), group)
    trainer = steps.trainer
    # drawn before the seeded block, so an unseeded run takes its order from the global RNG
    seed = config.seed if config.seed is not None else int(torch.randint(0, 2**62, (1,)))
    if group is not None:  # every rank must draw the same data order
        seed = group.broadcast_int(seed)
    order_rng = torch.Generator().manual_seed(seed)
    threads = config.threads
    if threads is None and steps.device.type == "cpu":
        threads = default_threads(model)
        if group is not None:  # the ranks of one machine share its cores
            threads = max(1, min(threads, (os.cpu_count() or 1) // group.local_world))
    run = run_state.Run(model, trainer, callbacks, config, order_rng,
                        lambda: data_fingerprint(x, y, lengths), steps.batches, checkpoint,
                        group)
    # each rank its own dropout masks: the same seed would repeat them on every rank
    dropout_seed = config.seed if group is None or config.seed is None \
        else config.seed + group.rank
    with thread_count(threads), seeded(dropout_seed), StopRequests() as stop:
        for cb in callbacks:
            cb.on_train_begin(trainer)
        position = run.restore(saved) if saved is not None else Position(epoch=0)
        try:
            for epoch in range(position.epoch, config.epochs):
                if trainer.stop_training:  # a resumed run that had already stopped
                    break
                trainer.epoch = epoch
                if position.epoch != epoch:
                    position = Position(epoch=epoch)
                position.order_rng = order_rng.get_state()
                start = time.perf_counter() - position.seconds
                order = None
                if config.shuffle and config.bucket and lengths is not None:
                    order = bucket_order(lengths, config.batch_size, order_rng)
                elif config.shuffle:
                    order = torch.randperm(len(x), generator=order_rng)
                batches = batch_triples(x, y, lengths, config.batch_size, order)
                done = steps.epoch(position, itertools.islice(batches, position.batch, None),
                                   callbacks, stop)
                if not done:  # under torchrun perhaps another rank's signal
                    position.seconds = time.perf_counter() - start
                    run.interrupted(position, stop.signum or signal.SIGTERM)
                steps.end_epoch(position, start, callbacks, None if val is None else
                                lambda: _evaluate(model, val, config.loss, config.metrics,
                                                  max(config.batch_size, 256), group))
                signalled = stop.signum is not None
                if group is not None:  # one decision for all ranks, even if one got a signal
                    trainer.stop_training, signalled = group.any(trainer.stop_training,
                                                                 signalled)
                position = Position(epoch=epoch + 1, order_rng=order_rng.get_state())
                if every_epoch:
                    run.write(run.folder(), position)
                if signalled:
                    run.interrupted(position, stop.signum or signal.SIGTERM)
                if trainer.stop_training:
                    break
            if checkpoint is not None and not every_epoch:  # a finished call of a run
                run.write(run.folder(), position)
        finally:  # also on errors and Ctrl-C: close writers, restore best weights
            for cb in callbacks:
                cb.on_train_end(trainer)
    model.eval()
    return trainer.history


class _Steps:
    """The optimisation steps of one run: forward, loss, backward, clipping, update."""

    def __init__(self, model: nn.Module, config: FitConfig, n: int,
                 group: distributed.Group | None = None) -> None:
        self.model, self.config, self.n, self.group = model, config, n, group
        _, self.loss_fn = get_loss(config.loss)
        self.metric_fns = [get_metric(m) for m in config.metrics]
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ConfigError("the model has no trainable parameters (is it built? give "
                              "Sequential an input_size)")
        self.trainer = Trainer(model, make_optimizer(config.optimizer, self.params, config.lr))
        self.trainer.main = group is None or group.main
        self.device = model_device(model)
        self.batches = math.ceil(n / config.batch_size)
        self.progress = Progress(config.epochs, self.batches,
                                 config.quiet or not self.trainer.main)
        self.net = model if group is None else group.wrap(model)
        # batch normalisation over every rank's rows of a batch (layers.sync_stats)
        self.reduce = None if group is None else group.sum_tensor
        self.first_loss: float | None = None
        self.warned = False

    def epoch(self, position: Position,
              batches: Iterator[tuple],
              callbacks: Sequence[Callback], stop: StopRequests) -> bool:
        """Train on the epoch's batches ``(x, y, lengths)`` from ``position.batch`` on,
        keeping the running sums in ``position``; False when a stop request ended the epoch
        early. A batch ``(x, y, lengths, weight)`` is this rank's own rows with their loss
        weight (:func:`~seqnets.training.sharded.fit_sharded`), used as it is."""
        net, trainer, opt, cfg = self.net, self.trainer, self.trainer.optimizer, self.config
        group = self.group
        net.train()
        self.progress.start_epoch(position.epoch, position.batch)
        sums = position.sums
        for name in ("loss", *(name for name, _ in self.metric_fns)):
            sums.setdefault(name, 0.0)
        for item in batches:
            xb, yb, lb = item[:3]
            if group is None and stop.signum is not None:
                return False
            share = 1.0
            if len(item) > 3:  # fit_sharded: this rank's own rows and their weight
                share = item[3]
            elif group is not None:
                xb, yb, lb, share = _rank_part(group, xb, yb, lb)
            xb = xb.to(self.device, non_blocking=True)
            yb = yb.to(self.device, non_blocking=True)
            with sync_stats.summed_over(self.reduce, counted=share > 0):
                out = net(xb) if lb is None else net(xb, lengths=lb.to(self.device))
            batch_loss = self.loss_fn(out, yb)
            value = float(batch_loss.detach())
            finite = math.isfinite(value)
            if group is not None:  # the ranks stop together, or none does
                stopping, bad = group.any(stop.signum is not None, not finite)
                if stopping:
                    return False
                finite = not bad
                batch_loss = batch_loss * share  # DDP's mean over ranks = the batch's mean
            if not finite:  # stop before the weights are spoiled
                self._diverged("loss", value, position)
            self._watch_growth(value, position)
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            norm = clip_gradients(self.params, cfg.clipnorm, cfg.global_clipnorm,
                                  cfg.clipvalue)
            if not math.isfinite(norm):  # the update would spoil every weight it touches
                self._diverged("gradient norm", norm, position)
            opt.step()
            trainer.step += 1
            position.batch += 1
            k = len(xb) if share else 0
            sums["loss"] += value * k
            with torch.no_grad():
                for name, fn in self.metric_fns:
                    sums[name] += float(fn(out, yb)) * k
            position.norm_sum += norm
            position.norm_max = max(position.norm_max, norm)
            self.progress.step(value)
            for cb in callbacks:
                cb.on_batch_end(trainer, value)
        return True

    def _diverged(self, what: str, value: float, position: Position) -> None:
        self.progress.end_epoch(position.epoch, {"seconds": 0.0, "loss": value})
        raise DivergenceError(
            f"the {what} became {value} at epoch {position.epoch + 1}, batch "
            f"{position.batch + 1} (step {self.trainer.step + 1}); the weights are those of "
            "the last good step: lower the learning rate or clip gradients (clipnorm=1.0)")

    def _watch_growth(self, value: float, position: Position) -> None:
        """Warn once when the loss has grown a millionfold: a run diverging slowly, which
        no NaN will stop."""
        if self.first_loss is None:
            self.first_loss = value
        elif not self.warned and value >= 1.0 and value > 1e6 * self.first_loss:
            self.warned = True
            warnings.warn(f"the loss grew from {self.first_loss:.3g} to {value:.3g} by epoch "
                          f"{position.epoch + 1}, batch {position.batch + 1}: training is "
                          "diverging; lower the learning rate or clip gradients "
                          "(clipnorm=1.0)", RuntimeWarning, stacklevel=5)

    def end_epoch(self, position: Position, start: float, callbacks: Sequence[Callback],
                  validate: Callable[[], dict[str, float]] | None) -> None:
        """A finished epoch's logs (with ``validate()``'s scores as ``val_*``) into the
        history, the progress line and the callbacks."""
        epoch = position.epoch
        logs, norms = self.logs(position)
        if validate is not None:
            logs.update({f"val_{k}": v for k, v in validate().items()})
        logs.update(norms)
        logs["seconds"] = time.perf_counter() - start
        self.trainer.history.append(epoch, logs)
        self.progress.end_epoch(epoch, logs)
        for cb in callbacks:
            cb.on_epoch_end(self.trainer, epoch, logs)

    def logs(self, position: Position) -> tuple[dict[str, float], dict[str, float]]:
        """A finished epoch's mean loss and metrics, and its gradient norms (mean and
        largest)."""
        totals = dict(position.sums)
        if self.group is not None:  # every rank logs the whole epoch's numbers
            totals = dict(zip(totals, self.group.sum(list(totals.values())), strict=True))
        logs = {key: total / self.n for key, total in totals.items()}
        return logs, {"grad_norm": position.norm_sum / self.batches,
                      "grad_norm_max": position.norm_max}


def clip_gradients(params: list[nn.Parameter], clipnorm: float | None,
                   global_clipnorm: float | None, clipvalue: float | None) -> float:
    """Clip gradients as asked; return the global gradient norm before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norms = torch._foreach_norm(grads)
    total = float(torch.linalg.vector_norm(torch.stack(norms)))
    if clipvalue is not None:
        torch._foreach_clamp_min_(grads, -clipvalue)
        torch._foreach_clamp_max_(grads, clipvalue)
    if clipnorm is not None:
        if clipvalue is not None:  # the norms of the value-clipped gradients
            norms = torch._foreach_norm(grads)
        for g, nrm in zip(grads, norms, strict=True):
            if nrm > clipnorm:
                g.mul_(clipnorm / (float(nrm) + 1e-12))
    if global_clipnorm is not None:
        now = total
        if clipvalue is not None or clipnorm is not None:  # the norm after those clips
            now = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))
        if now > global_clipnorm:
            torch._foreach_mul_(grads, global_clipnorm / (now + 1e-12))
    return total


@torch.no_grad()
def predict(model: nn.Module, x: Any, batch_size: int = 1024, lengths: Any = None) -> Any:
    """Outputs for ``x`` in batches, in eval mode, without gradients; with ``lengths`` (of
    the padded sequences of ``x``) each batch is cut to its longest sequence and the model
    gets the lengths.

    Returns a NumPy array for a NumPy input, a tensor for a tensor.
    """
    numpy_in = not isinstance(x, torch.Tensor)
    xt = as_tensor(x, "X", integer_ok=False)
    lt = None if lengths is None else as_lengths(lengths, xt, "X")
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        outs = [_forward(model, xb, lb, device) for xb, _, lb in
                batch_triples(xt, xt, lt, batch_size, None)]
    finally:
        model.train(was_training)
    out = torch.cat(outs) if outs else torch.empty(0)
    return out.cpu().numpy() if numpy_in else out


@torch.no_grad()
def evaluate(model: nn.Module, data: Any, loss: str | LossFn = "mse",
             metrics: Sequence[str | LossFn] = (), batch_size: int = 1024) -> dict[str, float]:
    """``{"loss": ..., <metric>: ...}`` over ``data = (X, Y)`` (or ``(X, Y, lengths)``),
    exact means over samples."""
    return _evaluate(model, as_data(data, "data"), loss, metrics, batch_size, None)


@torch.no_grad()
def _evaluate(model: nn.Module, data: tuple, loss: str | LossFn,
              metrics: Sequence[str | LossFn], batch_size: int,
              group: distributed.Group | None) -> dict[str, float]:
    """:func:`evaluate` of checked data; under torchrun each rank scores its share of the
    rows and the sums are added up, so every rank gets the same scores."""
    x, y, lengths = data
    n = len(x)
    if group is not None:
        rows = group.part(n)
        x, y = x[rows], y[rows]
        lengths = None if lengths is None else lengths[rows]
    _, loss_fn = get_loss(loss)
    fns = [get_metric(m) for m in metrics]
    names = ["loss"] + [nm for nm, _ in fns]
    totals = [0.0] * len(names)
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        for xb, yb, lb in batch_triples(x, y, lengths, batch_size, None):
            yb = yb.to(device)
            out = _forward(model, xb, lb, device)
            k = len(xb)
            totals[0] += float(loss_fn(out, yb)) * k
            for i, (_, fn) in enumerate(fns, start=1):
                totals[i] += float(fn(out, yb)) * k
    finally:
        model.train(was_training)
    if group is not None:
        totals = group.sum(totals)
    return {name: total / n for name, total in zip(names, totals, strict=True)}


def _rank_part(group: distributed.Group, xb: torch.Tensor, yb: torch.Tensor,
               lb: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, Any, float]:
    """This rank's rows of a global batch and its loss weight (its share of the rows times
    the world size: DDP averages the ranks' gradients). A rank left without rows (a last
    batch smaller than the world) computes on one row with weight 0, since every rank must
    take part in each gradient reduction."""
    rows = len(xb)
    part = group.part(rows)
    share = (part.stop - part.start) * group.world / rows
    if part.stop == part.start:
        part = slice(0, 1)
    xb, yb = xb[part], yb[part]
    if lb is not None:
        lb = lb[part]
        xb = xb[:, :int(lb.max())]
    return xb, yb, lb, share


def _forward(model: nn.Module, xb: torch.Tensor, lb: torch.Tensor | None,
             device: torch.device) -> torch.Tensor:
    xb = xb.to(device)
    return model(xb) if lb is None else model(xb, lengths=lb.to(device))
