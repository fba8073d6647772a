"""Issue 15, item 1: every input seqnets refuses, one row each, the source of docs/refusals.md.

Each row is a call through the Python API or a command line, the error class it must raise
and a distinctive part of its message. An API row must raise that class (one of the
project's own, each a ValueError or OSError too) and leave its folder as it was; a CLI row
must exit with 2, print exactly one line ``seqnets: error: ...`` on stderr without a
traceback, and write nothing. The rows run in a temporary folder holding the input files
they name (``FILES``); paths in messages are relative to it.

docs/refusals.md is rendered from these rows and the messages they really produce;
``test_the_refusal_table_in_docs_is_current`` compares the two. After changing a row or a
message, regenerate it with::

    SEQNETS_WRITE_DOCS=1 ./dev test tests/test_refusal_table.py
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import seqnets as sn
from seqnets import errors
from seqnets.cli import build_parser, main, one_line
from seqnets.errors import as_flags
from seqnets.layers import GRU, LSTM, Conv1D, Dense, Dropout, Embedding

DOC = Path(__file__).resolve().parents[1] / "docs" / "refusals.md"
# the tiny settings every forecasting command runs with (shown as "…" in the doc)
TINY = "--window 8 --horizon 2 --epochs 1 --units 4 --mc-samples 2 --quiet"


# ----------------------------------------------------------------------------- input files


def _frame(n: int = 40, **columns) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"ds": pd.date_range("2000-01-01", periods=n, freq="D"),
                         "y": 10 + np.sin(t) + 0.05 * t, **columns})


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def _parquet(df: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    df.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _with(df: pd.DataFrame, rows: list[int], column: str, value) -> pd.DataFrame:
    df = df.copy()
    if not isinstance(value, float):
        df[column] = df[column].astype(object)
    df.loc[rows, column] = value
    return df


def _ts(folder: Path, labels: list[str]) -> bytes:
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(6, 2)).astype(np.float32) for _ in labels]
    sn.data.write_ts(folder / "_t.ts", series, labels, problem="T")
    data = (folder / "_t.ts").read_bytes()
    (folder / "_t.ts").unlink()
    return data


def _folder(_: Path) -> None:
    return None  # made as a folder


# name -> the file's bytes, made in the row's folder (None: an empty folder)
FILES: dict[str, Callable[[Path], bytes | None]] = {
    "good.csv": lambda _: _csv(_frame()),
    "short.csv": lambda _: _csv(_frame(10)),
    "header.csv": lambda _: b"ds,y\n",
    "empty.csv": lambda _: b"",
    "ragged.csv": lambda _: b"ds,y\n2000-01-01,1\n2000-01-02,2,3\n2000-01-03,3\n",
    "latin1.csv": lambda _: "ds,y\n2000-01-01,caf\xe9\n".encode("latin-1"),
    "binary.csv": lambda _: bytes(range(256)) * 8,
    "nan.csv": lambda _: _csv(_with(_frame(), [5, 9], "y", np.nan)),
    "inf.csv": lambda _: _csv(_with(_frame(), [7], "y", np.inf)),
    "text.csv": lambda _: _csv(_with(_frame(), [5], "y", "abc")),
    "unsorted.csv": lambda _: _csv(_frame().iloc[[0, 1, 2, 4, 3, *range(5, 40)]]),
    "duplicate.csv": lambda _: _csv(_frame().iloc[[*range(7), 6, *range(7, 40)]]),
    "irregular.csv": lambda _: _csv(_frame().drop(index=[10])),
    "constant.csv": lambda _: _csv(_frame().assign(y=5.0)),
    "dates.csv": lambda _: b"ds,y\n2000-01-01,1\nsoon,2\n2000-01-03,3\n",
    "truncated.parquet": lambda _: _parquet(_frame())[:200],
    "folder.csv": _folder,
    "book.xlsx": lambda _: b"PK\x03\x04 not a workbook",
    "labels.ts": lambda folder: _ts(folder, ["a", "b"] * 6),
    "one_class.ts": lambda folder: _ts(folder, ["a"] * 6),
    "garbage.npz": lambda _: b"this is not a zip archive",
    "gzipped.ndjson": lambda _: b"\x1f\x8b\x08\x00\xff\xfe",
    "bad.mid": lambda _: b"MThd garbage",
    "chorale.csv": lambda _: b"note0,note1,note2,note3\n60,60,60,60\n60,6x,60,60\n",
    "chorales": _folder,
    "model.txt": lambda _: b"not a model folder",
    "saved": lambda folder: _saved(folder / "saved"),
    "m.checkpoint": _folder,
}


def _saved(folder: Path) -> type(...):
    sn.save(sn.zoo.build("gru", units=4, seed=0), folder)
    return ...  # written in place


def _make(folder: Path, names: tuple[str, ...]) -> None:
    for name in names:
        content = FILES[name](folder)
        if content is ...:
            continue
        if content is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(content)


# ----------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Row:
    """One refused input: ``code`` (a Python expression, run in :data:`NAMES`) or ``argv``
    (a ``seqnets`` command line; ``{tiny}`` is :data:`TINY`), the error class, and a part
    of the message (as the CLI prints it, for a CLI row)."""

    id: str
    input: str
    error: type[errors.SeqnetsError]
    says: str
    code: str | None = None
    argv: str | None = None
    files: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return "API" if self.code is not None else "CLI"

    def args(self) -> list[str]:
        return shlex.split(self.argv.replace("{tiny}", TINY))


def api(id, input, error, says, code, files=()) -> Row:
    return Row(id, input, error, says, code=code, files=tuple(files))


def cli(id, input, error, says, argv, files=()) -> Row:
    return Row(id, input, error, says, argv=argv, files=tuple(files))


C, S, D, N, M, O = (errors.ConfigError, errors.ShapeError, errors.DataError,
                    errors.NotFittedError, errors.ModelFileError, errors.OutputExistsError)
FC = "window=8, horizon=2, epochs=1, quiet=True"  # a quick Forecaster, in the API rows

ROWS: list[Row] = [
    # ---- names: models, options, layers, optimisers, losses, metrics, activations
    api("zoo-unknown-model", "an unknown model name", C, "unknown model 'transformer'",
        'sn.zoo.build("transformer")'),
    api("zoo-unknown-option", "a misspelt model option", C,
        "zoo model 'gru' has no option 'unitz'", 'sn.zoo.build("gru", unitz=64)'),
    api("forecaster-base-with-sequence-model", "base='linear' with a sequence-output model",
        C, "base='linear' corrects one forecast per window",
        f'sn.Forecaster("gru", strategy="direct", base="linear", {FC}).fit(y)'),
    api("forecaster-unknown-option", "a misspelt model option, through the Forecaster", C,
        "has no option 'unitz'",
        f'sn.Forecaster("gru", model_options={{"unitz": 4}}, {FC}).fit(y)'),
    api("backtest-unknown-stats", "an unknown statsforecast model in a backtest", C,
        "unknown statsforecast model(s) ['ETS']",
        f'sn.Forecaster("gru", {FC}).fit(y).backtest(folds=2, stats=("ETS",))'),
    api("config-unknown-layer", "a layer class no one registered, in a config", C,
        "unknown layer class 'Transformer'",
        'sn.layers.deserialize({"class_name": "Transformer", "config": {}})'),
    api("sequential-not-a-layer", "a layer given by name to Sequential", C,
        "layer 0 is a str, not an nn.Module", 'sn.Sequential(["gru"], input_size=1)'),
    api("unknown-optimizer", "an unknown optimiser", C, "unknown optimizer 'adamx'",
        'sn.fit(gru(), (X, Y), optimizer="adamx", quiet=True)'),
    api("unknown-loss", "an unknown loss", C, "unknown loss 'msee'",
        'sn.fit(gru(), (X, Y), loss="msee", quiet=True)'),
    api("unknown-metric", "an unknown metric", C, "unknown metric 'rmse'",
        'sn.fit(gru(), (X, Y), metrics=["rmse"], quiet=True)'),
    api("unknown-activation", "an unknown activation", C,
        "activation='relux' is not a known activation", 'Dense(4, activation="relux")'),
    api("unknown-padding", "an unknown padding", C, "padding must be one of",
        'Conv1D(4, 2, padding="full")'),
    api("unknown-classifier", "an unknown classifier", C, "unknown classifier 'transformer'",
        'Classifier("transformer").fit(sequences, labels)'),
    api("classifier-unknown-option", "a classifier option the model does not take", C,
        "classifier 'sketch_gru' has no option 'colour'",
        'Classifier("sketch_gru", model_options={"colour": 3})'
        '.fit(sequences, labels)'),
    # ---- impossible hyper-parameters
    api("units-zero", "zero units", C, "units must be a positive integer, got 0",
        'sn.zoo.build("gru", units=0)'),
    api("units-negative", "negative units", C, "units must be a positive integer, got -1",
        "Dense(-1)"),
    api("filters-zero", "zero filters", C, "filters must be a positive integer, got 0",
        "Conv1D(0, kernel_size=2)"),
    api("strides-zero", "zero strides", C, "strides must be a positive integer, got 0",
        "Conv1D(4, kernel_size=2, strides=0)"),
    api("kernel-zero", "a kernel of zero steps", C,
        "kernel_size must be a positive integer, got 0", "Conv1D(4, kernel_size=0)"),
    api("kernel-longer-than-sequence", "a kernel longer than the sequence, padding 'valid'", S,
        "Conv1D with padding='valid' needs at least 8 steps, got 5",
        "sn.Sequential([Conv1D(4, kernel_size=8)], input_size=1)(torch.zeros(2, 5, 1))"),
    api("dropout-one", "dropout of 1", C, "dropout must be a number in [0, 1), got 1.0",
        "GRU(4, dropout=1.0)"),
    api("dropout-negative", "negative dropout", C, "rate must be a number in [0, 1), got -0.1",
        "Dropout(-0.1)"),
    api("recurrent-dropout-above-one", "recurrent dropout above 1", C,
        "recurrent_dropout must be a number in [0, 1), got 1.5",
        "LSTM(4, recurrent_dropout=1.5)"),
    api("epochs-negative", "negative epochs", C,
        "epochs must be a non-negative integer, got -1",
        "sn.fit(gru(), (X, Y), epochs=-1, quiet=True)"),
    api("batch-size-zero", "a batch size of zero", C,
        "batch_size must be a positive integer, got 0",
        "sn.fit(gru(), (X, Y), batch_size=0, quiet=True)"),
    api("lr-zero", "a learning rate of zero", C,
        "lr must be a positive finite number, got 0", "sn.fit(gru(), (X, Y), lr=0, quiet=True)"),
    api("lr-negative", "a negative learning rate", C,
        "lr must be a positive finite number, got -0.001",
        "sn.fit(gru(), (X, Y), lr=-1e-3, quiet=True)"),
    api("lr-nan", "a NaN learning rate", C, "lr must be a positive finite number, got nan",
        'sn.fit(gru(), (X, Y), lr=float("nan"), quiet=True)'),
    api("lr-inf", "an infinite learning rate", C, "lr must be a positive finite number, got inf",
        'sn.fit(gru(), (X, Y), lr=float("inf"), quiet=True)'),
    api("threads-zero", "zero threads", C, "threads must be a positive integer, got 0",
        "sn.fit(gru(), (X, Y), threads=0, quiet=True)"),
    api("input-size-zero", "a model for zero features", C,
        "input_size must be a positive integer, got 0", "sn.Sequential([Dense(1)], input_size=0)"),
    api("horizon-zero", "a horizon of zero", C, "horizon must be a positive integer, got 0",
        'sn.Forecaster("gru", window=8, horizon=0).fit(y)'),
    api("window-zero", "a window of zero steps", C, "window must be a positive integer, got 0",
        'sn.Forecaster("gru", window=0, horizon=2).fit(y)'),
    api("forecaster-dropout-one", "MC dropout of 1", C, "dropout must be in [0, 1), got 1",
        f'sn.Forecaster("gru", dropout=1, {FC}).fit(y)'),
    api("fit-config-unknown-setting", "an unknown setting in a saved fit config", C,
        "unknown fit settings ['epochz']",
        'sn.training.FitConfig.from_dict({"epochz": 3})'),
    # ---- tensors that do not fit the model
    api("wrong-rank", "a [batch, time] tensor for a recurrent model", S,
        "GRU expects [batch, time, features], got a tensor of shape (8, 10)",
        "sn.fit(gru(), (X[..., 0], Y), quiet=True)"),
    api("wrong-features-recurrent", "3 features for a model built for 1", S,
        "GRU was built for 1 input features, got 3", "gru()(torch.zeros(2, 5, 3))"),
    api("wrong-features-dense", "3 features for a Dense model built for 4", S,
        "Dense was built for 4 input features, got 3",
        "sn.Sequential([Dense(3)], input_size=4)(torch.zeros(2, 5, 3))"),
    api("float64-input", "float64 input to a float32 model", D,
        "got float64 input, but its weights are float32. Fix: convert the input with x.float()",
        "gru()(torch.zeros(2, 5, 1, dtype=torch.float64))"),
    api("int64-input", "integer input to a recurrent model", D,
        "got int64 input, but its weights are float32",
        "gru()(torch.zeros(2, 5, 1, dtype=torch.int64))"),
    api("token-id-out-of-range", "a token id beyond the vocabulary", D,
        "token ids must be in 0..4, got 1..7", "Embedding(5, 3)(torch.tensor([[1, 7]]))"),
    api("samples-mismatch", "8 inputs and 3 targets", S, "train: X has 8 samples but Y has 3",
        "sn.fit(gru(), (X, Y[:3]), quiet=True)"),
    api("target-shape", "targets of another shape than the outputs", S,
        "mse: model output (8, 10, 10) and target (8, 10, 3) have different shapes",
        "sn.fit(gru(), (X, Y[..., :3]), quiet=True)"),
    api("non-numeric-array", "an array of strings", D, "train X must be numeric, got dtype <U3",
        'sn.fit(gru(), (np.full((8, 10, 1), "abc"), Y), quiet=True)'),
    # ---- data: empty, too short, not finite
    api("empty-tensors", "empty training data", D, "train is empty",
        "sn.fit(gru(), (X[:0], Y[:0]), quiet=True)"),
    api("nan-in-tensors", "NaN in the inputs (position named)", D,
        "train X holds 1 NaN or infinite value(s), the first at index [2, 4, 0]",
        "sn.fit(gru(), (with_nan(X, (2, 4, 0)), Y), quiet=True)"),
    api("nan-in-series", "NaN in a series (positions named)", D,
        "missing values in the array, column 'y': 2 missing at 3 (row 3), 17 (row 17)",
        f'sn.Forecaster("gru", {FC}).fit(with_nan(y, 3, 17))'),
    api("empty-series", "an empty series", D, "with T > 0, got shape (0,)",
        f'sn.Forecaster("gru", {FC}).fit(np.array([]))'),
    api("series-too-short", "a series too short for one window", D,
        "series shorter than 12 steps (window 8",
        f'sn.Forecaster("gru", short_series="refuse", {FC}).fit(y[:10])'),
    api("windows-too-short", "windows longer than the series", S,
        "a series of 5 steps has no window of 8 steps", "sn.data.windows(np.zeros(5), 8)"),
    api("classifier-empty", "no sequences", D, "X is empty: give at least one sequence",
        'Classifier("sketch_gru").fit([], [])'),
    api("classifier-one-class", "labels of one class", D, "y holds a single class",
        'Classifier("sketch_gru").fit(sequences, [0] * 4)'),
    api("classifier-label-count", "fewer labels than sequences", S,
        "y must hold one label per sequence (4), got shape (3,)",
        'Classifier("sketch_gru").fit(sequences, labels[:3])'),
    api("classifier-nan", "NaN in a sequence (position named)", D,
        "sequence 0 holds NaN or infinite values (first at step 0)",
        'Classifier("sketch_gru").fit([np.full((30, 2), np.nan)] * 4, labels)'),
    api("classifier-channels", "sequences of different channel counts", S,
        "every sequence needs the same channels",
        'Classifier("sketch_gru").fit([np.ones((30, 2)), np.ones((30, 3))] * 2, '
        "labels)"),
    # ---- tables, through the API
    api("header-only-csv", "a CSV with a header and no rows", D, "no rows in 'header.csv'",
        'sn.data.read_series("header.csv")', files=["header.csv"]),
    api("unsupported-file-type", "an Excel workbook", D, "unsupported file type '.xlsx'",
        'sn.data.read_series("book.xlsx")', files=["book.xlsx"]),
    api("missing-column", "a column name that is not in the table", D,
        "missing column 'sales' (target)", 'sn.data.read_series("good.csv", target="sales")',
        files=["good.csv"]),
    api("unknown-fill", "an unknown fill method", C, "fill",
        'sn.data.read_series("good.csv", fill="zero")', files=["good.csv"]),
    api("constant-series", "a constant series", D, "constant series in 'constant.csv'",
        'sn.data.read_series("constant.csv")', files=["constant.csv"]),
    # ---- other readers
    api("npz-not-a-zip", "a .npz that is not a zip archive", D, "garbage.npz",
        'sn.data.read_sketch_npz("garbage.npz")', files=["garbage.npz"]),
    api("ndjson-gzipped", "a gzipped .ndjson", D, "not UTF-8 text",
        'sn.data.read_quickdraw("gzipped.ndjson")', files=["gzipped.ndjson"]),
    api("ts-missing", "a missing .ts file", D, "file not found",
        'sn.data.read_ts("nope.ts")'),
    api("midi-garbage", "a file that is not MIDI", D, "not a readable MIDI file",
        'sn.data.read_midi("bad.mid")', files=["bad.mid"]),
    api("chorale-bad-note", "a chorale CSV with a note that is not a number", D,
        "chorale.csv, line 3, voice alto (note1): '6x' is not a whole MIDI note number",
        'sn.data.read_chorale("chorale.csv")', files=["chorale.csv"]),
    api("chorales-empty-folder", "a folder without chorale CSVs", D, "no chorale CSV files",
        'sn.data.load_chorales("chorales")', files=["chorales"]),
    # ---- models on disk, unfitted estimators
    api("load-missing-folder", "a model folder that does not exist", M,
        "no saved model at nope: the folder does not exist", 'sn.load("nope")'),
    api("load-a-file", "a file where a model folder is expected", M,
        "model.txt is not a model folder", 'sn.load("model.txt")', files=["model.txt"]),
    api("forecaster-load-a-file", "a file where a Forecaster folder is expected", M,
        "model.txt is a file: a saved Forecaster is a folder",
        'sn.Forecaster.load("model.txt")', files=["model.txt"]),
    api("classifier-load-a-file", "a file where a Classifier folder is expected", M,
        "model.txt is a file: a saved Classifier is a folder",
        'Classifier.load("model.txt")', files=["model.txt"]),
    api("predict-unfitted", "predict before fit", N, "this Forecaster is not fitted yet",
        'sn.Forecaster("gru").predict()'),

    # ---- the command line: settings
    cli("cli-units-zero", "zero units", C, "units must be a positive integer, got 0",
        "train --data good.csv {tiny} --units 0 --out m", ["good.csv"]),
    cli("cli-units-negative", "negative units", C, "units must be a positive integer, got -3",
        "train --data good.csv {tiny} --units -3 --out m", ["good.csv"]),
    cli("cli-epochs-negative", "negative epochs", C,
        "epochs must be a non-negative integer, got -1",
        "train --data good.csv {tiny} --epochs -1 --out m", ["good.csv"]),
    cli("cli-horizon-zero", "a horizon of zero", C, "horizon must be a positive integer, got 0",
        "train --data good.csv {tiny} --horizon 0 --out m", ["good.csv"]),
    cli("cli-window-zero", "a window of zero", C, "window must be a positive integer, got 0",
        "train --data good.csv {tiny} --window 0 --out m", ["good.csv"]),
    cli("cli-batch-size-zero", "a batch size of zero", C,
        "batch_size must be a positive integer, got 0",
        "train --data good.csv {tiny} --batch-size 0 --out m", ["good.csv"]),
    cli("cli-dropout-one", "dropout of 1", C, "dropout must be in [0, 1), got 1.0",
        "train --data good.csv {tiny} --dropout 1 --out m", ["good.csv"]),
    cli("cli-mc-samples-zero", "zero MC samples", C,
        "mc_samples must be a positive integer, got 0",
        "train --data good.csv {tiny} --mc-samples 0 --out m", ["good.csv"]),
    cli("cli-difference-zero", "a differencing lag of zero", C,
        "difference (a lag; None for no differencing) must be a positive integer, got 0",
        "train --data good.csv {tiny} --difference 0 --out m", ["good.csv"]),
    cli("cli-unknown-model", "an unknown model", C, "unknown model 'grux'",
        "train --data good.csv {tiny} --model grux --out m", ["good.csv"]),
    cli("cli-unknown-dataset", "an unknown shipped dataset", C, "no dataset 'nope'",
        "train --dataset nope {tiny} --out m"),
    cli("cli-flags-for-a-shipped-dataset", "table flags with a shipped dataset", C,
        "--time, --target, --id, --covariates, --wide, --sort and --resample describe a "
        "--data file", "train --dataset co2_weekly --id store {tiny} --out m"),
    cli("cli-folds-zero", "zero backtest folds", C, "folds must be a positive integer, got 0",
        "backtest --data good.csv {tiny} --folds 0", ["good.csv"]),
    cli("cli-impute-window-one", "an imputation window of one step", C,
        "window must be an integer >= 2, got 1",
        "impute --data good.csv --window 1 --units 4 --epochs 1 --quiet --out f.csv",
        ["good.csv"]),
    cli("cli-impute-layers-zero", "zero imputation layers", C,
        "layers must be a positive integer, got 0",
        "impute --data good.csv --window 8 --units 4 --layers 0 --epochs 1 --quiet --out f.csv",
        ["good.csv"]),
    cli("cli-reproduce-workers-zero", "zero worker processes", C,
        "workers must be a positive integer, got 0",
        "reproduce --workers 0 --only naive --seeds 1 --epochs 1 --no-plots --out rep"),
    cli("cli-reproduce-epochs-zero", "zero epochs for the chapter's experiments", C,
        "epochs must be at least 1, got 0",
        "reproduce --epochs 0 --only naive --seeds 1 --workers 1 --no-plots --out rep"),
    cli("cli-reproduce-unknown-experiment", "an unknown experiment", C,
        "unknown experiment 'nonsense'",
        "reproduce --only nonsense --seeds 1 --epochs 1 --no-plots --out rep"),
    cli("cli-zoo-unknown-model", "an unknown model to describe", C, "unknown model 'grux'",
        "zoo grux"),
    cli("cli-chorales-epochs-negative", "negative chorale epochs", C,
        "epochs must be a positive integer, got -1", "chorales train --epochs -1 --out ch"),
    cli("cli-chorales-threads-zero", "zero threads", C,
        "threads must be a positive integer, got 0",
        "chorales train --epochs 1 --threads 0 --out ch"),
    cli("cli-chorales-unknown-model", "a model that is not a chorale model", C,
        "--model 'gru' is not a chorale model", "chorales train --model gru --out ch"),
    cli("cli-classify-units-zero", "zero units for a classifier", C,
        "units must be a positive integer, got 0",
        "classify train --data labels.ts --units 0 --epochs 1 --quiet --out c", ["labels.ts"]),
    # ---- the command line: files
    cli("cli-missing-file", "a missing file", D, "file not found: 'nope.csv'",
        "train --data nope.csv {tiny} --out m"),
    cli("cli-folder-as-file", "a folder where a file is expected", D,
        "cannot read 'folder.csv' as CSV: IsADirectoryError",
        "train --data folder.csv {tiny} --out m", ["folder.csv"]),
    cli("cli-empty-file", "an empty file", D, "cannot read 'empty.csv' as CSV: EmptyDataError",
        "train --data empty.csv {tiny} --out m", ["empty.csv"]),
    cli("cli-header-only", "a CSV with a header and no rows", D, "no rows in 'header.csv'",
        "train --data header.csv {tiny} --out m", ["header.csv"]),
    cli("cli-ragged-csv", "a CSV with a row of too many fields", D,
        "cannot read 'ragged.csv' as CSV: ParserError: Error tokenizing data. C error: "
        "Expected 2 fields in line 3, saw 3. Fix:",
        "train --data ragged.csv {tiny} --out m", ["ragged.csv"]),
    cli("cli-bad-encoding", "a CSV that is not UTF-8 (Latin-1)", D,
        "cannot read 'latin1.csv' as CSV: UnicodeDecodeError: 'utf-8' codec can't decode",
        "train --data latin1.csv {tiny} --out m", ["latin1.csv"]),
    cli("cli-binary-as-csv", "a binary file given as CSV", D, "cannot read 'binary.csv' as CSV",
        "train --data binary.csv {tiny} --out m", ["binary.csv"]),
    cli("cli-truncated-parquet", "a truncated Parquet file", D,
        "cannot read 'truncated.parquet' as Parquet",
        "train --data truncated.parquet {tiny} --out m", ["truncated.parquet"]),
    cli("cli-missing-column", "a target column that is not in the table", D,
        "missing column 'sales' (target) in 'good.csv': the columns are 'ds', 'y'",
        "train --data good.csv --target sales {tiny} --out m", ["good.csv"]),
    cli("cli-nan-values", "missing values (positions named)", D,
        "missing values in 'nan.csv', column 'y': 2 missing at 2000-01-06 (row 5 (line 7))",
        "train --data nan.csv {tiny} --out m", ["nan.csv"]),
    cli("cli-inf-values", "an infinite value (position named)", D,
        "infinite values in 'inf.csv', column 'y': row 7 (line 9) holds inf",
        "train --data inf.csv {tiny} --out m", ["inf.csv"]),
    cli("cli-non-numeric", "text in the target column", D,
        "non-numeric target column in 'text.csv', column 'y': row 5 (line 7) holds 'abc'",
        "train --data text.csv {tiny} --out m", ["text.csv"]),
    cli("cli-unreadable-timestamps", "a timestamp that is not a date", D,
        "unreadable timestamps in 'dates.csv', column 'ds': row 1 (line 3) holds 'soon'",
        "train --data dates.csv {tiny} --out m", ["dates.csv"]),
    cli("cli-unsorted", "unsorted timestamps", D,
        "unsorted timestamps in 'unsorted.csv', column 'ds': row 4 (line 6)",
        "train --data unsorted.csv {tiny} --out m", ["unsorted.csv"]),
    cli("cli-duplicate", "duplicate timestamps", D,
        "duplicate timestamps in 'duplicate.csv', column 'ds': rows 6, 7 (lines 8, 9)",
        "backtest --data duplicate.csv {tiny}", ["duplicate.csv"]),
    cli("cli-irregular", "a missing time step", D,
        "irregular timestamps in 'irregular.csv', column 'ds'",
        "impute --data irregular.csv --window 8 --units 4 --epochs 1 --quiet --out f.csv",
        ["irregular.csv"]),
    cli("cli-too-short", "a series too short for one window", D,
        "series shorter than 12 steps (window 8 + 2 target step(s) + 2 for the held-out "
        "origins of horizon 2) in 'short.csv'",
        "train --data short.csv {tiny} --short-series refuse --out m", ["short.csv"]),
    cli("cli-forecast-missing-model", "a model folder that does not exist", M,
        "nope/forecaster.json is missing: nope holds no saved Forecaster",
        "forecast nope --out f.csv"),
    cli("cli-forecast-model-is-a-file", "a file where a model folder is expected", M,
        "model.txt is a file: a saved Forecaster is a folder",
        "forecast model.txt --out f.csv", ["model.txt"]),
    cli("cli-out-is-a-folder", "a folder where an output file is expected", C,
        "folder.csv is a folder; give a file name", "forecast nope --out folder.csv",
        ["folder.csv"]),
    cli("cli-out-is-a-file", "a file where the model folder is to be saved", C,
        "--out good.csv is a file; a model is saved as a folder",
        "train --data good.csv {tiny} --out good.csv", ["good.csv"]),
    # ---- outputs that exist, checkpoints to resume
    api("save-over-a-model", "saving into a folder that holds a model", O,
        "saved already holds a saved model; pass overwrite=True to replace it",
        'sn.save(gru(), "saved")', ["saved"]),
    cli("cli-out-exists", "an output folder that exists", C,
        "saved exists; pass --force to replace it, or give another path",
        "train --data good.csv {tiny} --out saved", ["good.csv", "saved"]),
    api("resume-missing", "resuming from a checkpoint that does not exist", M,
        "no checkpoint at nope: it does not exist",
        'sn.fit(gru(), (X, Y), resume="nope", quiet=True)'),
    api("resume-not-a-checkpoint", "resuming from a model folder, not a checkpoint", M,
        "saved is not a seqnets checkpoint: checkpoint.json is missing",
        'sn.fit(gru(), (X, Y), resume="saved", quiet=True)', ["saved"]),
    cli("cli-resume-missing", "--resume of a folder that does not exist", M,
        "no interrupted run to resume at nope: the folder does not exist",
        "train --data good.csv {tiny} --out m --resume nope", ["good.csv"]),
    cli("cli-checkpoint-left-over", "an interrupted run's checkpoints left beside --out", C,
        "m.checkpoint holds the checkpoints of an interrupted run: continue it with "
        "--resume m.checkpoint, or pass --force to start over",
        "train --data good.csv {tiny} --out m", ["good.csv", "m.checkpoint"]),
    cli("cli-classify-missing-data", "a missing classification data set", D,
        "nope does not exist; give a .npz, .ndjson or .ts file",
        "classify train --data nope --out c"),
    cli("cli-classify-one-class", "labels of one class", D, "a classifier needs at least two",
        "classify train --data one_class.ts --epochs 1 --quiet --out c", ["one_class.ts"]),
    cli("cli-chorales-no-csv", "a chorale folder without CSVs", D, "chorales",
        "chorales train --data chorales --epochs 1 --out ch", ["chorales"]),
]


# ----------------------------------------------------------------------------- running them


def _names() -> dict:
    """What the API rows' code can use: tiny tensors, a tiny model, a series, sequences."""
    g = torch.Generator().manual_seed(0)

    def with_nan(a, *where):
        a = a.clone() if isinstance(a, torch.Tensor) else np.array(a, dtype=float)
        for w in where:
            a[w] = float("nan")
        return a

    rng = np.random.default_rng(0)
    from seqnets.classify import Classifier

    return {"sn": sn, "torch": torch, "np": np, "Classifier": Classifier, "Dense": Dense,
            "Conv1D": Conv1D, "GRU": GRU, "LSTM": LSTM, "Dropout": Dropout,
            "Embedding": Embedding,
            "X": torch.randn(8, 10, 1, generator=g), "Y": torch.randn(8, 10, 10, generator=g),
            "gru": lambda: sn.zoo.build("gru", units=4, seed=0),
            "y": 10 + np.sin(np.arange(40.0)), "with_nan": with_nan,
            "sequences": [rng.normal(size=(30, 2)).astype(np.float32) for _ in range(4)],
            "labels": [0, 1, 0, 1]}


def _snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _own_layers_only(monkeypatch) -> None:
    """The layer registry as a fresh process has it (messages list the registered classes;
    other tests register their own)."""
    import seqnets.chapter  # noqa: F401 - every package that registers layers, imported
    import seqnets.classify  # noqa: F401
    import seqnets.music  # noqa: F401
    from seqnets.layers import base

    monkeypatch.setattr(base, "_LAYER_CLASSES", {
        name: cls for name, cls in base._LAYER_CLASSES.items()
        if cls.__module__.startswith("seqnets.")})


def refused(row: Row, folder: Path, capsys, monkeypatch) -> str:
    """Run ``row`` in ``folder`` (the current directory); check the class, the message and
    that nothing was written; return the message as the user sees it."""
    _own_layers_only(monkeypatch)
    _make(folder, row.files)
    before = _snapshot(folder)
    if row.code is not None:
        with pytest.raises(row.error) as info:
            eval(row.code, _names())  # noqa: S307 - the rows above, nothing else
        assert type(info.value).__module__ == "seqnets.errors", type(info.value)
        message = str(info.value)
        assert row.says in message, f"{row.says!r} not in {message!r}"
    else:
        args = build_parser().parse_args(row.args())
        with pytest.raises(row.error) as info:
            args.func(args)
        assert row.says in as_flags(one_line(str(info.value))), str(info.value)
        assert _snapshot(folder) == before, "written before refusing"
        capsys.readouterr()
        code = main(row.args())
        out, err = capsys.readouterr()
        assert code == 2, (out, err)
        assert err.startswith("seqnets: error: ") and err.count("\n") == 1 and \
            err.endswith("\n"), err
        assert "Traceback" not in out + err
        message = err.rstrip("\n")
        assert row.says in message, f"{row.says!r} not in {message!r}"
    assert _snapshot(folder) == before, "the folder changed"
    return message.replace(str(folder), "<the row's folder>")


MESSAGES: dict[str, str] = {}  # id -> message, filled as the rows run (the doc reuses them)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_refused(row, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    MESSAGES[row.id] = refused(row, tmp_path, capsys, monkeypatch)


def test_the_table_covers_enough():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    assert len(ROWS) >= 60 and sum(r.where == "CLI" for r in ROWS) >= 25
    for row in ROWS:
        assert issubclass(row.error, errors.SeqnetsError) and issubclass(
            row.error, ValueError | OSError)
        assert set(row.files) <= set(FILES)


# ----------------------------------------------------------------------------- the doc


def _cell(text: str) -> str:
    """Markdown table cell: plain text with the characters Markdown would read escaped."""
    return re.sub(r"([\\`*_<>|\[\]])", r"\\\1", text)


def render(messages: dict[str, str]) -> str:
    lines = [
        "# Every refused input",
        "",
        "What seqnets refuses, with the error it raises and the message it gives, as produced "
        "by the rows of `tests/test_refusal_table.py` (one test per row; this page is "
        "generated from them: `SEQNETS_WRITE_DOCS=1 ./dev test tests/test_refusal_table.py`).",
        "",
        "Every class below derives from `seqnets.errors.SeqnetsError` and from `ValueError` "
        "(`ConfigError`, `ShapeError`, `DataError`, `NotFittedError`) or `OSError` "
        "(`ModelFileError`). The command line prints the message as one line "
        "`seqnets: error: ...` on stderr, without a traceback, exits with 2, and writes "
        "nothing; a CLI row's error class is the one its command's function raises. In the "
        f"commands, `…` stands for `{TINY}`. Paths are relative to the folder the row ran in.",
        "",
        "Accepted on purpose: `epochs=0` (a Forecaster with `base='linear'` fits the linear "
        "part only; `fit` then trains nothing); float64 and integer arrays given to `fit`, "
        "`predict` or a Forecaster, which are converted to float32 as Keras's `fit` does. "
        "A layer called directly does not convert: it refuses another dtype than its "
        "weights' (row `float64-input`), since a silent cast would hide a float64 model's "
        "lost precision and torch's own error names neither the layer nor the fix.",
        "",
        "| input | where | error class | message |",
        "|---|---|---|---|",
    ]
    for row in ROWS:
        call = row.code if row.code is not None else \
            "seqnets " + row.argv.replace("{tiny}", "…")
        lines.append(f"| {_cell(row.input)}: `{call}` | {row.where} | "
                     f"`{row.error.__name__}` | {_cell(messages[row.id])} |")
    lines += ["", f"{len(ROWS)} rows, {sum(r.where == 'CLI' for r in ROWS)} through the "
              "command line.", ""]
    return "\n".join(lines)


def test_the_refusal_table_in_docs_is_current(tmp_path_factory, monkeypatch, capsys):
    for row in ROWS:  # rows not run in this session (a -k selection) run here
        if row.id not in MESSAGES:
            folder = tmp_path_factory.mktemp(row.id)
            monkeypatch.chdir(folder)
            MESSAGES[row.id] = refused(row, folder, capsys, monkeypatch)
    text = render(MESSAGES)
    if os.environ.get("SEQNETS_WRITE_DOCS") == "1":
        DOC.write_text(text, encoding="utf-8")
    assert DOC.exists() and DOC.read_text(encoding="utf-8") == text, (
        "docs/refusals.md is out of date: SEQNETS_WRITE_DOCS=1 ./dev test "
        "tests/test_refusal_table.py")
