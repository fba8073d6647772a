"""Callbacks for :func:`seqnets.fit`: early stopping, checkpoints, TensorBoard."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from .state import Callback, Trainer


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if "acc" in monitor else "min"


def _monitored(logs: dict[str, float], monitor: str, who: str) -> float:
    if monitor not in logs:
        raise ConfigError(f"{who} monitors {monitor!r}, which this run does not log; "
                          f"available: {sorted(logs)} (val_* needs validation data)")
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    As in Keras, training stops at the end of the ``patience``-th epoch in a row without
    improvement (``patience=0`` and ``1`` both stop at the first such epoch).

    ``restore_best_weights=True`` (default; Keras's default is False) puts back the weights
    of the best epoch at the end of training, so no run ends on a worse model than it saw.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True) -> None:
        if patience < 0:
            raise ConfigError(f"patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.mode = _mode_for(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.best = math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._wait = 0
        self._best_state: dict[str, torch.Tensor] | None = None

    def _score(self, value: float) -> float:
        return value if self.mode == "min" else -value

    def on_train_begin(self, trainer: Trainer) -> None:
        self.best, self.best_epoch, self.stopped_epoch = math.inf, None, None
        self._wait, self._best_state = 0, None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        score = self._score(_monitored(logs, self.monitor, "EarlyStopping"))
        if score < self.best - self.min_delta:
            self.best, self.best_epoch, self._wait = score, epoch, 0
            if self.restore_best_weights:
                self._best_state = copy.deepcopy(trainer.model.state_dict())
            return
        self._wait += 1
        if self._wait >= self.patience:  # Keras: stop at the patience-th epoch without gain
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best_weights and self._best_state is not None:
            trainer.model.load_state_dict(self._best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self._wait,
                "stopped_epoch": self.stopped_epoch, "best_state": self._best_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = float(state["best"]), state["best_epoch"]
        self._wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        self._best_state = state["best_state"]


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (Keras's callback; defaults as in Keras), down to ``min_lr``."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 min_delta: float = 1e-4, mode: str = "auto", min_lr: float = 0.0) -> None:
        if not 0.0 < factor < 1.0:
            raise ConfigError(f"factor must be in (0, 1), got {factor!r}")
        if patience < 0:
            raise ConfigError(f"patience must be >= 0, got {patience}")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.min_delta, self.min_lr = abs(min_delta), min_lr
        self.mode = _mode_for(monitor, mode)
        self.best = math.inf
        self._wait = 0
        self.reductions: list[tuple[int, float]] = []  # (epoch, new lr)

    def on_train_begin(self, trainer: Trainer) -> None:
        self.best, self._wait, self.reductions = math.inf, 0, []

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        value = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        score = value if self.mode == "min" else -value
        if score < self.best - self.min_delta:
            self.best, self._wait = score, 0
            return
        self._wait += 1
        if self._wait >= self.patience:
            self._wait = 0
            for group in trainer.optimizer.param_groups:
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
            self.reductions.append((epoch, trainer.optimizer.param_groups[0]["lr"]))

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self._wait,
                "reductions": [list(r) for r in self.reductions]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self._wait = float(state["best"]), int(state["wait"])
        self.reductions = [(int(e), float(lr)) for e, lr in state["reductions"]]


class ModelCheckpoint(Callback):
    """Save the model after every epoch (atomically), or only when ``monitor`` improves.

    ``path`` may contain ``{epoch}`` (1-based), e.g. ``"ckpt/epoch{epoch:03d}"``; each save
    holds the weights, the architecture and the history so far (see :func:`seqnets.save`).
    """

    def __init__(self, path: str | Path, monitor: str = "val_loss",
                 save_best_only: bool = False, mode: str = "auto") -> None:
        self.path = str(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _mode_for(monitor, mode)
        self.best = math.inf
        self.saved: list[Path] = []

    def on_train_begin(self, trainer: Trainer) -> None:
        self.best = math.inf

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        from ..io import save

        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            score = value if self.mode == "min" else -value
            if not score < self.best:
                return
            self.best = score
        target = Path(self.path.format(epoch=epoch + 1))
        if not trainer.main:  # under torchrun rank 0 alone writes (the weights are the same)
            return
        save(trainer.model, target, overwrite=True,  # its own earlier saves, as in Keras
             metadata={"epoch": epoch + 1, "history": trainer.history.to_dict()})
        self.saved.append(target)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "saved": [str(p) for p in self.saved]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.saved = float(state["best"]), [Path(p) for p in state["saved"]]


class TensorBoard(Callback):
    """Write losses, metrics and gradient norms for TensorBoard.

    Needs the optional extra: ``pip install "seqnets[tensorboard]"``.

    Per epoch: every logged value (``loss``, ``val_loss``, metrics, ``grad_norm``, ...).
    Every ``update_freq`` steps: the global gradient norm and each parameter's gradient
    norm, the chapter's advice for spotting unstable gradients.
    """

    def __init__(self, log_dir: str | Path = "runs", update_freq: int = 50) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # the optional extra is missing
            raise ConfigError("TensorBoard needs the 'tensorboard' package: "
                              "pip install 'seqnets[tensorboard]'") from err
        self._writer_class = SummaryWriter
        self.log_dir = str(log_dir)
        self.update_freq = update_freq
        self.writer: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self.writer = self._writer_class(self.log_dir) if trainer.main else None

    def on_batch_end(self, trainer: Trainer, loss: float) -> None:
        if self.writer is None or trainer.step % self.update_freq:
            return
        self.writer.add_scalar("batch/loss", loss, trainer.step)
        for name, p in trainer.model.named_parameters():
            if p.grad is not None:
                self.writer.add_scalar(f"grad_norm/{name}", float(p.grad.norm()), trainer.step)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in logs.items():
            self.writer.add_scalar(f"epoch/{key}", value, epoch + 1)
        self.writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
