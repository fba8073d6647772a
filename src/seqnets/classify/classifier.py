"""The Classifier: one label for each sequence of any length; scikit-learn conventions.

    clf = Classifier("sketch_lstm", epochs=30).fit(sketches, labels)
    clf.predict(new_sketches)            # labels, as given to fit (strings or integers)
    clf.predict_proba(new_sketches)      # [N, classes], columns in clf.classes_ order
    clf.score(test, test_labels)         # accuracy
    clf.save("sketches/"); Classifier.load("sketches/")

How it trains. ``fit`` holds out a stratified ``validation`` share of each class, scales
each channel by the mean and standard deviation of the training steps, pads the sequences
at the end and trains on ``(X, Y, lengths)`` (:func:`seqnets.fit`; batches of similar
lengths with ``bucket``), with the cross-entropy on logits (weighted per class with
``class_weight``), keeping the weights of the epoch with the best ``monitor`` and stopping
after ``patience`` epochs without gain. Padding never changes a prediction (the model takes
lengths), so a sequence's probabilities do not depend on the batch it is predicted in. With
``ensemble=n`` it trains ``n`` such models on the same split, each from its own seed, and
predicts the mean of their probabilities.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import positive_int
from ..errors import ConfigError, DataError, NotFittedError
from ..io import save as save_model
from ..models.ensemble import Ensemble
from ..training import EarlyStopping
from ..training import fit as train
from ..training import predict as run
from ..training.distributed import is_main_process
from . import inputs, metrics, saved
from .models import build, info, shortest_input

FILE, FORMAT = saved.FILE, saved.FORMAT
# Batch normalisation's moving averages, weight of the old value: Keras's 0.99 needs hundreds
# of steps to forget the initial statistics, more than small datasets give (JapaneseVowels:
# 14 batches an epoch), and validation then sees wrong statistics; 0.9 (PyTorch's default).
BN_MOMENTUM = 0.9


class Classifier:
    """Classify variable-length sequences with a :mod:`seqnets.classify` model.

    Args:
        model: a classifier name (``"sketch_lstm"``, ``"sketch_gru"``, ``"dilated_conv"``,
            ``"video_gru"``), a factory ``(input_shape, n_classes) -> nn.Module`` returning
            logits, or a module (copied; it must end in logits and take ``lengths``).
        epochs, batch_size, lr, optimizer, clipnorm: training (Adam, Keras defaults).
        validation: the share of each class held out for early stopping (0: none, train
            on everything for ``epochs``).
        patience: epochs without a better ``monitor`` before stopping (``None``: never
            stop early); the best epoch's weights are kept either way.
        monitor: ``"val_loss"`` or ``"val_accuracy"``.
        class_weight: ``None``, ``"balanced"`` (each class weighs ``n / (k * n_class)``, as
            scikit-learn's) or ``{label: weight}``: the cross-entropy's per-class weights.
        scale: standardise each channel with the training steps' mean and deviation.
        max_length: keep only the first ``max_length`` steps of each sequence.
        bucket: train on batches of similar lengths (less padding, faster).
        model_options: options for :func:`~seqnets.classify.build` (``padding="same"``,
            ``units``, ...); batch normalisation's ``bn_momentum`` defaults to 0.9 here, not
            Keras's 0.99 (:data:`BN_MOMENTUM`).
        ensemble: train this many models (same split and scaling; initialisation and batch
            order from their own seeds) and predict the mean of their probabilities. The
            first member's seed is ``seed`` (so ``ensemble=1`` is the single model), the
            others are spawned from it (:func:`member_seeds`), so ``seed=0`` and ``seed=1``
            share no member.
        seed: seeds the split, the initialisation and training.
        threads: CPU threads while training (default: seqnets' rule).
        quiet: no progress output.
    """

    _PARAMS = ("model", "epochs", "batch_size", "lr", "optimizer", "clipnorm", "validation",
               "patience", "monitor", "class_weight", "scale", "max_length", "bucket",
               "model_options", "ensemble", "seed", "threads", "quiet")

    def __init__(self, model: Any = "sketch_lstm", *, epochs: int = 30, batch_size: int = 32,
                 lr: float | None = None, optimizer: str = "adam",
                 clipnorm: float | None = None, validation: float = 0.2,
                 patience: int | None = 10, monitor: str = "val_loss",
                 class_weight: Any = None, scale: bool = True, max_length: int | None = None,
                 bucket: bool = True, model_options: dict | None = None, ensemble: int = 1,
                 seed: int = 0, threads: int | None = None, quiet: bool = True) -> None:
        self.model, self.epochs, self.batch_size, self.lr = model, epochs, batch_size, lr
        self.optimizer, self.clipnorm, self.validation = optimizer, clipnorm, validation
        self.patience, self.monitor, self.class_weight = patience, monitor, class_weight
        self.scale, self.max_length, self.bucket = scale, max_length, bucket
        self.model_options, self.ensemble, self.seed = model_options, ensemble, seed
        self.threads, self.quiet = threads, quiet

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._PARAMS}

    def __repr__(self) -> str:
        name = self.model if isinstance(self.model, str) else type(self.model).__name__
        return f"Classifier({name!r}, epochs={self.epochs})"

    # -- checks ---------------------------------------------------------------------------

    def _check(self) -> None:
        positive_int(self.epochs, "epochs")
        positive_int(self.batch_size, "batch_size")
        positive_int(self.ensemble, "ensemble")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) \
                or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.ensemble > 1 and isinstance(self.model, nn.Module):
            raise ConfigError("ensemble > 1 trains several models from one recipe: give a "
                              "classifier name or a factory, not a module")
        if self.max_length is not None:
            positive_int(self.max_length, "max_length")
        if isinstance(self.model, str):
            info(self.model)
        elif not (isinstance(self.model, nn.Module) or callable(self.model)):
            raise ConfigError(f"model must be a classifier name, a factory or a module, got "
                              f"{type(self.model).__name__}")
        v = self.validation
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < 1:
            raise ConfigError(f"validation must be a share in [0, 1), got {v!r}")
        if self.monitor not in ("val_loss", "val_accuracy"):
            raise ConfigError(f"monitor must be 'val_loss' or 'val_accuracy', got "
                              f"{self.monitor!r}")
        if self.patience is not None:
            positive_int(self.patience, "patience")
        cw = self.class_weight
        if cw is not None and cw != "balanced" and not isinstance(cw, dict):
            raise ConfigError(f"class_weight must be None, 'balanced' or {{label: weight}}, "
                              f"got {cw!r}")

    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this Classifier is not fitted yet: call .fit(X, y) first")

    # -- fitting --------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> Classifier:
        """Train on sequences ``X`` (a list of arrays ``[T_i, C]`` or ``[T_i, C, H, W]``, or a
        reader's :class:`~seqnets.data.TsData` / :class:`~seqnets.data.Drawings`) and their
        labels ``y`` (strings or integers; taken from the reader's output when omitted)."""
        self._check()
        seqs, labels = inputs.sequences_and_labels(X, y, max_length=self.max_length)
        classes = np.unique(labels)
        if len(classes) < 2:
            raise DataError(f"y holds a single class ({classes.tolist()}); a classifier needs "
                            "at least two")
        self.classes_ = classes
        targets = np.searchsorted(classes, labels)
        fit_idx, val_idx = (inputs.stratified_split(labels, self.validation, self.seed)
                            if self.validation else (np.arange(len(seqs)), np.array([], int)))
        self.input_shape_ = tuple(int(d) for d in seqs[0].shape[1:])
        if self.scale:
            self.mean_, self.std_ = inputs.channel_stats([seqs[i] for i in fit_idx])
        else:
            self.mean_ = self.std_ = None
        model = self._build(len(classes), self.seed)
        self.min_length_ = shortest_input(model)
        short = [i for i, s in enumerate(seqs) if len(s) < self.min_length_]
        if short:
            raise DataError(f"sequence {short[0]} has {len(seqs[short[0]])} steps, fewer than "
                            f"the {self.min_length_} this model needs ({len(short)} such "
                            "sequences); use model_options={'padding': 'same'} or drop them")
        seqs = inputs.scaled(seqs, self.mean_, self.std_)
        weight = self._class_weights(labels[fit_idx])

        def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits, target, weight=weight)

        data = self._triple(seqs, targets, fit_idx)
        valid = self._triple(seqs, targets, val_idx) if len(val_idx) else None
        members, self.best_epochs_ = [], []
        for i, seed in enumerate(member_seeds(self.seed, self.ensemble)):
            if self.ensemble > 1 and not self.quiet and is_main_process():
                print(f"ensemble member {i + 1} of {self.ensemble} (seed {seed})", flush=True)
            member = model if i == 0 else self._build(len(classes), seed)
            history, best = self._train(member, data, valid, loss, seed)
            if i == 0:
                self.history_ = history
            members.append(member)
            self.best_epochs_.append(best)
        self.best_epoch_ = self.best_epochs_[0]
        self.model_ = (members[0] if len(members) == 1 else
                       Ensemble(members, combine="probability")).eval()
        return self

    def _train(self, model: nn.Module, data: tuple, valid: tuple | None, loss: Any,
               seed: int) -> tuple[dict, int]:
        """Train one model; its history and best epoch (counted from 1)."""
        callbacks = []
        if valid is not None:
            patience = self.epochs if self.patience is None else self.patience
            callbacks.append(EarlyStopping(self.monitor, patience=patience,
                                           restore_best_weights=True))
        history = train(model, data, valid, epochs=self.epochs, batch_size=self.batch_size,
                        optimizer=self.optimizer, lr=self.lr, clipnorm=self.clipnorm,
                        loss=loss, metrics=["accuracy"], callbacks=callbacks,
                        bucket=self.bucket, seed=seed, threads=self.threads,
                        quiet=self.quiet)
        best = callbacks[0].best_epoch + 1 if callbacks and \
            callbacks[0].best_epoch is not None else len(history.history["loss"])
        return {k: [float(v) for v in vals] for k, vals in history.history.items()}, best

    def _build(self, n_classes: int, seed: int) -> nn.Module:
        if isinstance(self.model, str):
            options = dict(self.model_options or {})
            if info(self.model).kind == "sequence":
                options.setdefault("bn_momentum", BN_MOMENTUM)
            return build(self.model, n_classes, self.input_shape_, seed=seed,
                         activation=None, **options)
        if isinstance(self.model, nn.Module):
            return copy.deepcopy(self.model)
        return self.model(self.input_shape_, n_classes)

    def _class_weights(self, labels: np.ndarray) -> torch.Tensor | None:
        cw, classes = self.class_weight, self.classes_
        if cw is None:
            return None
        if cw == "balanced":
            counts = np.array([np.sum(labels == c) for c in classes], dtype=np.float64)
            w = np.where(counts > 0, len(labels) / (len(classes) * np.maximum(counts, 1)), 0.0)
        else:
            unknown = [k for k in cw if k not in set(classes.tolist())]
            if unknown:
                raise ConfigError(f"class_weight names {unknown[0]!r}, which is not a class; "
                                  f"the classes are {classes.tolist()}")
            w = np.array([float(cw.get(c, 1.0)) for c in classes.tolist()])
            if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
                raise ConfigError(f"class weights must be finite and >= 0, some > 0; got {cw}")
        return torch.tensor(w, dtype=torch.float32)

    @staticmethod
    def _triple(seqs: list[np.ndarray], targets: np.ndarray, idx: np.ndarray) -> tuple:
        x, lengths = inputs.padded([seqs[i] for i in idx])
        return torch.from_numpy(x), torch.from_numpy(targets[idx]), torch.from_numpy(lengths)

    # -- predicting -----------------------------------------------------------------------

    def _prepared(self, X: Any, y: Any = None, need_labels: bool = False):
        self._fitted()
        seqs, labels = inputs.sequences_and_labels(X, y, need_labels=need_labels,
                                                   max_length=self.max_length)
        if seqs[0].shape[1:] != self.input_shape_:
            raise DataError(f"the sequences have steps of shape {seqs[0].shape[1:]}; this "
                            f"Classifier was fitted on {self.input_shape_}")
        short = [i for i, s in enumerate(seqs) if len(s) < self.min_length_]
        if short:
            raise DataError(f"sequence {short[0]} has {len(seqs[short[0]])} steps; this model "
                            f"needs at least {self.min_length_}")
        return inputs.scaled(seqs, self.mean_, self.std_), labels

    def predict_proba(self, X: Any, batch_size: int = 256) -> np.ndarray:
        """``[N, classes]`` probabilities, columns in the order of :attr:`classes_`."""
        seqs, _ = self._prepared(X)
        out = np.zeros((len(seqs), len(self.classes_)), dtype=np.float32)
        for idx, x, lengths in inputs.chunks_by_length(seqs, batch_size):
            logits = run(self.model_, torch.from_numpy(x), batch_size=batch_size,
                         lengths=torch.from_numpy(lengths))
            out[idx] = torch.softmax(logits, dim=-1).numpy()
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each sequence (the labels' type as in ``fit``)."""
        self._fitted()
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def score(self, X: Any, y: Any = None) -> float:
        """Accuracy on ``(X, y)``."""
        _, labels = inputs.sequences_and_labels(X, y)
        return metrics.accuracy(labels, self.predict(X))

    def evaluate(self, X: Any, y: Any = None, k: int = 3) -> dict:
        """:func:`~seqnets.classify.metrics.report` on ``(X, y)``: accuracy, macro F1,
        top-``k`` accuracy, per-class precision and recall, the confusion matrix."""
        _, labels = inputs.sequences_and_labels(X, y)
        unknown = sorted(set(labels.tolist()) - set(self.classes_.tolist()))
        if unknown:
            raise DataError(f"labels {unknown[:5]} were not in the training data; the "
                            f"classes are {self.classes_.tolist()}")
        proba = self.predict_proba(X)
        pred = self.classes_[proba.argmax(axis=1)]
        return metrics.report(labels, pred, proba, labels=self.classes_.tolist(), k=k)

    # -- files ----------------------------------------------------------------------------

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Save to the folder ``path``: the model (``model.safetensors`` + ``config.json``)
        and ``classifier.json`` (settings, class names, scaling, history), replacing the
        folder as one unit (a crash leaves the old save or the new one); no pickle. Models
        of your own save only if every layer is registered. A folder holding a model is
        refused unless ``overwrite=True``."""
        self._fitted()
        params = self.get_params()
        params["model"] = self.model if isinstance(self.model, str) else None
        if isinstance(params["class_weight"], dict):
            params["class_weight"] = [[_plain(k), float(v)] for k, v in
                                      params["class_weight"].items()]
        params["model_options"] = {k: v for k, v in (self.model_options or {}).items()
                                   if not isinstance(v, nn.Module)} or None
        state = {"format": FORMAT, "format_version": 1, "params": params,
                 "classes": [_plain(c) for c in self.classes_.tolist()],
                 "input_shape": list(self.input_shape_), "min_length": self.min_length_,
                 "mean": None if self.mean_ is None else self.mean_.tolist(),
                 "std": None if self.std_ is None else self.std_.tolist(),
                 "best_epoch": self.best_epoch_, "best_epochs": self.best_epochs_,
                 "history": self.history_}
        text = json.dumps(state, indent=1, allow_nan=False) + "\n"
        # the model and classifier.json replace the folder as one unit: never a mix of saves
        return Path(save_model(self.model_, path, metadata={"classes": state["classes"]},
                               extra_files={FILE: text.encode("utf-8")}, overwrite=overwrite))

    @classmethod
    def load(cls, path: str | Path, max_bytes: int = saved.MAX_BYTES) -> Classifier:
        """A Classifier saved by :meth:`save`, ready to predict (nothing is unpickled); a
        damaged or inconsistent ``classifier.json`` (or one over ``max_bytes``) is refused
        with a :class:`~seqnets.errors.ModelFileError` naming the field."""
        return saved.load(cls, path, max_bytes)


def member_seeds(seed: int, n: int) -> list[int]:
    """The seeds of an ensemble's ``n`` members: ``seed`` first, then seeds spawned from it
    by NumPy's ``SeedSequence`` (independent streams; no overlap with another seed's)."""
    spawned = np.random.SeedSequence(int(seed)).spawn(n - 1)
    return [int(seed)] + [int(s.generate_state(1)[0] >> 1) for s in spawned]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
