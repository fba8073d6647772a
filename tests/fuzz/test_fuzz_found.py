"""What the fuzzers found, one concrete file each: every one used to escape as a raw
exception (or load silently wrong) and is now a seqnets error naming the problem."""

from __future__ import annotations

import hashlib
import json
import struct
import time

import numpy as np
import pytest

import seqnets as sn
from seqnets.classify import Classifier
from seqnets.data import read_midi, read_quickdraw, read_series, read_ts, window_pairs, windows
from seqnets.data.chorale_midi import midi_bytes
from seqnets.errors import DataError, ModelFileError, SeqnetsError, ShapeError

pd = pytest.importorskip("pandas")


def test_a_midi_file_of_zero_ticks_per_beat(tmp_path):
    pytest.importorskip("mido")
    blob = bytearray(midi_bytes(np.full((4, 4), 60)))
    blob[12:14] = b"\x00\x00"  # the header's division: was a ZeroDivisionError
    (tmp_path / "c.mid").write_bytes(bytes(blob))
    with pytest.raises(DataError, match="0 ticks per beat"):
        read_midi(tmp_path / "c.mid")


def test_a_midi_file_with_an_impossible_key_signature(tmp_path):
    pytest.importorskip("mido")
    blob = midi_bytes(np.full((4, 4), 60))
    # a key signature meta event (FF 59 02 sf mi) of 9 sharps, mode 39: mido's
    # KeySignatureError escaped (found by the slow run)
    at = blob.index(b"\xff\x58")
    blob = blob[:at] + b"\xff\x59\x02\x09\x27\x00" + blob[at:]
    track = blob.index(b"MTrk")
    (n,) = struct.unpack(">I", blob[track + 4:track + 8])
    blob = blob[:track + 4] + struct.pack(">I", n + 6) + blob[track + 8:]
    (tmp_path / "c.mid").write_bytes(blob)
    with pytest.raises(DataError, match="not a readable MIDI file"):
        read_midi(tmp_path / "c.mid")


@pytest.mark.parametrize("line, match", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),           # was RecursionError
    ('{"word": "cat", "drawing": [[[' + "7" * 5000 + "], [1]]]}", "unreadable JSON"),
    ('{"word": "cat", "drawing": [[[1' + "0" * 400 + "], [1]]]}", "not a finite number"),
])
def test_quickdraw_lines_past_the_json_parser_s_limits(tmp_path, line, match):
    (tmp_path / "q.ndjson").write_text(line + "\n")
    with pytest.raises(DataError, match=match):
        read_quickdraw(tmp_path / "q.ndjson")


def test_a_ts_header_count_written_with_a_unicode_digit(tmp_path):
    (tmp_path / "x.ts").write_text("@problemName x\n@dimensions \u00b2\n@classLabel true a b\n"
                                   "@data\n1,2:a\n")
    with pytest.raises(DataError, match="@dimensions is '\u00b2', not a positive integer"):
        read_ts(tmp_path / "x.ts")


def test_table_values_beyond_float32_are_refused_not_made_inf(tmp_path):
    frame = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=4), "y": [1.0, 2.0, 1e39,
                                                                             3.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"values too large.*row 2.*float32"):
        read_series(tmp_path / "t.parquet", target="y")


def test_huge_float_time_steps_and_far_timestamps_are_named(tmp_path):
    (tmp_path / "t.csv").write_text("ds,y\n0,1\n1,2\n1e20,3\n")
    with pytest.raises(DataError, match="non-integer time steps.*below 2"):
        read_series(tmp_path / "t.csv", target="y")
    far = pd.Timestamp(np.datetime64("12000-01-01", "s"))  # Python's date() fails past 9999
    assert sn.data.table_checks._fmt_time(far) == "12000-01-01 00:00:00"  # was an escape


@pytest.mark.parametrize("options, steps", [({}, "7.38e\\+05"),
                                             ({"resample": "min"}, "1.06e\\+09")])
def test_one_far_off_timestamp_is_refused_without_building_its_grid(tmp_path, options,
                                                                    steps):
    # year -1 among 2020's days: the irregularity check built a grid of 738,000 days
    # (10 s; a minute-step series would have asked for gigabytes)
    days = pd.date_range("2020-01-01", periods=8).strftime("%Y-%m-%d").tolist()
    (tmp_path / "t.csv").write_text("ds,y\n-1,0\n" + "".join(f"{d},{i}\n"
                                                          for i, d in enumerate(days)))
    start = time.perf_counter()
    # pandas 3 reads '-1' as the year -1; pandas 2 (which the stats extra holds) does not
    # read it at all: either way a clear refusal, at once
    with pytest.raises(DataError, match=f"timestamps too far apart.*{steps} steps|"
                                        "unreadable timestamps.*row 0 .line 2. holds '-1'"):
        read_series(tmp_path / "t.csv", target="y", **options)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("series, args, error", [
    (np.array(["a", "b", "c"]), (2,), DataError),                    # was TypeError
    (np.zeros(5, dtype="datetime64[s]"), (2,), DataError),
    ([[1, 2], [3]], (1,), ShapeError),                               # ragged: was ValueError
    (np.arange(5.0), (2, 2**63), None),                              # was OverflowError
])
def test_windows_of_odd_series_and_steps(series, args, error):
    if error is None:
        assert windows(series, *args).shape == (1, 2, 1)
    else:
        with pytest.raises(error):
            windows(series, *args)


def test_window_pairs_checks_its_window():
    with pytest.raises(SeqnetsError, match="window"):
        window_pairs(np.arange(10.0), "3", 2)  # was a TypeError from a comparison


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    model = sn.Sequential([sn.layers.Dense(1)], input_size=2)
    return sn.save(model, tmp_path_factory.mktemp("m") / "m")


def test_weights_of_another_dtype_are_refused_not_cast(model_folder, tmp_path):
    import shutil

    folder = shutil.copytree(model_folder, tmp_path / "m")
    blob = (folder / "model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    for name in header:
        if name != "__metadata__":
            header[name]["dtype"] = "I32"  # same width: a well-formed file
    text = json.dumps(header).encode()
    blob = struct.pack("<Q", len(text)) + text + blob[8 + n:]
    (folder / "model.safetensors").write_bytes(blob)
    config = json.loads((folder / "config.json").read_text())
    config["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="holds int32, the architecture needs float32"):
        sn.load(folder)


def test_a_config_with_a_number_past_the_digit_limit(model_folder, tmp_path):
    import shutil

    folder = shutil.copytree(model_folder, tmp_path / "m")
    text = (folder / "config.json").read_text().replace('"metadata": {}',
                                                         '"metadata": ' + "7" * 5000)
    (folder / "config.json").write_text(text)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        sn.io.read_config(folder)


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(6, 2)).astype(np.float32) for _ in range(8)]
    clf = Classifier("sketch_gru", model_options={"units": 2, "padding": "same",
                                                  "filters": (2, 2, 2)},
                     epochs=1, batch_size=8, validation=0.25, seed=0)
    return clf.fit(X, ["a", "b"] * 4).save(tmp_path_factory.mktemp("c") / "c")


@pytest.mark.parametrize("change, match", [
    (lambda s: s.pop("params"), "no 'params' entry"),                      # was KeyError
    (lambda s: s.update(params=1.5), "'params' must be an object"),        # was TypeError
    (lambda s: s["params"].update(nptimizer="adam"), "do not describe"),   # was TypeError
    (lambda s: s.update(classes=["a", "b", "c"]), "differ from the model"),  # at predict
    (lambda s: s.update(mean=[0.0, [1]]), "'mean' and 'std' must be 2"),
    (lambda s: s["params"].update(max_length=2.5), "max_length"),          # at predict
    (lambda s: s["params"].update(class_weight=[[1, 2, 3]]), "do not describe"),
])
def test_a_damaged_classifier_json_is_refused_naming_the_field(classifier_folder, tmp_path,
                                                               change, match):
    import shutil

    folder = shutil.copytree(classifier_folder, tmp_path / "c")
    state = json.loads((folder / "classifier.json").read_text())
    change(state)
    (folder / "classifier.json").write_text(json.dumps(state))
    with pytest.raises(ModelFileError, match=match):
        Classifier.load(folder)
    assert Classifier.load(classifier_folder).predict_proba(
        [np.zeros((6, 2), np.float32)]).shape == (1, 2)


@pytest.fixture(scope="module")
def forecaster_folder(tmp_path_factory):
    frame = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=40),
                          "y": np.sin(np.arange(40) / 3)})
    fc = sn.Forecaster("gru", window=6, horizon=2, epochs=1, holdout=4, mc_samples=5,
                       model_options={"units": 2}).fit(frame)
    return fc.save(tmp_path_factory.mktemp("f") / "f")


def _scaler(state):
    return state["transforms"]["fitted"][0]["steps"][0]


@pytest.mark.parametrize("change, match", [
    (lambda s: s["params"].update(seed=[1]), "'params.seed' must be"),    # at predict
    (lambda s: _scaler(s).update(center=[[0.0]]), "center and scale"),    # at predict
    (lambda s: s["transforms"].update(fitted=[]), "one fitted transform per series"),
    (lambda s: s["series"].update(values=[[[1.0, 2.0]]]), r"'series.values\[0\]'"),
    (lambda s: s.update(cuts=[1, 2]), "'cuts' must be 1 non-negative"),
    (lambda s: s.update(scores=[s["scores"]]), r"'scores' must be \[origins, 2\]"),
    (lambda s: s.update(scores=3.0), r"'scores' must be"),                # was AxisError
])
def test_a_damaged_forecaster_json_is_refused_before_a_forecast(forecaster_folder, tmp_path,
                                                                change, match):
    import shutil

    folder = shutil.copytree(forecaster_folder, tmp_path / "f")
    state = json.loads((folder / "forecaster.json").read_text())
    change(state)
    (folder / "forecaster.json").write_text(json.dumps(state))
    with pytest.raises(ModelFileError, match=match):
        sn.Forecaster.load(folder)
    assert len(sn.Forecaster.load(forecaster_folder).predict()) == 2
