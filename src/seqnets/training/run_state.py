"""The whole state of a :func:`~seqnets.fit` run, taken at a step boundary and put back:
what a checkpoint holds and how a resumed run continues exactly where the first stopped."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, ModelFileError, TrainingInterrupted
from .checkpoints import (
    STATE_FILE,
    read_checkpoint,
    rng_states,
    set_rng_states,
    write_checkpoint,
)
from .config import FitConfig
from .state import Callback, History, Trainer

# settings a resumed run may change: they do not alter what is computed
MAY_CHANGE = ("epochs", "quiet", "threads")


@dataclass
class Position:
    """Where a run is: ``batch`` steps done into ``epoch`` (0-based), the epoch's running
    sums so far, and the data-order generator's state at the epoch's start."""

    epoch: int
    batch: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    norm_sum: float = 0.0
    norm_max: float = 0.0
    seconds: float = 0.0
    order_rng: torch.Tensor | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batch": self.batch, "sums": dict(self.sums),
                "norm_sum": self.norm_sum, "norm_max": self.norm_max,
                "seconds": self.seconds, "order_rng": self.order_rng}


def _plain(value: Any) -> Any:
    """JSON's view of ``value`` (tuples become lists), so saved and current settings
    compare equal when they are."""
    return json.loads(json.dumps(value))


def has_checkpoint(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a checkpoint (complete or not: :func:`load` checks it)."""
    return (Path(folder) / STATE_FILE).is_file()


def load(folder: str | os.PathLike, config: FitConfig,
         fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint at ``folder``, checked against this run's settings and the
    fingerprint of its data (:func:`~seqnets.training.checkpoints.data_fingerprint`)."""
    saved = read_checkpoint(folder)
    for key in ("config", "data", "position", "model", "optimizer", "callbacks", "rng",
                "history", "step"):
        if key not in saved:
            raise ModelFileError(f"the checkpoint at {folder} has no {key!r}: it is damaged "
                                 "or was not written by fit")
    now = _plain(config.to_dict())
    before = saved["config"]
    changed = sorted(k for k in now if k not in MAY_CHANGE and now[k] != before.get(k))
    if changed:
        detail = ", ".join(f"{k}={before.get(k)!r} then, {now[k]!r} now" for k in changed)
        raise ConfigError(f"cannot resume from {folder}: the run used other settings "
                          f"({detail}); pass the same ones (only {', '.join(MAY_CHANGE)} "
                          "may change)")
    if _plain(fingerprint) != saved["data"]:
        shapes = saved["data"].get("shapes")
        raise ConfigError(f"cannot resume from {folder}: it was written for other training "
                          f"data (arrays {shapes}); pass the data the run started with")
    return saved


class Run:
    """One run's parts, to save as a checkpoint and to restore from one."""

    def __init__(self, model: nn.Module, trainer: Trainer, callbacks: Sequence[Callback],
                 config: FitConfig, order_rng: torch.Generator | None,
                 fingerprint: Callable[[], dict[str, Any]], batches: int,
                 checkpoint: str | os.PathLike | None, group: Any = None) -> None:
        """``fingerprint`` gives the data's fingerprint when a checkpoint is first written
        (every rank calls it then); ``order_rng`` is the data-order generator whose state
        each epoch starts from (None where the order is drawn afresh each epoch)."""
        self.model, self.trainer, self.callbacks = model, trainer, list(callbacks)
        self.group = group  # a distributed.Group under torchrun: rank 0 writes
        self.config, self.order_rng, self.batches = config, order_rng, batches
        self._folder = None if checkpoint is None else Path(checkpoint)
        self._fingerprint: dict[str, Any] | None = None
        self._make_fingerprint = fingerprint

    def folder(self) -> Path:
        """The checkpoint folder: the one asked for, else a new temporary one."""
        if self._folder is None:
            if self.group is not None and not self.group.main:
                return Path("<rank 0's temporary checkpoint folder>")  # rank 0 writes it
            self._folder = Path(tempfile.mkdtemp(prefix="seqnets-checkpoint-"))
        return self._folder

    def state(self, position: Position) -> dict[str, Any]:
        if self._fingerprint is None:
            self._fingerprint = _plain(self._make_fingerprint())
        # under torchrun each rank draws its own dropout masks: keep every rank's RNG
        ranks = [] if self.group is None else self.group.gather(torch.get_rng_state())
        return {
            "rank_rngs": ranks,
            "config": _plain(self.config.to_dict()), "data": self._fingerprint,
            "position": position.to_dict(), "step": self.trainer.step,
            "stop_training": self.trainer.stop_training,
            "history": self.trainer.history.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.trainer.optimizer.state_dict(),
            "callbacks": [{"class": type(cb).__name__, "state": cb.state_dict()}
                          for cb in self.callbacks],
            "rng": rng_states(),
        }

    def write(self, folder: Path, position: Position) -> Path:
        """Write the checkpoint (every rank must call it under torchrun: the ranks' RNG
        states are gathered; rank 0 alone writes)."""
        state = self.state(position)
        if self.group is not None and not self.group.main:
            return folder
        return write_checkpoint(folder, state)

    def interrupted(self, position: Position, signum: int) -> None:
        """Write the checkpoint and raise :class:`TrainingInterrupted` saying how to go on."""
        folder = self.write(self.folder(), position)
        epochs = self.config.epochs
        where = (f"at the end of epoch {position.epoch} of {epochs}" if position.batch == 0
                 else f"after step {position.batch} of {self.batches} in epoch "
                 f"{position.epoch + 1} of {epochs}")
        raise TrainingInterrupted(
            f"training stopped by {signal.Signals(signum).name} {where}; checkpoint "
            f"written to {folder}: continue with fit(..., resume={str(folder)!r}) and the "
            "same model, data and settings",
            checkpoint=str(folder), signal=signum)

    def restore(self, saved: dict[str, Any]) -> Position:
        """Put the saved state back into the model, optimiser, callbacks, history and RNGs;
        returns where the run continues."""
        try:
            self.model.load_state_dict(saved["model"])
        except RuntimeError as err:
            raise ConfigError(f"the checkpoint's weights do not fit this model (build it as "
                              f"the run did): {str(err).splitlines()[0][:300]}") from None
        try:
            self.trainer.optimizer.load_state_dict(saved["optimizer"])
        except (ValueError, KeyError, RuntimeError) as err:
            raise ConfigError(f"the checkpoint's optimiser state does not fit this run: "
                              f"{str(err)[:300]}") from None
        states = saved["callbacks"]
        names = [type(cb).__name__ for cb in self.callbacks]
        if [s.get("class") for s in states] != names:
            raise ConfigError(f"the run had the callbacks {[s.get('class') for s in states]}"
                              f", this one {names}: pass the same callbacks to resume")
        for cb, s in zip(self.callbacks, states, strict=True):
            cb.load_state_dict(s["state"])
        hist = saved["history"]
        self.trainer.history = History(history={k: list(v) for k, v in
                                                hist["history"].items()},
                                       epochs=list(hist["epochs"]))
        self.trainer.step = int(saved["step"])
        self.trainer.stop_training = bool(saved.get("stop_training", False))
        p = saved["position"]
        position = Position(epoch=int(p["epoch"]), batch=int(p["batch"]),
                            sums=dict(p["sums"]), norm_sum=float(p["norm_sum"]),
                            norm_max=float(p["norm_max"]), seconds=float(p["seconds"]))
        if self.order_rng is not None:
            self.order_rng.set_state(p["order_rng"])
        set_rng_states(saved["rng"])
        ranks = saved.get("rank_rngs") or []
        if self.group is not None and len(ranks) == self.group.world:
            torch.set_rng_state(ranks[self.group.rank])
        return position
