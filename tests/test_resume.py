"""Interrupted training resumes exactly (issue 15, item 3): SIGTERM / SIGINT during ``fit``
finishes the step, writes a checkpoint and says how to resume; ``fit(resume=...)`` then ends
on the same weights, bit for bit, as a run that was never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import seqnets as sn
from seqnets.errors import ConfigError, ModelFileError, TrainingInterrupted
from seqnets.layers import GRU, LSTM, BatchNormalization, Conv1D, Dense, Dropout, Flatten
from seqnets.training import Callback, EarlyStopping, ReduceLROnPlateau
from seqnets.training.checkpoints import STATE_FILE, TENSORS_FILE

EPOCHS, BATCH, N, STEPS = 3, 8, 44, 12   # 6 steps an epoch, the last one short


def data(seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(N, STEPS, 2)).astype(np.float32)
    y = np.stack([x[:, -1, 0], x[:, :, 1].mean(1)], axis=1).astype(np.float32)
    return x, y


MODELS = {
    "recurrent": lambda: sn.Sequential([LSTM(6, return_sequences=True, dropout=0.2),
                                        GRU(5, recurrent_dropout=0.2), Dense(2)],
                                       input_size=2, seed=3),
    "convolutional": lambda: sn.Sequential([Conv1D(6, 3, strides=2), BatchNormalization(),
                                            Conv1D(4, 2, padding="causal"), Flatten(),
                                            Dense(2)], input_shape=(STEPS, 2), seed=3),
    "dropout": lambda: sn.Sequential([Flatten(), Dense(16, activation="relu"), Dropout(0.5),
                                      Dense(2)], input_shape=(STEPS, 2), seed=3),
}


class SignalAt(Callback):
    """Sends the process ``signum`` after global step ``step``, as another process would."""

    def __init__(self, step: int, signum: int = signal.SIGTERM) -> None:
        self.at, self.signum = step, signum

    def on_batch_end(self, trainer, loss):
        if trainer.step == self.at:
            os.kill(os.getpid(), self.signum)


def settings(**extra):
    return {"epochs": EPOCHS, "batch_size": BATCH, "seed": 11, "quiet": True,
            "metrics": ["mae"], **extra}


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_seconds(history):
    return {k: v for k, v in history.history.items() if k != "seconds"}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_sigterm_mid_epoch_then_resume_gives_the_uninterrupted_weights(kind, tmp_path):
    train, valid = data(0), data(1)
    callbacks = lambda: [EarlyStopping(patience=5), ReduceLROnPlateau(patience=1)]  # noqa: E731
    straight = MODELS[kind]()
    full = sn.fit(straight, train, valid, callbacks=callbacks(), **settings())

    stopped = MODELS[kind]()
    folder = tmp_path / "ckpt"
    with pytest.raises(TrainingInterrupted) as info:   # step 8 is in the second epoch
        sn.fit(stopped, train, valid, callbacks=[*callbacks(), SignalAt(8)],
               checkpoint=folder, **settings())
    assert info.value.checkpoint == str(folder) and info.value.signal == signal.SIGTERM
    assert "SIGTERM after step 2 of 6 in epoch 2 of 3;" in str(info.value)
    assert "resume=" in str(info.value)
    assert {p.name for p in folder.iterdir()} == {STATE_FILE, TENSORS_FILE}

    resumed = MODELS[kind]()  # a new process would build the model afresh
    history = sn.fit(resumed, train, valid, callbacks=[*callbacks(), SignalAt(-1)],
                     resume=folder, **settings())
    assert same_weights(weights(straight), weights(resumed))
    assert without_seconds(history) == without_seconds(full)


def test_an_interruption_at_an_epoch_end_and_a_second_one_both_resume():
    train = data(0)
    straight = MODELS["recurrent"]()
    sn.fit(straight, train, **settings(epochs=4))
    first = MODELS["recurrent"]()  # no checkpoint folder given: a temporary one is made
    with pytest.raises(TrainingInterrupted, match="at the end of epoch 1 of 4") as info:
        sn.fit(first, train, callbacks=[SignalAt(6, signal.SIGINT)], **settings(epochs=4))
    again = MODELS["recurrent"]()
    with pytest.raises(TrainingInterrupted, match="after step 3 of 6 in epoch 3 of 4") as second:
        sn.fit(again, train, callbacks=[SignalAt(15)], resume=info.value.checkpoint,
               **settings(epochs=4))
    last = MODELS["recurrent"]()
    sn.fit(last, train, callbacks=[SignalAt(-1)], resume=second.value.checkpoint,
           **settings(epochs=4))
    assert same_weights(weights(straight), weights(last))
    assert not same_weights(weights(first), weights(last))


def test_a_checkpoint_every_epoch_lets_more_epochs_follow(tmp_path):
    train = data(0)
    straight = MODELS["dropout"]()
    sn.fit(straight, train, **settings(epochs=4))
    part = MODELS["dropout"]()
    sn.fit(part, train, checkpoint=tmp_path / "c", **settings(epochs=2))  # finishes
    rest = MODELS["dropout"]()
    history = sn.fit(rest, train, resume=tmp_path / "c", **settings(epochs=4))
    assert history.epochs == [0, 1, 2, 3]
    assert same_weights(weights(straight), weights(rest))


def test_resuming_with_other_settings_data_or_model_is_refused(tmp_path):
    train = data(0)
    sn.fit(MODELS["dropout"](), train, checkpoint=tmp_path / "c", **settings(epochs=1))
    with pytest.raises(ConfigError, match=r"other settings \(batch_size=8 then, 4 now\)"):
        sn.fit(MODELS["dropout"](), train, resume=tmp_path / "c",
               **{**settings(), "batch_size": 4})
    with pytest.raises(ConfigError, match="written for other training data"):
        sn.fit(MODELS["dropout"](), data(5), resume=tmp_path / "c", **settings())
    with pytest.raises(ConfigError, match="weights do not fit this model"):
        sn.fit(MODELS["recurrent"](), train, resume=tmp_path / "c", **settings())
    with pytest.raises(ConfigError, match="pass the same callbacks"):
        sn.fit(MODELS["dropout"](), train, resume=tmp_path / "c",
               callbacks=[EarlyStopping(monitor="loss")], **settings())


def test_missing_damaged_and_foreign_checkpoints_are_refused(tmp_path):
    train = data(0)
    fit = lambda folder: sn.fit(MODELS["dropout"](), train, resume=folder,  # noqa: E731
                                **settings())
    with pytest.raises(ModelFileError, match="does not exist"):
        fit(tmp_path / "nope")
    sn.fit(MODELS["dropout"](), train, checkpoint=tmp_path / "c", **settings(epochs=1))
    (tmp_path / "c" / STATE_FILE).write_text('{"format": "seqnets-checkpoint", "format_')
    with pytest.raises(ModelFileError, match="is damaged"):
        fit(tmp_path / "c")
    (tmp_path / "c" / STATE_FILE).write_text('{"format": "other"}')
    with pytest.raises(ModelFileError, match="not a seqnets checkpoint"):
        fit(tmp_path / "c")


def test_a_pickle_in_the_checkpoint_never_runs(tmp_path):
    train = data(0)
    sn.fit(MODELS["dropout"](), train, checkpoint=tmp_path / "c", **settings(epochs=1))
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"x": Payload()}, tmp_path / "c" / TENSORS_FILE)
    with pytest.raises(ModelFileError, match="damaged"):
        sn.fit(MODELS["dropout"](), train, resume=tmp_path / "c", **settings())
    assert not marker.exists()


SCRIPT = textwrap.dedent("""
    import sys, numpy as np, torch, seqnets as sn
    from seqnets.layers import Dense, Dropout, Flatten, GRU
    g = np.random.default_rng(0)
    x = g.normal(size=(2048, 16, 2)).astype(np.float32)
    y = x[:, -4:, 0].copy()
    model = sn.Sequential([GRU(8), Dropout(0.3), Dense(4)], input_size=2, seed=1)
    class Ready(sn.training.Callback):
        def on_batch_end(self, trainer, loss):
            if trainer.step == 3:
                print("training", flush=True)
    resume = sys.argv[2] if len(sys.argv) > 2 else None
    sn.fit(model, (x, y), epochs=2, batch_size=16, seed=5, quiet=True, callbacks=[Ready()],
           checkpoint=None if resume else sys.argv[1] + "/ckpt", resume=resume)
    torch.save(model.state_dict(), sys.argv[1] + ("/resumed.pt" if resume else "/full.pt"))
""")


def test_sigterm_from_another_process_checkpoints_and_the_resume_matches(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    run = [sys.executable, str(script), str(tmp_path)]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "training\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "SIGTERM received: finishing this step" in err
    assert "TrainingInterrupted" in err and "resume=" in err
    assert (tmp_path / "ckpt" / STATE_FILE).is_file()
    subprocess.run([*run, str(tmp_path / "ckpt")], check=True, timeout=300)
    subprocess.run(run, check=True, timeout=300, capture_output=True)  # never interrupted
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    full = torch.load(tmp_path / "full.pt", weights_only=True)
    assert same_weights(full, resumed)
