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

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..layers.ops.dispatch import default_threads, thread_count
from .batches import (
    as_data,
    as_lengths,
    as_tensor,
    batch_triples,
    bucket_order,
    model_device,
)
from .config import FitConfig
from .environment import LONG_SEQUENCE, Progress, return_freed_memory, seeded
from .losses import LossFn, get_loss, get_metric
from .optim import OptimizerSpec, make_optimizer
from .state import Callback, History, Trainer


def fit(model: nn.Module, train: Any, valid: Any = None, *, epochs: int = 1,
        batch_size: int = 32, optimizer: OptimizerSpec = "adam", lr: float | None = None,
        loss: str | LossFn = "mse", metrics: Sequence[str | LossFn] = (),
        clipnorm: float | None = None, global_clipnorm: float | None = None,
        clipvalue: float | None = None, callbacks: Sequence[Callback] = (),
        shuffle: bool = True, bucket: bool = False, seed: int | None = None,
        threads: int | None = None, quiet: bool = False) -> History:
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
    """
    config = FitConfig(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                       loss=loss, metrics=metrics, clipnorm=clipnorm,
                       global_clipnorm=global_clipnorm, clipvalue=clipvalue, shuffle=shuffle,
                       bucket=bucket, seed=seed, threads=threads, quiet=quiet)
    return fit_config(model, train, valid, config, callbacks)


def fit_config(model: nn.Module, train: Any, valid: Any, config: FitConfig,
               callbacks: Sequence[Callback] = ()) -> History:
    """:func:`fit` with its settings as one :class:`~seqnets.training.FitConfig`."""
    x, y, lengths = as_data(train, "train")
    if x.dim() >= 2 and x.shape[1] >= LONG_SEQUENCE:
        return_freed_memory()
    val = as_data(valid, "valid") if valid is not None else None
    steps = _Steps(model, config, len(x))
    trainer = steps.trainer
    # drawn before the seeded block, so an unseeded run takes its order from the global RNG
    order_rng = torch.Generator().manual_seed(
        config.seed if config.seed is not None else int(torch.randint(0, 2**62, (1,))))
    threads = config.threads
    if threads is None and steps.device.type == "cpu":
        threads = default_threads(model)
    with thread_count(threads), seeded(config.seed):
        for cb in callbacks:
            cb.on_train_begin(trainer)
        try:
            for epoch in range(config.epochs):
                trainer.epoch = epoch
                start = time.perf_counter()
                order = None
                if config.shuffle and config.bucket and lengths is not None:
                    order = bucket_order(lengths, config.batch_size, order_rng)
                elif config.shuffle:
                    order = torch.randperm(len(x), generator=order_rng)
                batches = batch_triples(x, y, lengths, config.batch_size, order)
                logs, norms = steps.epoch(epoch, batches, callbacks)
                if val is not None:
                    scores = evaluate(model, val, loss=config.loss, metrics=config.metrics,
                                      batch_size=max(config.batch_size, 256))
                    logs.update({f"val_{k}": v for k, v in scores.items()})
                logs.update(norms)
                logs["seconds"] = time.perf_counter() - start
                trainer.history.append(epoch, logs)
                steps.progress.end_epoch(epoch, logs)
                for cb in callbacks:
                    cb.on_epoch_end(trainer, epoch, logs)
                if trainer.stop_training:
                    break
        finally:  # also on errors and Ctrl-C: close writers, restore best weights
            for cb in callbacks:
                cb.on_train_end(trainer)
    model.eval()
    return trainer.history


class _Steps:
    """The optimisation steps of one run: forward, loss, backward, clipping, update."""

    def __init__(self, model: nn.Module, config: FitConfig, n: int) -> None:
        self.model, self.config, self.n = model, config, n
        _, self.loss_fn = get_loss(config.loss)
        self.metric_fns = [get_metric(m) for m in config.metrics]
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ConfigError("the model has no trainable parameters (is it built? give "
                              "Sequential an input_size)")
        self.trainer = Trainer(model, make_optimizer(config.optimizer, self.params, config.lr))
        self.device = model_device(model)
        self.batches = math.ceil(n / config.batch_size)
        self.progress = Progress(config.epochs, self.batches, config.quiet)

    def epoch(self, epoch: int, batches: Iterator[tuple[torch.Tensor, torch.Tensor, Any]],
              callbacks: Sequence[Callback]) -> tuple[dict[str, float], dict[str, float]]:
        """Train on every batch once: the epoch's mean loss and metrics, and its gradient
        norms (mean and largest)."""
        model, trainer, opt, cfg = self.model, self.trainer, self.trainer.optimizer, self.config
        model.train()
        self.progress.start_epoch(epoch)
        sums = {"loss": 0.0, **{name: 0.0 for name, _ in self.metric_fns}}
        norm_sum, norm_max = 0.0, 0.0
        for xb, yb, lb in batches:
            xb = xb.to(self.device, non_blocking=True)
            yb = yb.to(self.device, non_blocking=True)
            out = model(xb) if lb is None else model(xb, lengths=lb.to(self.device))
            batch_loss = self.loss_fn(out, yb)
            value = float(batch_loss.detach())
            if not math.isfinite(value):  # stop before the weights are spoiled
                self.progress.end_epoch(epoch, {"seconds": 0.0, "loss": value})
                raise FloatingPointError(
                    f"loss became {value} at epoch {epoch + 1}, step {trainer.step + 1}: "
                    "lower the learning rate or clip gradients (clipnorm=1.0)")
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            norm = clip_gradients(self.params, cfg.clipnorm, cfg.global_clipnorm,
                                  cfg.clipvalue)
            opt.step()
            trainer.step += 1
            k = len(xb)
            sums["loss"] += value * k
            with torch.no_grad():
                for name, fn in self.metric_fns:
                    sums[name] += float(fn(out, yb)) * k
            norm_sum += norm
            norm_max = max(norm_max, norm)
            self.progress.step(value)
            for cb in callbacks:
                cb.on_batch_end(trainer, value)
        logs = {key: total / self.n for key, total in sums.items()}
        return logs, {"grad_norm": norm_sum / self.batches, "grad_norm_max": norm_max}


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
    x, y, lengths = as_data(data, "data")
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
    return {name: total / len(x) for name, total in zip(names, totals, strict=True)}


def _forward(model: nn.Module, xb: torch.Tensor, lb: torch.Tensor | None,
             device: torch.device) -> torch.Tensor:
    xb = xb.to(device)
    return model(xb) if lb is None else model(xb, lengths=lb.to(device))
