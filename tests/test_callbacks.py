"""Callbacks: early stopping (Keras's patience, best weights), checkpoints, TensorBoard."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqnets as sn
from seqnets.errors import ConfigError
from seqnets.layers import Dense
from seqnets.training import Callback


def data(n=32, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 3)).astype(np.float32)
    return x, (x.sum(1, keepdims=True) + 0.1).astype(np.float32)


def model(seed=0):
    return sn.Sequential([Dense(1)], input_shape=(3,), seed=seed)


def weights(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Script(Callback):
    """Puts a scripted value into the epoch's logs (it must come first in the callbacks)
    and records the weights at the end of every epoch."""

    def __init__(self, values, key="score"):
        self.values, self.key = list(values), key
        self.epoch_weights = []

    def on_epoch_end(self, trainer, epoch, logs):
        logs[self.key] = self.values[epoch]
        self.epoch_weights.append(weights(trainer.model))


def fit(callbacks, epochs, valid=None, **kwargs):
    m = model()
    history = sn.fit(m, data(), valid=valid, epochs=epochs, batch_size=8, optimizer="sgd",
                     seed=0, callbacks=callbacks, quiet=True, **kwargs)
    return m, history


# ------------------------------------------------------------------------------------------
# EarlyStopping
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "patience", "epochs_run", "best_epoch"),
    [
        # Keras: stop at the `patience`-th epoch in a row without improvement
        ([5, 3, 4, 4, 4, 2, 1, 0], 2, 4, 1),
        ([5, 3, 4, 4, 4, 2, 1, 0], 3, 5, 1),
        ([5, 3, 4, 2, 4, 4, 4, 4], 2, 6, 3),
        ([5, 3, 4, 2, 4, 4, 4, 4], 1, 3, 1),
        ([5, 6, 7, 8, 9, 9, 9, 9], 0, 2, 0),
        ([9, 8, 7, 6, 5, 4, 3, 2], 1, 8, 7),  # always improving: runs to the end
    ],
)
def test_early_stopping_patience_and_best_weights(values, patience, epochs_run, best_epoch):
    script = Script(values)
    stopper = sn.EarlyStopping(monitor="score", patience=patience)
    m, history = fit([script, stopper], epochs=len(values))
    assert len(history.epochs) == epochs_run
    assert stopper.best_epoch == best_epoch
    assert stopper.best == values[best_epoch]
    assert stopper.stopped_epoch == (epochs_run - 1 if epochs_run < len(values) else None)
    # the model holds the weights of the best epoch, not of the last one
    assert same_weights(weights(m), script.epoch_weights[best_epoch])
    if best_epoch != epochs_run - 1:
        assert not same_weights(weights(m), script.epoch_weights[-1])


def test_early_stopping_min_delta_and_max_mode():
    script = Script([1.0, 1.05, 1.08, 1.5, 1.6])
    stopper = sn.EarlyStopping(monitor="score", mode="max", patience=2, min_delta=0.1)
    _, history = fit([script, stopper], epochs=5)
    # 1.05 and 1.08 are not better than 1.0 by 0.1: stop at the second of them
    assert len(history.epochs) == 3 and stopper.best_epoch == 0
    # "acc" in the name means max in auto mode
    script = Script([0.5, 0.6, 0.55, 0.7, 0.4, 0.3], key="val_accuracy")
    stopper = sn.EarlyStopping(monitor="val_accuracy", patience=2)
    _, history = fit([script, stopper], epochs=6)
    assert stopper.mode == "max" and stopper.best_epoch == 3 and len(history.epochs) == 6


def test_early_stopping_without_restoring_keeps_the_last_weights():
    script = Script([1, 2, 3, 4])
    stopper = sn.EarlyStopping(monitor="score", patience=2, restore_best_weights=False)
    m, history = fit([script, stopper], epochs=4)
    assert len(history.epochs) == 3
    assert same_weights(weights(m), script.epoch_weights[-1])


def test_early_stopping_on_real_val_loss_restores_the_best_epoch():
    recorder = Script([0.0] * 12, key="unused")
    stopper = sn.EarlyStopping(patience=2)  # val_loss
    # a learning rate far too high makes the validation loss jump around
    m, history = fit([recorder, stopper], epochs=12, valid=data(16, seed=1), lr=0.4)
    best = int(np.argmin(history["val_loss"]))
    assert stopper.best_epoch == best
    assert same_weights(weights(m), recorder.epoch_weights[best])
    assert sn.evaluate(m, data(16, seed=1))["loss"] == pytest.approx(
        history["val_loss"][best], rel=1e-6)


def test_early_stopping_can_be_reused():
    stopper = sn.EarlyStopping(monitor="score", patience=0)
    fit([Script([1, 2, 3]), stopper], epochs=3)
    assert stopper.stopped_epoch == 1
    _, history = fit([Script([3, 2, 1]), stopper], epochs=3)
    assert len(history.epochs) == 3 and stopper.best_epoch == 2 and stopper.stopped_epoch is None


def test_missing_monitor_key_lists_the_available_keys():
    with pytest.raises(ConfigError, match=r"(?s)'val_loss'.*available.*'grad_norm'.*'loss'"):
        fit([sn.EarlyStopping()], epochs=2)  # no validation data
    with pytest.raises(ConfigError, match="ModelCheckpoint.*'val_mae'.*available"):
        fit([sn.ModelCheckpoint("unused", monitor="val_mae", save_best_only=True)],
            epochs=1, valid=data(8))


def test_callback_argument_errors():
    with pytest.raises(ConfigError, match="patience"):
        sn.EarlyStopping(patience=-1)
    with pytest.raises(ConfigError, match="mode"):
        sn.EarlyStopping(mode="lowest")
    with pytest.raises(ConfigError, match="mode"):
        sn.ModelCheckpoint("x", mode="up")


# ------------------------------------------------------------------------------------------
# ModelCheckpoint
# ------------------------------------------------------------------------------------------
def test_checkpoint_every_epoch(tmp_path):
    recorder = Script([0] * 3, key="unused")
    ckpt = sn.ModelCheckpoint(tmp_path / "ckpt" / "epoch{epoch:02d}")
    m, history = fit([recorder, ckpt], epochs=3)
    folders = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert folders == ["epoch01", "epoch02", "epoch03"]
    assert ckpt.saved == [tmp_path / "ckpt" / f"epoch{i:02d}" for i in (1, 2, 3)]
    x = torch.from_numpy(data(5, seed=3)[0])
    for i in (1, 2, 3):
        folder = tmp_path / "ckpt" / f"epoch{i:02d}"
        loaded = sn.load(folder)
        assert same_weights(weights(loaded), recorder.epoch_weights[i - 1])
        meta = sn.read_config(folder)["metadata"]
        assert meta["epoch"] == i
        assert meta["history"]["epochs"] == list(range(i))
        assert meta["history"]["history"]["loss"] == history["loss"][:i]
        assert len(meta["history"]["history"]["grad_norm"]) == i
        if i == 3:
            assert torch.equal(sn.predict(loaded, x), sn.predict(m, x))
    # no temporary files are left behind
    assert not [p for p in (tmp_path / "ckpt").rglob("*") if p.name.startswith(".")]


def test_checkpoint_save_best_only(tmp_path):
    script = Script([3.0, 2.0, 2.5, 1.0, 1.0])
    ckpt = sn.ModelCheckpoint(str(tmp_path / "best{epoch}"), monitor="score",
                              save_best_only=True)
    fit([script, ckpt], epochs=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best1", "best2", "best4"]
    assert [sn.read_config(p)["metadata"]["epoch"] for p in ckpt.saved] == [1, 2, 4]
    assert same_weights(weights(sn.load(tmp_path / "best4")), script.epoch_weights[3])


def test_checkpoint_best_only_single_folder_holds_the_best(tmp_path):
    script = Script([3.0, 1.0, 2.0, 4.0])
    ckpt = sn.ModelCheckpoint(tmp_path / "best", monitor="score", save_best_only=True,
                              mode="min")
    fit([script, ckpt], epochs=4)
    assert sn.read_config(tmp_path / "best")["metadata"]["epoch"] == 2
    assert same_weights(weights(sn.load(tmp_path / "best")), script.epoch_weights[1])
    assert [p.name for p in tmp_path.iterdir()] == ["best"]


# ------------------------------------------------------------------------------------------
# TensorBoard
# ------------------------------------------------------------------------------------------
def test_tensorboard_writes_epoch_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = tmp_path / "runs"
    tb = sn.TensorBoard(log_dir, update_freq=2)
    _, history = fit([tb], epochs=3, valid=data(8, seed=2))  # 4 steps per epoch
    files = list(log_dir.glob("events.out.tfevents.*"))
    assert files and all(f.stat().st_size > 0 for f in files)
    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for key in ("loss", "val_loss", "grad_norm", "grad_norm_max", "seconds"):
        assert f"epoch/{key}" in tags
        events = acc.Scalars(f"epoch/{key}")
        assert [e.step for e in events] == [1, 2, 3]
        if key != "seconds":
            assert [e.value for e in events] == pytest.approx(history[key], rel=1e-6)
    # every update_freq steps: the batch loss and each parameter's gradient norm
    assert [e.step for e in acc.Scalars("batch/loss")] == [2, 4, 6, 8, 10, 12]
    assert {"grad_norm/layers.0.weight", "grad_norm/layers.0.bias"} <= tags


# ------------------------------------------------------------------------------------------
# ReduceLROnPlateau
# ------------------------------------------------------------------------------------------
class LearningRates(Callback):
    def __init__(self):
        self.lrs = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.lrs.append(trainer.optimizer.param_groups[0]["lr"])


def test_reduce_lr_on_plateau_halves_after_patience_epochs_without_progress():
    rates = LearningRates()
    reduce = sn.ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, min_lr=0.002)
    fit([Script([5, 4, 4, 4, 4, 4, 3, 3, 3, 3]), reduce, rates], epochs=10, lr=0.01)
    # stalls after epoch 1: reduced at the ends of epochs 3 and 5; progress at 6; stalls again
    assert rates.lrs == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025,
                                       0.0025, 0.002, 0.002])
    assert [epoch for epoch, _ in reduce.reductions] == [3, 5, 8]


def test_reduce_lr_on_plateau_arguments():
    with pytest.raises(ConfigError, match="factor"):
        sn.ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ConfigError, match="patience"):
        sn.ReduceLROnPlateau(patience=-1)
