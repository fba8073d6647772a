"""What a :func:`~seqnets.fit` run shares with its callbacks: the trainer state, the history,
and the callback protocol. Kept apart from the loop so that callbacks and the loop both
import it and neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


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


class Trainer:
    """The state of one :func:`~seqnets.fit` run, as callbacks see it. ``main`` is False on
    the ranks of a data-parallel run other than rank 0: callbacks that write files skip
    them."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.optimizer = optimizer
        self.stop_training = False
        self.history = History()
        self.epoch = 0
        self.step = 0
        self.main = True


class Callback:
    """Base class: override the hooks you need. ``trainer.stop_training = True`` stops."""

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_batch_end(self, trainer: Trainer, loss: float) -> None: ...

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """What the callback has learnt so far (numbers, strings, lists, dicts, tensors),
        stored in checkpoints so a resumed run continues it; ``{}`` for none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned (called after ``on_train_begin``)."""
