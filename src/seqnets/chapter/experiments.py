"""The chapter's experiments (spec §2): definitions, and running one for one seed.

Each experiment follows the chapter's protocol: Adam with Keras's defaults (row 10:
learning rate 0.01), batch 32, MSE loss; sequence-to-sequence rows are scored by the MSE
of the last time step's 10 outputs, comparable with the vector models.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..data.synthetic import Splits, chapter_splits
from ..errors import ConfigError
from ..layers.ops.dispatch import default_threads
from ..models import baselines, zoo
from ..training import EarlyStopping, ReduceLROnPlateau, fit, predict
from . import strategies

N_EXAMPLES = 3  # validation series kept per run for the forecast figures


@dataclass(frozen=True)
class Experiment:
    """One row of the chapter's table."""

    name: str
    task: str                     # "next_value", "next_10" or "seq2seq"
    kind: str                     # "baseline", "closed_form", "trained" or "iterative"
    description: str
    reported: str                 # the chapter's number, as printed
    bar: tuple[float | None, float | None] | None  # (low, high) valid-MSE bar
    model: str | None = None      # zoo name
    lr: float | None = None       # None: Keras's default
    crop: bool = False            # conv_gru: targets Y[:, 3::2] to match the strided conv
    row: int | None = None        # row of spec §2
    improves: str | None = None   # the faithful row this documented improvement extends

    @property
    def scored_on_last_step(self) -> bool:
        return self.task == "seq2seq"


EXPERIMENTS: list[Experiment] = [
    Experiment("naive", "next_value", "baseline", "predict the last input value",
               "about 0.020", (0.0202 * 0.95, 0.0202 * 1.05), row=1),
    Experiment("linear", "next_value", "trained", "Flatten → Dense(1), 51 parameters",
               "about 0.004", (None, 0.0042), model="linear", row=2),
    Experiment("simple_rnn", "next_value", "trained", "SimpleRNN(1), 3 parameters",
               "about 0.014", (None, 0.011), model="simple_rnn", row=3),
    Experiment("deep_rnn", "next_value", "trained",
               "SimpleRNN(20, seq) → SimpleRNN(20, seq) → SimpleRNN(1)",
               "about 0.003", (None, 0.0030), model="deep_rnn", row=4),
    Experiment("deep_rnn_dense", "next_value", "trained",
               "SimpleRNN(20, seq) → SimpleRNN(20) → Dense(1)", "same as deep_rnn",
               (None, 0.0027), model="deep_rnn_dense", row=5),
    Experiment("iterative_10", "next_10", "iterative",
               "deep_rnn_dense applied 10 times, each prediction appended (sliding window)",
               "about 0.029", (None, 0.028), model="deep_rnn_dense", row=6),
    Experiment("naive_10", "next_10", "baseline", "repeat the last value 10 times",
               "about 0.223", (0.22, 0.26), row=7),
    Experiment("linear_10", "next_10", "trained", "Flatten → Dense(10)", "about 0.0188",
               (None, 0.019), model="linear_10", row=8),
    Experiment("seq2vec_10", "next_10", "trained",
               "SimpleRNN(20, seq) → SimpleRNN(20) → Dense(10)", "about 0.008",
               (None, 0.0085), model="seq2vec_10", row=9),
    Experiment("seq2seq_rnn", "seq2seq", "trained",
               "SimpleRNN(20, seq) ×2 → TimeDistributed(Dense(10)), Adam lr 0.01",
               "about 0.006", (None, 0.0096), model="seq2seq_rnn", lr=0.01, row=10),
    Experiment("ln_rnn", "seq2seq", "trained",
               "RNN(LNSimpleRNNCell(20)) ×2 → TimeDistributed(Dense(10))", "not reported",
               (None, 0.0121), model="ln_rnn", row=11),
    Experiment("lstm", "seq2seq", "trained", "LSTM(20, seq) ×2 → TimeDistributed(Dense(10))",
               "not reported", (None, 0.0086), model="lstm", row=12),
    Experiment("gru", "seq2seq", "trained", "GRU(20, seq) ×2 → TimeDistributed(Dense(10))",
               "not reported", (None, 0.0103), model="gru", row=13),
    Experiment("conv_gru", "seq2seq", "trained",
               "Conv1D(20, k4, s2) → GRU(20, seq) ×2 → TimeDistributed(Dense(10))",
               "best so far", (None, 0.0080), model="conv_gru", crop=True, row=14),
    Experiment("wavenet", "seq2seq", "trained",
               "causal Conv1D(20, k2, relu), dilations 1,2,4,8 ×2 → Conv1D(10, k1)",
               "best of the chapter", (None, 0.0072), model="wavenet", row=15),
    # described by the chapter, no number reported
    Experiment("peephole_lstm", "seq2seq", "trained",
               "RNN(PeepholeLSTMCell(20)) ×2 → TimeDistributed(Dense(10))", "not reported",
               None, model="peephole_lstm"),
    Experiment("bn_rnn", "seq2seq", "trained",
               "SimpleRNN(20, seq) → BN → SimpleRNN(20, seq) → BN → TimeDistributed(Dense(10))",
               "helps little", None, model="bn_rnn"),
    Experiment("encoder_decoder", "next_10", "trained",
               "SimpleRNN(20) → GRU(20) encoder, RepeatVector(10), GRU(20) decoder",
               "not reported", None, model="encoder_decoder"),
    Experiment("wavenet_full", "seq2seq", "trained",
               "WaveNet: 2 blocks × 4 gated residual layers, 32 channels, skip connections",
               "not reported", None, model="wavenet_full"),
    # references
    Experiment("lstsq_linear", "next_value", "closed_form",
               "least-squares optimum of the linear model (reference for row 2)",
               "—", None),
    Experiment("lstsq_linear_10", "next_10", "closed_form",
               "least-squares optimum of the linear_10 model (reference for row 8)", "—", None),
]
# The documented improvement, the same for every row it extends: train up to 3× the epochs,
# halve the learning rate when the validation loss stalls for 5 epochs, stop after 10
# epochs without progress and keep the best weights (all judged on validation data only).
IMPROVEMENT = ("up to 3× the epochs, ReduceLROnPlateau(factor 0.5, patience 5), "
               "EarlyStopping(patience 10, best weights restored)")
IMPROVED = ["linear", "simple_rnn", "seq2vec_10", "ln_rnn", "lstm", "conv_gru", "wavenet"]

# What is known about a missed bar beyond one run: (seeds it was measured on, the note).
ANALYSES = {
    "simple_rnn": ((42, 7, 1), "on these seeds the bar is out of any recipe's reach: fitted "
                   "to the validation set itself, the 3 weights reach 0.01084, 0.01119 and "
                   "0.01125 (mean 0.01109 > 0.011; benchmarks/simple_rnn_optimum.py "
                   "--valid-floor)"),
}


def _improved(name: str) -> Experiment:
    base = next(e for e in EXPERIMENTS if e.name == name)
    return dataclasses.replace(base, name=f"{name}+", row=None, improves=name,
                               description=f"{base.description}; {IMPROVEMENT}",
                               reported=base.reported)


EXPERIMENTS += [_improved(n) for n in IMPROVED]
BY_NAME = {e.name: e for e in EXPERIMENTS}
IMPROVED_ROWS = [f"{n}+" for n in IMPROVED]
CORE = [e.name for e in EXPERIMENTS if e.row is not None]


def get(name: str) -> Experiment:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; known: {list(BY_NAME)}") from None


def _crop(y: np.ndarray) -> np.ndarray:
    return y[:, 3::2]


def _score(pred: np.ndarray, y: np.ndarray, last_step: bool) -> float:
    if last_step:
        return strategies.mse(pred[:, -1], y[:, -1])
    return strategies.mse(pred, y)


def _examples(pred: np.ndarray, exp: Experiment) -> list[list[float]]:
    """The forecasts of the first validation series, as ``[k]`` lists for the figures."""
    part = pred[:N_EXAMPLES]
    if exp.scored_on_last_step:
        part = part[:, -1]
    return part.reshape(len(part), -1).astype(float).tolist()


def run(name: str, seed: int, epochs: int = 20, quiet: bool = True,
        cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run experiment ``name`` for ``seed``; returns a JSON-ready record.

    ``cache`` lets ``iterative_10`` reuse the ``deep_rnn_dense`` model trained for the same
    seed in the same process, as the chapter does.
    """
    exp = get(name)
    cache = {} if cache is None else cache
    start = time.perf_counter()
    data = chapter_splits(exp.task, seed=seed)
    record: dict[str, Any] = {"experiment": name, "seed": seed, "task": exp.task,
                              "kind": exp.kind, "epochs": epochs}
    if exp.kind == "baseline":
        horizon = 1 if exp.task == "next_value" else 10
        valid_pred = baselines.naive(data.valid[0], horizon)
        test_pred = baselines.naive(data.test[0], horizon)
        record["params"] = 0
    elif exp.kind == "closed_form":
        lin = baselines.LeastSquaresLinear().fit(*data.train)
        valid_pred, test_pred = lin.predict(data.valid[0]), lin.predict(data.test[0])
        record["params"] = lin.n_parameters
    elif exp.kind == "iterative":
        model = cache.get(("deep_rnn_dense", seed))
        if model is None:
            base = run("deep_rnn_dense", seed, epochs, quiet, cache)
            model = cache[("deep_rnn_dense", seed)]
            record["base_model"] = {k: base[k] for k in ("valid_mse", "test_mse")}
        valid_pred = strategies.recursive(model, data.valid[0], 10)
        test_pred = strategies.recursive(model, data.test[0], 10)
        record["params"] = sum(p.numel() for p in model.parameters())
    else:
        valid_pred, test_pred = _train(exp, data, seed, epochs, quiet, cache, record)
    y_valid, y_test = data.valid[1], data.test[1]
    if exp.crop:
        y_valid, y_test = _crop(y_valid), _crop(y_test)
    record["valid_mse"] = _score(valid_pred, y_valid, exp.scored_on_last_step)
    record["test_mse"] = _score(test_pred, y_test, exp.scored_on_last_step)
    record["examples"] = _examples(valid_pred, exp)
    record["wall_seconds"] = time.perf_counter() - start
    return record


def _train(exp: Experiment, data: Splits, seed: int, epochs: int, quiet: bool,
           cache: dict[str, Any], record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    model = zoo.build(exp.model, seed=seed)
    train, valid = data.train, data.valid
    if exp.crop:
        train, valid = (train[0], _crop(train[1])), (valid[0], _crop(valid[1]))
    metrics = ["last_time_step_mse"] if exp.scored_on_last_step else []
    threads = default_threads(model)
    callbacks = []
    if exp.improves:
        epochs *= 3
        callbacks = [ReduceLROnPlateau(factor=0.5, patience=5),
                     EarlyStopping(patience=10, restore_best_weights=True)]
    history = fit(model, train, valid=valid, epochs=epochs, lr=exp.lr, metrics=metrics,
                  seed=seed, threads=threads, quiet=quiet, callbacks=callbacks)
    record["epochs_run"] = len(history.epochs)
    seconds = history["seconds"]
    record["params"] = sum(p.numel() for p in model.parameters())
    record["history"] = {k: v for k, v in history.history.items()
                         if k in ("loss", "val_loss", "val_last_time_step_mse", "grad_norm")}
    record["seconds_per_epoch"] = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
    record["threads"] = threads
    cache[(exp.name, seed)] = model
    return predict(model, data.valid[0]), predict(model, data.test[0])


def describe() -> list[dict[str, Any]]:
    """Every experiment's definition, JSON-ready."""
    return [asdict(e) for e in EXPERIMENTS]
