"""``seqnets classify``: train -> evaluate -> predict on each file format, and every
rejection (exit 2, one clear line on stderr, no traceback, nothing written)."""

import csv

import numpy as np
import pytest

import seqnets as sn
from seqnets.classify import Classifier
from seqnets.cli import main

TINY = ["--units", "8", "--epochs", "2", "--batch-size", "16", "--quiet"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sketches(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sketches")
    sn.data.write_synthetic_sketches(folder, n_per_class=6, classes=["circle", "square",
                                                                      "zigzag"], seed=0)
    return folder


@pytest.fixture(scope="module")
def trained(sketches, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "clf"
    assert main(["classify", "train", "--data", str(sketches / "npz"), "--out", str(out),
                 *TINY]) == 0
    return out


def test_train_evaluate_predict_on_npz_folders(trained, sketches, tmp_path, capsys):
    assert sorted(p.name for p in trained.iterdir()) == ["classifier.json", "config.json",
                                                          "model.safetensors"]
    png, js = tmp_path / "c.png", tmp_path / "r.json"
    assert main(["classify", "evaluate", str(trained), "--data", str(sketches / "npz"),
                 "--png", str(png), "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "macro F1" in text and "true \\ pred" in text
    assert png.read_bytes()[:8] == PNG and js.is_file()
    out = tmp_path / "p.csv"
    assert main(["classify", "predict", str(trained), "--data", str(sketches / "npz"),
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3 and set(rows[0]) == {"source", "label", "p_circle", "p_square",
                                               "p_zigzag"}
    clf = Classifier.load(trained)
    test = sn.data.read_sketch_npz(sketches / "npz" / "circle.npz")["test"]
    assert rows[0]["label"] == clf.predict([test[0].astype(np.float32)])[0]
    assert float(rows[0]["p_circle"]) == pytest.approx(
        float(clf.predict_proba([test[0]])[0, 0]), abs=1e-6)


def test_train_an_ensemble(sketches, tmp_path, capsys):
    out = tmp_path / "ens"
    assert main(["classify", "train", "--data", str(sketches / "npz"), "--out", str(out),
                 "--ensemble", "2", *TINY]) == 0
    assert "(first of 2 models)" in capsys.readouterr().out
    clf = Classifier.load(out)
    assert clf.ensemble == 2 and len(clf.model_.members) == 2 and len(clf.best_epochs_) == 2
    assert not (tmp_path / "ens.checkpoint").exists()
    assert main(["classify", "train", "--data", str(sketches / "npz"), "--out",
                 str(tmp_path / "bad"), "--ensemble", "0", *TINY]) == 2
    assert "ensemble" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_train_on_ndjson_and_ts(sketches, tmp_path):
    out = tmp_path / "nd"
    assert main(["classify", "train", "--data", str(sketches / "ndjson"), "--out", str(out),
                 *TINY]) == 0
    assert Classifier.load(out).classes_.tolist() == ["circle", "square", "zigzag"]
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(int(n), 2)).astype(np.float32) for n in rng.integers(5, 9, 12)]
    sn.data.write_ts(tmp_path / "t.ts", series, ["a", "b"] * 6, problem="T")
    assert main(["classify", "train", "--data", str(tmp_path / "t.ts"), "--out",
                 str(tmp_path / "ts"), "--model", "dilated_conv", *TINY]) == 0
    assert main(["classify", "predict", str(tmp_path / "ts"), "--data", str(tmp_path / "t.ts"),
                 "--out", str(tmp_path / "p.csv")]) == 0


def _refused(args, capsys, words, tmp_path):
    before = sorted(tmp_path.rglob("*"))
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seqnets: error:") and words in err[0], err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


def test_bad_input_exits_2_with_one_line_and_writes_nothing(trained, sketches, tmp_path,
                                                            capsys):
    out = str(tmp_path / "o")
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.npz").write_bytes(b"")
    (tmp_path / "mixed" / "b.ndjson").write_text("")
    (tmp_path / "bad.ndjson").write_text('{"word": "cat"}\n')
    sn.data.write_ts(tmp_path / "short.ts", [np.zeros((6, 1), np.float32)] * 4, list("abab"))
    cases = [
        (["classify", "train", "--data", str(tmp_path / "none.npz"), "--out", out],
         "does not exist"),
        (["classify", "train", "--data", str(tmp_path / "a.txt"), "--out", out],
         "unknown format"),
        (["classify", "train", "--data", str(tmp_path / "mixed"), "--out", out],
         "both .npz and .ndjson"),
        (["classify", "train", "--data", str(tmp_path / "bad.ndjson"), "--out", out],
         "bad.ndjson"),
        (["classify", "train", "--data", str(sketches / "npz" / "circle.npz"), "--out", out,
          *TINY], "single class"),
        (["classify", "train", "--data", str(sketches / "npz"), "--out", str(tmp_path / "a.txt"),
          *TINY], "is a file"),
        (["classify", "train", "--data", str(tmp_path / "short.ts"), "--out", out,
          "--padding", "valid", *TINY], "fewer than the 21"),
        (["classify", "evaluate", str(tmp_path), "--data", str(sketches / "npz"), "--png",
          str(tmp_path / "c.png")], "no saved Classifier"),
        (["classify", "predict", str(trained), "--data", str(sketches / "npz"), "--out",
          str(tmp_path)], "is a folder"),
    ]
    for args, words in cases:
        _refused(args, capsys, words, tmp_path)


@pytest.mark.slow
def test_the_demo_needs_no_arguments_and_learns_the_sketches(tmp_path, capsys, monkeypatch):
    """About 25 s on one core (the bar: under 2 minutes)."""
    monkeypatch.chdir(tmp_path)
    assert main(["classify", "demo", "--quiet"]) == 0
    text = capsys.readouterr().out
    accuracy = float(text.split("accuracy ")[1].split(",")[0])
    assert accuracy >= 0.97
    assert (tmp_path / "classify_demo" / "confusion.png").read_bytes()[:8] == PNG
    assert Classifier.load(tmp_path / "classify_demo" / "model").classes_.size == 10
