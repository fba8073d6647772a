"""Train, evaluate, save and load chorale models; write a chorale as MIDI, WAV, PNG and CSV.

    model, report = train_chorales("chorale_cnn_lstm", epochs=20, seed=42)
    report["test"]                        # {"loss", "accuracy", "per_voice": {...}}
    save_chorale_model(model, "bach/", report)
    model, meta = load_chorale_model("bach/")

The textbook's protocol throughout: windows of 32 + 1 chords every 16 chords, flattened into
arpeggios, next-note targets; accuracy is the share of notes of the test windows predicted
right (Keras's ``accuracy``), per voice too (the voice of the note predicted).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checks import positive_int
from ..data.chorale_midi import DEFAULT_BPM, write_midi
from ..data.chorales import (
    LOWEST,
    N_CLASSES,
    SPLITS,
    VOICES,
    Chorales,
    arpeggio_windows,
    load_chorales,
    write_chorale,
)
from ..errors import ConfigError, DataError, ModelFileError
from ..io import load, read_config, save
from ..models import zoo
from ..training import EarlyStopping, evaluate, fit
from .render import write_piano_roll, write_wav

__all__ = ["evaluate_chorales", "load_chorale_model", "save_chorale_model", "train_chorales",
           "write_chorale_files"]

LOSS, METRIC = "sparse_categorical_crossentropy", "sparse_categorical_accuracy"
KIND = "seqnets-chorale-model"


def chorale_models() -> list[str]:
    """The zoo's next-note models."""
    return [n for n in zoo.names() if zoo.info(n).task == "next_note"]


@torch.no_grad()
def evaluate_chorales(model: nn.Module, chorales: list[np.ndarray], window: int = 32,
                      shift: int = 16, batch_size: int = 256) -> dict[str, Any]:
    """Next-note loss and accuracy over the arpeggio windows of ``chorales``, and the
    accuracy per voice (of the note predicted): ``{"loss", "accuracy", "per_voice",
    "windows", "notes"}``."""
    x, y = arpeggio_windows(chorales, window, shift)
    scores = evaluate(model, (x, y), loss=LOSS, metrics=[METRIC], batch_size=batch_size)
    was_training = model.training
    model.eval()
    try:
        hits = np.concatenate([
            (model(torch.from_numpy(x[i:i + batch_size]).float()).argmax(-1).numpy()
             == y[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)
    voice = (np.arange(y.shape[1]) + 1) % 4  # Y[:, j] is the note after X[:, j]
    return {"loss": scores["loss"], "accuracy": scores[METRIC],
            "per_voice": {VOICES[v]: float(hits[:, voice == v].mean()) for v in range(4)},
            "windows": int(len(x)), "notes": int(y.size)}


def train_chorales(model: str = "chorale_cnn_lstm", data: Chorales | None = None, *,
                   epochs: int = 20, seed: int = 42, batch_size: int = 32, lr: float = 1e-3,
                   window: int = 32, shift: int = 16, max_windows: int | None = None,
                   threads: int | None = None, restore_best: bool = True,
                   quiet: bool = False, **options: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Train a zoo next-note model on ``data`` (the shipped chorales by default) with the
    textbook's recipe (Nadam, sparse categorical cross-entropy, batch 32), then score it on
    the validation and test chorales. ``max_windows`` trains on the first that many training
    windows only (a quick run); ``threads`` caps the CPU threads (default: seqnets' rule);
    ``options`` go to :func:`seqnets.zoo.build`. ``restore_best`` keeps the weights of the
    epoch with the best validation accuracy (the default, for every model);
    ``restore_best=False`` keeps the last epoch's, as the book does: after about 12 epochs
    the textbook's model overfits, and its last epoch scores 0.004-0.015 below its best
    on the test chorales too (docs/chorales.md).

    Returns the trained model (eval mode) and a report: settings, history, scores, voice
    ranges of the training chorales (generation keeps to them), seconds per epoch."""
    if model not in chorale_models():
        raise ConfigError(f"unknown chorale model {model!r}; choose one of {chorale_models()}")
    positive_int(epochs, "epochs")
    data = data if data is not None else load_chorales()
    if not data.train:
        raise DataError(f"{data.source}: no training chorales (a train/ folder of CSV files)")
    x, y = arpeggio_windows(data.train, window, shift)
    if max_windows is not None:
        x, y = x[:positive_int(max_windows, "max_windows")], y[:max_windows]
    valid = arpeggio_windows(data.valid, window, shift) if data.valid else None
    net = zoo.build(model, seed=seed, **options)
    restore_best = bool(restore_best and valid is not None)
    callbacks = [EarlyStopping(f"val_{METRIC}", patience=epochs, restore_best_weights=True)] \
        if restore_best else []
    start = time.perf_counter()
    history = fit(net, (x, y), valid=valid, epochs=epochs, batch_size=batch_size,
                  optimizer="nadam", lr=lr, loss=LOSS, metrics=[METRIC], seed=seed,
                  threads=threads, callbacks=callbacks, quiet=quiet)
    fit_seconds = time.perf_counter() - start
    report: dict[str, Any] = {
        "kind": KIND, "model": model, "options": options, "seed": seed, "epochs": epochs,
        "batch_size": batch_size, "lr": lr, "optimizer": "nadam", "window": window,
        "shift": shift, "lowest": LOWEST, "classes": N_CLASSES, "train_windows": int(len(x)),
        "data": data.source, "voice_ranges": data.voice_ranges("train").tolist(),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "fit_seconds": fit_seconds, "restore_best": restore_best,
        "best_epoch": callbacks[0].best_epoch + 1 if callbacks else epochs,
        "epoch_seconds_median": float(np.median(history.history["seconds"])),
    }
    for split in ("valid", "test"):
        if data.split(split):
            report[split] = evaluate_chorales(net, data.split(split), window, shift)
    net.eval()
    return net, report


def save_chorale_model(model: nn.Module, folder: str | os.PathLike,
                       report: dict[str, Any], overwrite: bool = False) -> Path:
    """Save a trained chorale model with its report (seqnets' model folder format); a
    folder holding a model is refused unless ``overwrite=True``."""
    return save(model, folder, metadata={**report, "kind": KIND}, overwrite=overwrite)


def load_chorale_model(folder: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """A model folder written by :func:`save_chorale_model`: the model and its report."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(f"{folder}: no such model folder (train one with "
                             "`seqnets chorales train --out DIR`)")
    meta = read_config(folder).get("metadata", {})
    if meta.get("kind") != KIND:
        raise ModelFileError(f"{folder} holds a model that is not a chorale model (train one "
                             "with `seqnets chorales train`)")
    return load(folder), meta


def write_chorale_files(chorale: np.ndarray, seed_chords: int, *, midi: str | None = None,
                        wav: str | None = None, png: str | None = None,
                        csv: str | None = None, bpm: float = DEFAULT_BPM,
                        title: str | None = None) -> list[Path]:
    """Write one chorale as any of MIDI, WAV, piano-roll PNG and CSV; the paths written."""
    out = []
    if csv:
        out.append(write_chorale(csv, chorale))
    if midi:
        out.append(write_midi(midi, chorale, bpm))
    if wav:
        out.append(write_wav(wav, chorale, bpm))
    if png:
        out.append(write_piano_roll(png, chorale, seed_chords, title))
    return out


def numbered(path: str | None, i: int, count: int) -> str | None:
    """``out.mid`` → ``out_003.mid`` when several chorales are written, else the path."""
    if path is None or count == 1:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}_{i:03d}{p.suffix}"))


def seed_chorales(data: Chorales, first: int, count: int, chords: int,
                  split: str = "test") -> list[np.ndarray]:
    """The opening ``chords`` chords of ``count`` chorales of ``split`` from number
    ``first`` on (checked: each must be long enough)."""
    pool = data.split(split) if split in SPLITS else None
    if not pool:
        raise DataError(f"{data.source} has no {split} chorales to take seeds from")
    if not 0 <= first or first + count > len(pool):
        raise ConfigError(f"--from {first} with --count {count} needs {split} chorales "
                          f"{first}..{first + count - 1}; there are {len(pool)} "
                          f"(0..{len(pool) - 1})")
    seeds = []
    for i in range(first, first + count):
        if len(pool[i]) < chords:
            raise DataError(f"{split} chorale {i} has {len(pool[i])} chords, fewer than the "
                            f"{chords} seed chords asked for")
        seeds.append(pool[i][:chords])
    return seeds

