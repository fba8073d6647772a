"""How a Forecaster trains its models: one per seed of the ensemble and per input window,
each with or without early stopping on the most recent training windows.

With ``early_stopping`` (a patience, in epochs), the last tenth of each series' training
windows (:meth:`~seqnets.forecast.windowing.WindowedForecasts.training_data`) validates: the
learning rate halves after ``patience // 2`` epochs without a better validation loss,
training stops after ``patience`` such epochs, and the best epoch's weights are kept. Each
member's best number of epochs is recorded (``best_epochs_``); a refit on the whole series,
which has no validation windows left, trains each member for exactly that many epochs.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.ensemble import Ensemble
from ..training import fit
from ..training.callbacks import EarlyStopping, ReduceLROnPlateau
from .origins import last_step

__all__ = ["train_members"]


def train_members(fc, x: torch.Tensor, y: torch.Tensor, tail: torch.Tensor | None = None,
                  record: bool = False) -> nn.Module:
    """The model, or the ensemble's median, trained on the pairs ``(x, y)``: per window,
    ``ensemble`` members (seeds ``seed``, ``seed + 1``, ...), each reading the last
    ``window`` steps of the input windows. ``tail`` (a mask of the validation windows)
    turns early stopping on; without it, a Forecaster that stopped early before trains each
    member for its recorded best number of epochs. ``record`` keeps the first member's
    history as ``history_``."""
    fn = fc.training_loss
    loss = fn if fc.seq_out_ else last_step(fn)
    members, seed, best = [], fc.seed, []
    for w in fc.windows:
        xw = x[:, x.shape[1] - w:]
        yw = y[:, y.shape[1] - len(range(fc.align_[0], w, fc.align_[1])):] \
            if fc.seq_out_ else y
        for _ in range(fc.ensemble):
            member = fc._build(fc.n_inputs_, seed, w)
            options = dict(lr=fc.lr, batch_size=fc.batch_size, seed=seed, quiet=fc.quiet,
                           loss=loss)
            if tail is not None and bool(tail.any()) and not bool(tail.all()):
                patience = int(fc.early_stopping)
                stop = EarlyStopping(patience=patience, restore_best_weights=True)
                slower = ReduceLROnPlateau(factor=0.5, patience=max(1, patience // 2))
                history = fit(member, (xw[~tail], yw[~tail]), (xw[tail], yw[tail]),
                              epochs=fc.epochs, callbacks=[stop, slower], **options)
                best.append(fc.epochs if stop.best_epoch is None else stop.best_epoch + 1)
            else:
                epochs = fc.epochs
                if tail is None and getattr(fc, "best_epochs_", None):
                    epochs = fc.best_epochs_[len(members)]
                history = fit(member, (xw, yw), epochs=epochs, **options)
                best.append(epochs)
            if record and not members:
                fc.history_ = history.to_dict()
            members.append(member)
            seed += 1
    if tail is not None:
        fc.best_epochs_ = best
    if len(members) == 1:
        return members[0]
    return Ensemble(members, windows=None if len(fc.windows) == 1 else
                    [w for w in fc.windows for _ in range(fc.ensemble)])
