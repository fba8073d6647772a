"""``seqnets chorales``: train, evaluate and generate on small data and a small model; bad
input is one line on stderr, exit 2, and nothing written."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

import seqnets as sn
from seqnets.cli import main
from seqnets.data.chorale_midi import read_midi, step_seconds
from seqnets.data.chorales import load_chorales, read_chorale, write_chorale
from seqnets.music.workflow import load_chorale_model, save_chorale_model


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("chorales")
    data = load_chorales()
    for split, chorales in (("train", data.train[:4]), ("valid", data.valid[:1]),
                            ("test", data.test[:3])):
        for i, c in enumerate(chorales):
            write_chorale(root / split / f"c{i}.csv", c)
    return root


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "m"
    model = sn.zoo.build("chorale_cnn_lstm", seed=0, units=8)
    report = {"model": "chorale_cnn_lstm", "window": 32, "shift": 16,
              "voice_ranges": [[60, 81], [52, 74], [46, 69], [36, 66]]}
    save_chorale_model(model, folder, report)
    return folder


def test_train_then_evaluate_on_a_users_folder(tiny_data, tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["chorales", "train", "--data", str(tiny_data), "--epochs", "1", "--quiet",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test: accuracy" in text and "per voice: soprano" in text
    model, meta = load_chorale_model(out)
    assert meta["model"] == "chorale_cnn_lstm" and meta["epochs"] == 1
    assert set(meta["test"]["per_voice"]) == {"soprano", "alto", "tenor", "bass"}
    assert main(["chorales", "evaluate", str(out), "--data", str(tiny_data),
                 "--json", str(tmp_path / "s.json")]) == 0
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["test"]["accuracy"] == pytest.approx(meta["test"]["accuracy"])
    assert meta["restore_best"] is True and meta["best_epoch"] == 1
    assert main(["chorales", "train", "--data", str(tiny_data), "--epochs", "2", "--quiet",
                 "--model", "chorale_beat_lstm", "--threads", "1",
                 "--out", str(tmp_path / "beat")]) == 0
    _, beat = load_chorale_model(tmp_path / "beat")
    best = max(range(2), key=lambda e: beat["history"]["val_sparse_categorical_accuracy"][e])
    assert beat["restore_best"] is True and beat["best_epoch"] == best + 1
    assert main(["chorales", "train", "--data", str(tiny_data), "--epochs", "2", "--quiet",
                 "--last-epoch", "--out", str(tmp_path / "last")]) == 0
    _, last = load_chorale_model(tmp_path / "last")
    assert last["restore_best"] is False and last["best_epoch"] == 2  # as the book does


def test_generate_writes_listen_ready_files(tiny_model, tiny_data, tmp_path, capsys):
    args = ["chorales", "generate", str(tiny_model), "--data", str(tiny_data), "--from", "1",
            "--count", "2", "--chords", "6", "--seed-chords", "4", "--temperature", "0.8",
            "--seed", "3", "--bpm", "120"]
    files = {k: str(tmp_path / f"out.{k}") for k in ("mid", "wav", "png", "csv")}
    assert main([*args, "--midi", files["mid"], "--wav", files["wav"], "--png", files["png"],
                 "--csv", files["csv"], "--stats", str(tmp_path / "stats.json")]) == 0
    text = capsys.readouterr().out
    assert "| generated | 2 |" in text
    for i in range(2):
        chorale = read_chorale(tmp_path / f"out_{i:03d}.csv")
        assert chorale.shape == (10, 4)
        assert np.array_equal(chorale[:4], load_chorales(tiny_data).test[1 + i][:4])
        assert np.array_equal(read_midi(tmp_path / f"out_{i:03d}.mid"), chorale)
        with wave.open(str(tmp_path / f"out_{i:03d}.wav")) as w:
            assert w.getnframes() == round(10 * step_seconds(120) * w.getframerate())
        assert (tmp_path / f"out_{i:03d}.png").read_bytes()[:4] == b"\x89PNG"
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["generated"]["chorales"] == 2


@pytest.mark.parametrize(("extra", "message"), [
    (["--from", "9"], "--from 9 with --count 1 needs test chorales 9..9; there are 3"),
    (["--chords", "0"], "must be positive"),
    (["--temperature", "-1"], "--temperature must be >= 0"),
    (["--seed-chords", "900"], "fewer than the 900 seed chords"),
])
def test_generate_bad_input_exits_2_and_writes_nothing(tiny_model, tiny_data, tmp_path,
                                                        capsys, extra, message):
    rc = main(["chorales", "generate", str(tiny_model), "--data", str(tiny_data),
               "--midi", str(tmp_path / "x.mid"), "--wav", str(tmp_path / "x.wav"), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_other_bad_input(tiny_data, tmp_path, capsys):
    cases = [
        (["chorales", "generate", str(tmp_path / "none"), "--midi", "x.mid"], "no such model"),
        (["chorales", "train", "--model", "gru", "--out", str(tmp_path / "m")],
         "not a chorale model"),
        (["chorales", "generate", str(tiny_data), "--midi", str(tmp_path / "x.mid")],
         "is not a saved seqnets model"),
        (["chorales", "evaluate", str(tmp_path / "none")], "no such model folder"),
        (["chorales", "train", "--data", str(tmp_path / "nodata"), "--out",
          str(tmp_path / "m")], "not a folder of chorale CSV files"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_demo_writes_a_chorale_in_under_two_minutes(tmp_path, capsys):
    import time

    start = time.perf_counter()
    assert main(["chorales", "demo", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    assert time.perf_counter() - start < 120
    for name in ("chorale.mid", "chorale.wav", "chorale.png", "chorale.csv"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    assert read_chorale(tmp_path / "demo" / "chorale.csv").shape == (64, 4)
