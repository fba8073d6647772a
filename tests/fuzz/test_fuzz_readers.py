"""Fuzzing every reader: whatever a file holds, a reader returns a valid result or raises a
seqnets error (never another exception, a hang or a crash).

Each reader is one row of ``READERS``: the valid file(s) it starts from and how one example
is read and judged. ``test_reader`` runs a few examples per reader in the default suite;
``test_reader_long`` (``./dev slow tests/fuzz``) a thousand. To hunt longer:
``SEQNETS_FUZZ_SLOW=10000 ./dev slow tests/fuzz --hypothesis-show-statistics``.
"""

from __future__ import annotations

import atexit
import functools
import io
import json
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from fuzzing import (
    FAST,
    SLOW,
    json_file,
    mutated_bytes,
    mutated_json,
    mutated_lines,
    random_bytes,
    refused_or,
)
from hypothesis import given
from hypothesis import strategies as st

import seqnets as sn
from seqnets.classify import Classifier
from seqnets.data import (
    read_chorale,
    read_midi,
    read_quickdraw,
    read_series,
    read_sketch_npz,
    read_ts,
    write_chorale,
    write_quickdraw,
    write_sketch_npz,
    write_ts,
)
from seqnets.data.chorale_midi import midi_bytes
from seqnets.data.tables import read_series_with_gaps

pd = pytest.importorskip("pandas")

_ROOT = Path(tempfile.mkdtemp(prefix="seqnets-fuzz-"))
atexit.register(shutil.rmtree, _ROOT, True)


def _scratch() -> Path:
    """A fresh empty folder for one example."""
    return Path(tempfile.mkdtemp(dir=_ROOT))


# ----------------------------------------------------------------------------- tables

def _long_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = [pd.DataFrame({"id": sid, "ds": pd.date_range("2020-01-01", periods=8, freq="D"),
                           "y": rng.normal(size=8).round(3), "x": rng.normal(size=8).round(3)})
             for sid in ("a", "b")]
    return pd.concat(parts, ignore_index=True)


READ_OPTIONS = (
    dict(time="ds", target="y", id="id"),
    dict(time="ds", target="y", id="id", covariates=["x"]),
    dict(time="ds", target="y", id="id", fill="interpolate", sort=True),
    dict(time="ds", target="y", id="id", resample="D", agg="sum", fill="ffill"),
    dict(time="ds", target=["y", "x"], id="id", min_length=4),
    dict(time="ds", target=["a", "b"], wide=True),
    dict(time="ds", wide=True, covariates=["x"], sort=True),
)


def _wide_table() -> pd.DataFrame:
    long = _long_table()
    wide = long.pivot(index="ds", columns="id", values="y").reset_index()
    wide.columns.name = None
    wide["x"] = np.arange(len(wide), dtype=float)
    return wide


CELLS = (np.nan, np.inf, -np.inf, "abc", "", None, True, 10**20, -1, 0, 1e308, "1,5",
         "2020-02-30", "2020-01-01", pd.Timestamp("2020-01-01", tz="UTC"), 3.5, "NaN", "\x00")


@st.composite
def table_frames(draw) -> pd.DataFrame:
    """A valid long or wide table with cells, rows and columns changed."""
    frame = (_wide_table() if draw(st.booleans()) else _long_table()).astype(object)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("cell", "cell", "drop_row", "duplicate_row", "shuffle",
                                   "drop_column", "rename", "astype", "extra")))
        cols = list(frame.columns)
        if op == "cell" and len(frame):
            row, k = draw(st.integers(0, len(frame) - 1)), draw(st.integers(0, len(cols) - 1))
            column = frame.iloc[:, k].astype(object)  # typed columns refuse odd cells
            column.iat[row] = draw(st.sampled_from(CELLS))
            frame.isetitem(k, column)
        elif op == "drop_row" and len(frame):
            frame = frame.drop(frame.index[draw(st.integers(0, len(frame) - 1))])
        elif op == "duplicate_row" and len(frame):
            i = draw(st.integers(0, len(frame) - 1))
            frame = pd.concat([frame, frame.iloc[[i]]], ignore_index=True)
        elif op == "shuffle":
            frame = frame.sample(frac=1.0, random_state=draw(st.integers(0, 9)))
        elif op == "drop_column" and len(cols) > 1:
            frame = frame.drop(columns=draw(st.sampled_from(cols)))
        elif op == "rename":
            old, new = draw(st.sampled_from(cols)), draw(st.sampled_from(cols + ["z", "", 0]))
            frame.columns = [new if c == old else c for c in cols]
        elif op == "astype":
            col = draw(st.sampled_from(cols))
            kind = draw(st.sampled_from(("str", "bool", "category", "int", "float")))
            try:
                frame[col] = frame[col].astype(kind)
            except (ValueError, TypeError, OverflowError):
                pass
        elif op == "extra":
            frame[draw(st.sampled_from(("extra", "y", "ds")))] = draw(st.sampled_from(CELLS))
    return frame.reset_index(drop=True)


def _csv_bytes(frame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8", "surrogatepass")


def _parquet_bytes(frame) -> bytes:
    """The frame as Parquet; columns pyarrow cannot type (mixed objects) become text."""
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    buf = io.BytesIO()
    try:
        frame.to_parquet(buf, index=False)
    except Exception:  # noqa: BLE001 - pyarrow's many type errors: retry as text
        buf = io.BytesIO()
        frame.astype(str).to_parquet(buf, index=False)
    return buf.getvalue()


@functools.cache
def _base_csv() -> str:
    return _long_table().to_csv(index=False)


@functools.cache
def _base_parquet() -> bytes:
    return _parquet_bytes(_long_table())


def csv_files():
    return st.one_of(table_frames().map(_csv_bytes), mutated_lines(_base_csv(), (",",)),
                     mutated_bytes(_base_csv().encode()), random_bytes())


def parquet_files():
    return st.one_of(table_frames().map(_parquet_bytes), table_frames().map(_parquet_bytes),
                     mutated_bytes(_base_parquet()), random_bytes())


def _valid_series(ss) -> None:
    assert len(ss.ids) == len(ss.values) == len(ss.index) > 0
    for v, idx in zip(ss.values, ss.index, strict=True):
        assert v.dtype == np.float32 and v.ndim == 2 and len(v) == len(idx)
        assert np.isfinite(v).all()


def _read_table_file(suffix: str, data, blob: bytes) -> None:
    path = _scratch() / f"t{suffix}"
    path.write_bytes(blob)
    options = data.draw(st.sampled_from(READ_OPTIONS), label="options")
    gaps = data.draw(st.booleans(), label="with gaps") and not options.get("covariates") \
        and "fill" not in options
    if gaps:
        read = refused_or(lambda: read_series_with_gaps(path, **options))
        if read is not None:
            assert all(v.ndim == 2 for v in read.values)
        return
    ss = refused_or(lambda: read_series(path, **options))
    if ss is not None:
        _valid_series(ss)


def check_csv(data) -> None:
    _read_table_file(".csv", data, data.draw(csv_files(), label="file"))


def check_parquet(data) -> None:
    _read_table_file(".parquet", data, data.draw(parquet_files(), label="file"))


# ----------------------------------------------------------------------------- model files

@functools.cache
def _model_folder() -> Path:
    torch.manual_seed(0)
    model = sn.Sequential([sn.layers.GRU(3, return_sequences=True), sn.layers.Conv1D(2, 2),
                           sn.layers.SimpleRNN(2), sn.layers.Dense(1)], input_size=2)
    return sn.save(model, _ROOT / "model", metadata={"note": "fuzz base"})


def _copy_model(base: Path) -> Path:
    folder = _scratch() / "m"
    shutil.copytree(base, folder)
    return folder


def _valid_model(model) -> None:
    assert isinstance(model, torch.nn.Module) and not model.training


def check_config(data) -> None:
    base = _model_folder()
    config = json.loads((base / "config.json").read_text())
    folder = _copy_model(base)
    (folder / "config.json").write_bytes(data.draw(json_file(config), label="config.json"))
    if refused_or(lambda: sn.io.read_config(folder)) is None:
        return
    model = refused_or(lambda: sn.load(folder))
    if model is not None:
        _valid_model(model)


def _safetensors_parts(blob: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


@st.composite
def safetensors_files(draw, blob: bytes) -> bytes:
    """The weights with their header changed (JSON-level, or its length prefix), their
    bytes changed, or random bytes."""
    header, body = _safetensors_parts(blob)
    kind = draw(st.sampled_from(("header", "header", "dtype", "prefix", "bytes", "body",
                                 "random")))
    if kind == "dtype":  # a well-formed file whose tensors are of another type or shape
        names = sorted(k for k in header if k != "__metadata__")
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)):
            entry = header[name]
            entry["dtype"] = draw(st.sampled_from(("I32", "U32", "F16", "BF16", "F64", "I64",
                                                   "U8", "BOOL", "F32")))
            if draw(st.booleans()):
                size = max(1, len(entry["shape"]) and entry["shape"][-1])
                entry["shape"] = draw(st.sampled_from(([size], [1, size], [size, 1], [])))
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + body
    if kind == "header":
        text = draw(mutated_json(header))
        return struct.pack("<Q", len(text)) + text + body
    if kind == "prefix":
        n = draw(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, len(blob) + 8)))
        return struct.pack("<Q", n) + blob[8:]
    if kind == "body":
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + draw(mutated_bytes(body))
    if kind == "bytes":
        return draw(mutated_bytes(blob))
    return draw(random_bytes(64))


def check_safetensors(data) -> None:
    """The weights changed with the config's hash made to match: load must check the header
    (names, shapes, dtypes, offsets) itself, not lean on the hash."""
    import hashlib

    base = _model_folder()
    folder = _copy_model(base)
    blob = data.draw(safetensors_files((base / "model.safetensors").read_bytes()),
                     label="model.safetensors")
    (folder / "model.safetensors").write_bytes(blob)
    config = json.loads((folder / "config.json").read_text())
    config["weights"].update(sha256=hashlib.sha256(blob).hexdigest(), bytes=len(blob))
    (folder / "config.json").write_text(json.dumps(config))
    model = refused_or(lambda: sn.load(folder))
    if model is not None:  # loaded: the file's tensors, as they are (never cast)
        _valid_model(model)
        from safetensors.torch import load as read_tensors

        for name, t in read_tensors(blob).items():
            own = model.state_dict()[name]
            assert t.dtype == own.dtype and t.shape == own.shape
            assert torch.equal(t, own) or (t.isnan() == own.isnan()).all()


@functools.cache
def _forecaster_folder() -> Path:
    t = np.arange(40)
    frame = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=40, freq="D"),
                          "y": np.sin(t / 3) + 0.1 * t})
    fc = sn.Forecaster("gru", window=6, horizon=2, epochs=1, holdout=4, mc_samples=5,
                       model_options={"units": 2}, batch_size=64, quiet=True).fit(frame)
    return fc.save(_ROOT / "forecaster")


def check_forecaster(data) -> None:
    base = _forecaster_folder()
    state = json.loads((base / "forecaster.json").read_text())
    folder = _copy_model(base)
    (folder / "forecaster.json").write_bytes(data.draw(json_file(state),
                                                       label="forecaster.json"))
    fc = refused_or(lambda: sn.Forecaster.load(folder))
    if fc is not None:  # loaded: it must forecast, or refuse with a seqnets error
        out = refused_or(fc.predict)
        if out is not None:
            assert len(out) > 0


@functools.cache
def _classifier_folder() -> Path:
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(int(rng.integers(4, 9)), 2)).astype(np.float32) for _ in range(8)]
    y = ["a", "b"] * 4
    clf = Classifier("sketch_gru", model_options={"units": 2, "padding": "same",
                                                              "filters": (2, 2, 2)},
                                 epochs=1, batch_size=8, validation=0.25, seed=0)
    return clf.fit(X, y).save(_ROOT / "classifier")


_PROBE = [np.linspace(0, 1, 12, dtype=np.float32).reshape(6, 2)]


def check_classifier(data) -> None:
    base = _classifier_folder()
    state = json.loads((base / "classifier.json").read_text())
    folder = _copy_model(base)
    (folder / "classifier.json").write_bytes(data.draw(json_file(state),
                                                       label="classifier.json"))
    clf = refused_or(lambda: Classifier.load(folder))
    if clf is not None:  # loaded: it must predict, or refuse with a seqnets error
        proba = refused_or(lambda: clf.predict_proba(_PROBE))
        if proba is not None:
            assert proba.shape[0] == 1


# ----------------------------------------------------------------------------- chorales

@functools.cache
def _chorale() -> np.ndarray:
    return sn.data.load_chorales().train[0][:12]


@functools.cache
def _chorale_csv() -> str:
    return write_chorale(_ROOT / "chorale.csv", _chorale()).read_text()


def _valid_chorale(arr, voices: int = 4) -> None:
    assert arr.dtype == np.int64 and arr.ndim == 2 and arr.shape[1] == voices and len(arr)


def check_chorale_csv(data) -> None:
    text = _chorale_csv()
    blob = data.draw(st.one_of(mutated_lines(text, (",",)), mutated_lines(text, (",",)),
                               mutated_bytes(text.encode()), random_bytes()), label="csv")
    path = _scratch() / "c.csv"
    path.write_bytes(blob)
    arr = refused_or(lambda: read_chorale(path))
    if arr is not None:
        _valid_chorale(arr)
        assert ((arr == 0) | ((arr >= 36) & (arr <= 81))).all()


@st.composite
def midi_files(draw, blob: bytes) -> bytes:
    """A MIDI file with its header fields (format, track count, ticks per beat) or a track
    chunk's length changed, or its bytes."""
    kind = draw(st.sampled_from(("header", "chunk", "bytes", "bytes", "random")))
    data = bytearray(blob)
    if kind == "header":  # MThd, length 6, then format, ntracks, division (big-endian u16)
        field = draw(st.sampled_from((8, 10, 12)))
        value = draw(st.one_of(st.sampled_from((0, 1, 2, 3, 0x7FFF, 0x8000, 0xE728, 0xFFFF)),
                               st.integers(0, 0xFFFF)))
        data[field:field + 2] = struct.pack(">H", value)
        return bytes(data)
    if kind == "chunk":
        starts = [i for i in range(len(data) - 8) if data[i:i + 4] == b"MTrk"]
        i = draw(st.sampled_from(starts))
        data[i + 4:i + 8] = struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
        return bytes(data)
    if kind == "bytes":
        return draw(mutated_bytes(blob, max_ops=3))
    return draw(st.one_of(random_bytes(64), st.binary(max_size=64).map(lambda b: b"MThd" + b)))


def check_midi(data) -> None:
    pytest.importorskip("mido")
    blob = data.draw(midi_files(midi_bytes(_chorale())), label="midi")
    path = _scratch() / "c.mid"
    path.write_bytes(blob)
    voices = data.draw(st.sampled_from((4, 4, 1, 3)), label="voices")
    arr = refused_or(lambda: read_midi(path, voices=voices))
    if arr is not None:
        _valid_chorale(arr, voices)


# ----------------------------------------------------------------------------- sketches

def _sketch_splits() -> dict:
    a = np.array([[1, 2, 0], [3, -4, 1]], np.int16)
    b = np.array([[0, 0, 0], [5, 5, 0], [-1, 2, 1]], np.int16)
    return {"train": [a, b], "valid": [b], "test": [a]}


@functools.cache
def _npz(compress: bool) -> bytes:
    return write_sketch_npz(_ROOT / f"s{int(compress)}.npz", _sketch_splits(),
                            compress=compress).read_bytes()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return buf.getvalue()


def _members(blob: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


ODD_ITEMS = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=4), st.none(),
    st.lists(st.integers(-3, 3), max_size=4),
    st.sampled_from(["x", {"a": 1}, b"raw", (1, 2)]))


@st.composite
def sketch_arrays(draw):
    """One split's array: numbers of any dtype and shape, or an object array of sketches
    with odd items (other dtypes, shapes, pens, huge offsets, non-arrays)."""
    if draw(st.booleans()):
        dtype = draw(st.sampled_from(("int16", "int64", "uint8", "float32", "bool", "<U2",
                                      "complex64", "datetime64[s]")))
        shape = draw(st.lists(st.integers(0, 4), max_size=4))
        return np.zeros(shape, dtype=dtype) + np.array(1).astype(dtype) \
            if dtype not in ("<U2", "datetime64[s]") else np.zeros(shape, dtype=dtype)
    items = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            rows = draw(st.integers(0, 3))
            cols = draw(st.sampled_from((3, 3, 2, 4)))
            values = draw(st.lists(st.integers(-(2**33), 2**33), min_size=rows * cols,
                                   max_size=rows * cols))
            dtype = draw(st.sampled_from(("int64", "int16", "float64", "uint16")))
            with np.errstate(all="ignore"):
                items.append(np.array(values, dtype=np.int64).reshape(rows, cols).astype(dtype))
        else:
            items.append(draw(ODD_ITEMS))
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


@st.composite
def npz_files(draw) -> bytes:
    kind = draw(st.sampled_from(("arrays", "arrays", "member", "names", "bytes", "random")))
    base = _npz(draw(st.booleans()))
    if kind == "bytes":
        return draw(mutated_bytes(base))
    if kind == "random":
        return draw(random_bytes())
    members = _members(base)
    if kind == "arrays":
        key = draw(st.sampled_from(sorted(members)))
        members[key] = _npy(draw(sketch_arrays()))
    elif kind == "member":  # one .npy's bytes (its header, its pickle) changed
        key = draw(st.sampled_from(sorted(members)))
        members[key] = draw(mutated_bytes(members[key]))
    else:
        key = draw(st.sampled_from(sorted(members)))
        members[draw(st.sampled_from(("train", "train.npy.npy", "x.npy", ".npy", "/abs.npy")))] = \
            members.pop(key)
    return _zip(members)


def check_sketch_npz(data) -> None:
    path = _scratch() / "s.npz"
    path.write_bytes(data.draw(npz_files(), label="npz"))
    out = refused_or(lambda: read_sketch_npz(path))
    if out is not None:
        for sketches in out.values():
            for s in sketches:
                assert s.dtype == np.int16 and s.ndim == 2 and s.shape[1] == 3 and len(s)
                assert np.isin(s[:, 2], (0, 1)).all()


@functools.cache
def _ndjson() -> tuple[str, list]:
    drawings = [[np.array([[0, 0], [10, 5], [20, 20]]), np.array([[3, 4]])],
                [np.array([[1, 2, 0], [2, 3, 15]])]]
    meta = [{"countrycode": "DE", "timestamp": "2017-03-01 10:00:00", "recognized": True,
             "key_id": "1"}, {"countrycode": "US", "recognized": False, "key_id": 2}]
    text = write_quickdraw(_ROOT / "q.ndjson", drawings, ["cat", "dog"], meta).read_text()
    return text, [json.loads(line) for line in text.splitlines()]


@st.composite
def ndjson_files(draw) -> bytes:
    text, records = _ndjson()
    kind = draw(st.sampled_from(("record", "record", "lines", "bytes", "random")))
    if kind == "record":  # one line's JSON changed
        i = draw(st.integers(0, len(records) - 1))
        lines = text.splitlines()
        lines[i] = draw(mutated_json(records[i])).decode("utf-8", "surrogatepass")
        return "\n".join(lines).encode("utf-8", "surrogatepass")
    if kind == "lines":
        return draw(mutated_lines(text, (",", ":", "[")))
    if kind == "bytes":
        return draw(mutated_bytes(text.encode()))
    return draw(random_bytes())


def check_ndjson(data) -> None:
    path = _scratch() / "q.ndjson"
    path.write_bytes(data.draw(ndjson_files(), label="ndjson"))
    limit = data.draw(st.sampled_from((None, None, 1)), label="limit")
    recognized = data.draw(st.booleans(), label="recognized_only")
    drawings = refused_or(lambda: read_quickdraw(path, limit=limit, recognized_only=recognized))
    if drawings is None:
        return
    assert len(drawings.drawings) == len(drawings.labels) == len(drawings.meta)
    for strokes in drawings.drawings:
        assert all(np.isfinite(s).all() and s.ndim == 2 for s in strokes)
    s3 = refused_or(drawings.stroke3)  # the models' input from what was read
    if s3 is not None:
        assert all(s.dtype == np.int16 for s in s3)


@functools.cache
def _ts_text() -> str:
    cases = [np.array([[1.0, 2.0], [3.0, np.nan], [0.5, 1.5]]),
             np.array([[0.0, 1.0], [2.0, 2.0], [4.0, 1.0]])]
    return write_ts(_ROOT / "x.ts", cases, ["up", "down"], problem="fuzz").read_text()


TS_TAGS = ("problemName", "timeStamps", "missing", "univariate", "dimensions", "equalLength",
           "seriesLength", "classLabel", "targetLabel", "data")
TS_VALUES = ("true", "false", "TRUE", "", "0", "-1", "1", "2", "3", "\u00b2", "\u0663", "1.5",
             "9" * 30, "true up", "true up up", "true down up extra", "false x", "true")


@st.composite
def ts_headers(draw) -> bytes:
    """The .ts file with header tags set to odd values, added, dropped or repeated."""
    lines = _ts_text().split("\n")
    for _ in range(draw(st.integers(1, 3))):
        tag, value = draw(st.sampled_from(TS_TAGS)), draw(st.sampled_from(TS_VALUES))
        at = [i for i, line in enumerate(lines) if line.lower().startswith("@" + tag.lower())]
        op = draw(st.sampled_from(("set", "set", "add", "drop")))
        if op == "drop" and at:
            del lines[at[0]]
        elif op == "set" and at:
            lines[at[0]] = f"@{tag} {value}".rstrip()
        else:
            lines.insert(draw(st.integers(0, len(lines))), f"@{tag} {value}".rstrip())
    return "\n".join(lines).encode()


def check_ts(data) -> None:
    text = _ts_text()
    blob = data.draw(st.one_of(mutated_lines(text, (",", ":", " ")), ts_headers(),
                               ts_headers(), mutated_bytes(text.encode()), random_bytes()),
                     label="ts")
    path = _scratch() / "x.ts"
    path.write_bytes(blob)
    out = refused_or(lambda: read_ts(path))
    if out is not None:
        assert len(out.series) > 0
        assert all(s.dtype == np.float32 and s.ndim == 2 and len(s) for s in out.series)
        assert out.labels is None or len(out.labels) == len(out.series)


# ----------------------------------------------------------------------------- the tests

READERS = {
    "csv": check_csv,
    "parquet": check_parquet,
    "config_json": check_config,
    "safetensors_header": check_safetensors,
    "forecaster_json": check_forecaster,
    "classifier_json": check_classifier,
    "chorale_csv": check_chorale_csv,
    "chorale_midi": check_midi,
    "sketch_npz": check_sketch_npz,
    "quickdraw_ndjson": check_ndjson,
    "ts": check_ts,
}


@pytest.mark.parametrize("reader", sorted(READERS))
@FAST
@given(data=st.data())
def test_reader(reader, data):
    READERS[reader](data)


@pytest.mark.slow
@pytest.mark.parametrize("reader", sorted(READERS))
@SLOW
@given(data=st.data())
def test_reader_long(reader, data):
    READERS[reader](data)
