"""fit / evaluate / predict: the training loop, with Keras's defaults.

Data is a pair ``(X, Y)`` of NumPy arrays or tensors, batch first. Optimisers by name
use Keras's defaults (Adam ``lr=1e-3, eps=1e-7``; SGD ``lr=1e-2``). One deliberate
difference: PyTorch's Adam adds ``eps`` after the bias correction of ``sqrt(v)``, Keras
before, so Keras's effective epsilon is ``eps / sqrt(1 - beta2**t)``: the same update up
to a term of order 1e-7.

Randomness (shuffling and dropout) comes from ``seed``: same seed, same history on CPU.
The global RNG is left as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .callbacks import Callback
from .errors import ConfigError, DataError, ShapeError
from .losses import LossFn, get_loss, get_metric
from .optim import LeanAdam

OptimizerSpec = str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer]

_OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "adam": (torch.optim.Adam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}),
    "nadam": (torch.optim.NAdam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}),
    "sgd": (torch.optim.SGD, {"lr": 1e-2}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}),
}


@dataclass
class History:
    """Per-epoch records of a :func:`fit` run: ``history["loss"][epoch]`` and so on.

    Keys: ``loss``, each metric, ``val_loss`` and ``val_<metric>`` with validation data,
    ``grad_norm`` (mean global gradient norm over the epoch's steps), ``grad_norm_max``
    and ``seconds`` (wall time of the epoch, validation included).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs),
                "history": {k: list(v) for k, v in self.history.items()}}


def _can_fuse(params: Sequence[nn.Parameter]) -> bool:
    """Whether torch's fused Adam takes these parameters: floating point, on one CPU or
    CUDA device, all of one dtype (its kernels group by device and dtype)."""
    params = list(params)
    return bool(params) and all(p.is_floating_point() for p in params) and \
        len({(p.device, p.dtype) for p in params}) == 1 and \
        params[0].device.type in ("cpu", "cuda")


def make_optimizer(spec: OptimizerSpec, params: Sequence[nn.Parameter],
                   lr: float | None = None) -> torch.optim.Optimizer:
    """An optimiser from a Keras name (``"adam"``, ``"nadam"``, ``"sgd"``, ``"rmsprop"``),
    a factory ``params -> optimizer``, or an optimiser instance (used as is)."""
    if isinstance(spec, torch.optim.Optimizer):
        if lr is not None:
            for group in spec.param_groups:
                group["lr"] = lr
        return spec
    if isinstance(spec, str):
        if spec.lower() not in _OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {spec!r}; use one of {sorted(_OPTIMIZERS)}, "
                              "a torch optimizer, or a factory params -> optimizer")
        cls, defaults = _OPTIMIZERS[spec.lower()]
        params = list(params)  # a generator would be spent by the check below
        kwargs = dict(defaults)
        if lr is not None:
            kwargs["lr"] = lr
        if cls is torch.optim.Adam and _can_fuse(params):
            # one kernel for every parameter instead of ~8 small ops each, without torch's
            # per-step regrouping: a tenth of a small model's step time on CPU; same update
            return LeanAdam(params, **kwargs)
        return cls(params, **kwargs)
    if callable(spec):
        opt = spec(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise ConfigError("an optimizer factory must return a torch.optim.Optimizer")
        return make_optimizer(opt, params, lr)
    raise ConfigError(f"optimizer must be a name, a torch optimizer or a factory, got {spec!r}")


def as_tensor(array: Any, name: str, integer_ok: bool = True) -> torch.Tensor:
    """A NumPy array or tensor as a tensor: floats as float32, integers kept (class labels)."""
    if isinstance(array, torch.Tensor):
        t = array
    else:
        try:
            arr = np.asarray(array)
        except Exception as err:  # noqa: BLE001 - report what the user passed
            raise DataError(f"{name} cannot be read as an array: {err}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                       or arr.dtype == bool):
            raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_floating_point() and t.dtype != torch.float32:
        t = t.float()
    elif not t.is_floating_point():
        if not integer_ok:
            t = t.float()
        elif t.dtype == torch.bool:
            t = t.float()
        else:
            t = t.long()
    if t.dim() == 0:
        raise ShapeError(f"{name} must have a batch axis, got a scalar")
    if t.is_floating_point():
        _check_finite(t, name)
    return t


def _check_finite(t: torch.Tensor, name: str, chunk: int = 4096) -> None:
    """Refuse NaN and infinities, in chunks of samples: a strided view of windows is
    checked without materialising it."""
    for start in range(0, len(t), chunk):
        part = t[start:start + chunk]
        bad = ~torch.isfinite(part)
        if bool(bad.any()):
            first = bad.nonzero()[0]
            first[0] += start
            count = int(bad.sum()) + sum(int((~torch.isfinite(t[s:s + chunk])).sum())
                                         for s in range(start + chunk, len(t), chunk))
            raise DataError(f"{name} holds {count} NaN or infinite value(s), the first at "
                            f"index {first.tolist()}; fill or drop them before training")


def as_pair(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``(X, Y)`` and return it as tensors."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError(f"{name} must be a pair (X, Y) of arrays, got {type(data).__name__}")
    x = as_tensor(data[0], f"{name} X", integer_ok=False)
    y = as_tensor(data[1], f"{name} Y")
    if len(x) != len(y):
        raise ShapeError(f"{name}: X has {len(x)} samples but Y has {len(y)}")
    if len(x) == 0:
        raise DataError(f"{name} is empty")
    return x, y


def _batches(n: int, batch_size: int, order: torch.Tensor | None) -> Iterator[Any]:
    for start in range(0, n, batch_size):
        if order is None:
            yield slice(start, min(start + batch_size, n))
        else:
            yield order[start:start + batch_size]


_GATHER_BYTES = 8 << 20  # shuffled rows gathered per indexing call, at most about this much


def _batch_pairs(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 order: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` batches in ``order`` (None: as stored).

    Shuffled rows are gathered a chunk of batches at a time: one indexing call per chunk
    instead of two per step (each costs as much as a small layer), the same batches in the
    same order, and memory bounded by the chunk (a dataset of window views is never copied
    whole)."""
    n = len(x)
    if order is None or n == 0:
        for rows in _batches(n, batch_size, None):
            yield x[rows], y[rows]
        return
    row_bytes = x[0].numel() * x.element_size() + y[0].numel() * y.element_size()
    per_chunk = max(1, _GATHER_BYTES // max(1, row_bytes * batch_size)) * batch_size
    for begin in range(0, n, per_chunk):
        idx = order[begin:begin + per_chunk]
        xc, yc = x[idx], y[idx]
        for rows in _batches(len(idx), batch_size, None):
            yield xc[rows], yc[rows]


def model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def default_threads(model: nn.Module) -> int:
    """Intra-op threads for training ``model`` on CPU: the rule measured by
    ``benchmarks/threads.py`` (README, "Threads").

    One thread when the model is small (< 200k parameters) and every recurrent layer runs
    a compiled single-threaded loop, with no convolution: such steps are bound by
    per-operation overhead, and a second thread only adds synchronisation (GRU: 6.9 ms
    per step with one thread, 9.0 with two). Every available thread otherwise: the native
    loops run batch slices side by side (the chapter's LSTM 1.09-1.23 → 0.66-0.73
    s/epoch), oneDNN's LSTM and the convolutions split their products well (LSTM 11.4 →
    9.1 ms, conv_gru 7.7 → 6.2 ms, a 3×10×32 WaveNet on 1,024 steps 2.8 → 1.6 s).
    "Available" is ``torch.get_num_threads()``, so a caller that runs several trainings side by side
    caps it first (``seqnets reproduce`` gives each worker one core).
    """
    from .layers import fastpath
    from .layers.conv import Conv1D
    from .layers.recurrent import RNN

    available = max(1, torch.get_num_threads())
    size = sum(p.numel() for p in model.parameters())
    probe = torch.empty(1, 1, 1)
    serial = size < 200_000 and not any(isinstance(m, Conv1D) for m in model.modules())
    for m in model.modules():
        if isinstance(m, RNN) and (fastpath.threaded(m.cell)
                                   or not (fastpath.supports(m.cell, probe)
                                           and not m._cpu_prefers_fused)):
            serial = False
    return 1 if serial else available


_LONG_SEQUENCE = 4096  # steps from which fit() asks glibc to return freed buffers


@functools.lru_cache(maxsize=1)
def return_freed_memory() -> bool:
    """Ask glibc to serve buffers above 128 KiB with mmap and to stop raising that threshold.

    Training on long sequences allocates and frees many activation buffers of a few MiB.
    glibc's default raises its mmap threshold after such frees and then keeps the memory in
    its heap: measured on a 3×10×32 WaveNet, batch 8 × 4,096 steps, 917 MB peak RSS with
    the default, 241 MB with this setting. ``fit`` calls it once for sequences of 4,096 steps
    or more; returns False where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 128 * 1024))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def thread_count(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: leave as is), then restore."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seed torch's CPU RNG for the block only (the outer RNG state is restored)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class _Progress:
    """A tqdm bar per epoch on a TTY; one line per epoch in logs; nothing when quiet."""

    def __init__(self, epochs: int, steps: int, quiet: bool) -> None:
        self.epochs, self.steps, self.quiet = epochs, steps, quiet
        self.tty = sys.stderr.isatty()
        self.bar = None

    def start_epoch(self, epoch: int) -> None:
        if self.quiet or not self.tty:
            return
        from tqdm.auto import tqdm
        self.bar = tqdm(total=self.steps, desc=f"Epoch {epoch + 1}/{self.epochs}",
                        leave=False, dynamic_ncols=True)

    def step(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)

    def end_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.quiet:
            return
        parts = [f"{k}: {v:.4g}" for k, v in logs.items() if k not in ("seconds", "grad_norm_max")]
        print(f"Epoch {epoch + 1}/{self.epochs} - {logs['seconds']:.2f}s - " + " - ".join(parts),
              file=sys.stderr, flush=True)


class Trainer:
    """The state of one :func:`fit` run, as callbacks see it."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self.stop_training = False
        self.history = History()
        self.epoch = 0
        self.step = 0


def fit(model: nn.Module, train: Any, valid: Any = None, *, epochs: int = 1,
        batch_size: int = 32, optimizer: OptimizerSpec = "adam", lr: float | None = None,
        loss: str | LossFn = "mse", metrics: Sequence[str | LossFn] = (),
        clipnorm: float | None = None, global_clipnorm: float | None = None,
        clipvalue: float | None = None, callbacks: Sequence[Callback] = (),
        shuffle: bool = True, seed: int | None = None, threads: int | None = None,
        quiet: bool = False) -> History:
    """Train ``model`` on ``train = (X, Y)``; returns the :class:`History`.

    Args:
        valid: ``(X_valid, Y_valid)``, evaluated after every epoch (``val_*`` keys).
        optimizer, lr: a Keras name with Keras defaults, a torch optimiser or a factory.
        loss: ``"mse"``, ``"mae"``, ``"huber"``, ``"crossentropy"`` (logits), or a callable.
        metrics: names (``"mse"``, ``"mae"``, ``"last_time_step_mse"``, ``"accuracy"``) or
            callables, reported for training and validation data.
        clipnorm: clip each parameter's gradient to this norm (Keras's ``clipnorm``);
            ``global_clipnorm`` clips the norm of all gradients together; ``clipvalue``
            clips every gradient element to ``[-clipvalue, clipvalue]``.
        callbacks: :mod:`seqnets.callbacks` objects (early stopping, checkpoints, TensorBoard).
        seed: seeds shuffling and dropout; the same seed gives the same history on CPU.
        threads: intra-op CPU threads while training (default: the measured rule of
            :func:`default_threads`).
        quiet: no progress output (a bar on a terminal, a line per epoch otherwise).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    for arg, value in (("clipnorm", clipnorm), ("global_clipnorm", global_clipnorm),
                       ("clipvalue", clipvalue)):
        if value is not None and not value > 0:
            raise ConfigError(f"{arg} must be positive, got {value!r}")
    x, y = as_pair(train, "train")
    if x.dim() >= 2 and x.shape[1] >= _LONG_SEQUENCE:
        return_freed_memory()
    val = as_pair(valid, "valid") if valid is not None else None
    _, loss_fn = get_loss(loss)
    metric_fns = [get_metric(m) for m in metrics]
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters (is it built? give "
                          "Sequential an input_size)")
    opt = make_optimizer(optimizer, params, lr)
    device = model_device(model)
    trainer = Trainer(model, opt)
    order_rng = torch.Generator().manual_seed(seed if seed is not None else
                                              int(torch.randint(0, 2**62, (1,))))
    n = len(x)
    steps = math.ceil(n / batch_size)
    progress = _Progress(epochs, steps, quiet)
    threads = default_threads(model) if threads is None and device.type == "cpu" else threads

    with thread_count(threads), seeded(seed):
        for cb in callbacks:
            cb.on_train_begin(trainer)
        try:
            for epoch in range(epochs):
                trainer.epoch = epoch
                start = time.perf_counter()
                model.train()
                progress.start_epoch(epoch)
                order = torch.randperm(n, generator=order_rng) if shuffle else None
                sums = {"loss": 0.0, **{name: 0.0 for name, _ in metric_fns}}
                norm_sum, norm_max = 0.0, 0.0
                for xb, yb in _batch_pairs(x, y, batch_size, order):
                    xb = xb.to(device, non_blocking=True)
                    yb = yb.to(device, non_blocking=True)
                    out = model(xb)
                    batch_loss = loss_fn(out, yb)
                    value = float(batch_loss.detach())
                    if not math.isfinite(value):  # stop before the weights are spoiled
                        progress.end_epoch(epoch, {"seconds": 0.0, "loss": value})
                        raise FloatingPointError(
                            f"loss became {value} at epoch {epoch + 1}, step "
                            f"{trainer.step + 1}: lower the learning rate or clip gradients "
                            "(clipnorm=1.0)")
                    opt.zero_grad(set_to_none=True)
                    batch_loss.backward()
                    norm = _clip_and_norm(params, clipnorm, global_clipnorm, clipvalue)
                    opt.step()
                    trainer.step += 1
                    k = len(xb)
                    sums["loss"] += value * k
                    with torch.no_grad():
                        for name, fn in metric_fns:
                            sums[name] += float(fn(out, yb)) * k
                    norm_sum += norm
                    norm_max = max(norm_max, norm)
                    progress.step(value)
                    for cb in callbacks:
                        cb.on_batch_end(trainer, value)
                logs = {key: total / n for key, total in sums.items()}
                if val is not None:
                    scores = evaluate(model, val, loss=loss, metrics=metrics,
                                      batch_size=max(batch_size, 256))
                    logs.update({f"val_{k}": v for k, v in scores.items()})
                logs["grad_norm"] = norm_sum / steps
                logs["grad_norm_max"] = norm_max
                logs["seconds"] = time.perf_counter() - start
                trainer.history.append(epoch, logs)
                progress.end_epoch(epoch, logs)
                for cb in callbacks:
                    cb.on_epoch_end(trainer, epoch, logs)
                if trainer.stop_training:
                    break
        finally:  # also on errors and Ctrl-C: close writers, restore best weights
            for cb in callbacks:
                cb.on_train_end(trainer)
    model.eval()
    return trainer.history


def _clip_and_norm(params: list[nn.Parameter], clipnorm: float | None,
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
def predict(model: nn.Module, x: Any, batch_size: int = 1024) -> Any:
    """Outputs for ``x`` in batches, in eval mode, without gradients.

    Returns a NumPy array for a NumPy input, a tensor for a tensor.
    """
    numpy_in = not isinstance(x, torch.Tensor)
    xt = as_tensor(x, "X", integer_ok=False)
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        outs = [model(xt[s].to(device)) for s in _batches(len(xt), batch_size, None)]
    finally:
        model.train(was_training)
    out = torch.cat(outs) if outs else torch.empty(0)
    return out.cpu().numpy() if numpy_in else out


@torch.no_grad()
def evaluate(model: nn.Module, data: Any, loss: str | LossFn = "mse",
             metrics: Sequence[str | LossFn] = (), batch_size: int = 1024) -> dict[str, float]:
    """``{"loss": ..., <metric>: ...}`` over ``data = (X, Y)``, exact means over samples."""
    x, y = as_pair(data, "data")
    _, loss_fn = get_loss(loss)
    fns = [get_metric(m) for m in metrics]
    names = ["loss"] + [nm for nm, _ in fns]
    totals = [0.0] * len(names)
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        for s in _batches(len(x), batch_size, None):
            xb, yb = x[s].to(device), y[s].to(device)
            out = model(xb)
            k = len(xb)
            totals[0] += float(loss_fn(out, yb)) * k
            for i, (_, fn) in enumerate(fns, start=1):
                totals[i] += float(fn(out, yb)) * k
    finally:
        model.train(was_training)
    return {name: total / len(x) for name, total in zip(names, totals, strict=True)}
