"""The commands that train, stopped by SIGTERM and continued with ``--resume``: the saved
model equals the one an uninterrupted run saves (issue 15, item 3)."""

from __future__ import annotations

import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

import seqnets as sn
from seqnets import Forecaster
from seqnets.cli import main

SEQNETS = [sys.executable, "-m", "seqnets.cli"]
# every run in a process of its own: the suite runs torch on one thread, a command on its
# own thread count, and bit-for-bit equality holds between runs on the same threads


def seqnets(argv: list[str]) -> int:
    return subprocess.run([*SEQNETS, *argv], capture_output=True, timeout=300).returncode


def stop_at_epoch(argv: list[str], epoch: int, fit: int = 1) -> subprocess.CompletedProcess:
    """Run ``seqnets argv`` and send it SIGTERM once its ``fit``-th training run reports
    ``epoch`` epochs done."""
    proc = subprocess.Popen([*SEQNETS, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen, count = [], 0
    for line in proc.stderr:
        seen.append(line)
        count += line.startswith(f"Epoch {epoch}/")
        if count == fit:
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(argv, proc.returncode, out, "".join(seen) + err)


def same_tensors(a, b) -> bool:
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def forecast_data(tmp_path) -> str:
    t = np.arange(240)
    y = 10 + np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(0, 0.2, len(t))
    path = tmp_path / "data.csv"
    pd.DataFrame({"ds": pd.date_range("2001-01-01", periods=len(t), freq="D"),
                  "y": y}).to_csv(path, index=False)
    return str(path)


def test_forecast_train_stopped_then_resumed_saves_the_uninterrupted_model(tmp_path):
    args = ["train", "--data", forecast_data(tmp_path), "--window", "14", "--horizon", "3",
            "--epochs", "12", "--units", "8", "--model", "gru", "--ensemble", "2",
            "--mc-samples", "10", "--seed", "3"]
    stopped = stop_at_epoch([*args, "--out", str(tmp_path / "a")], epoch=3)
    ckpt = tmp_path / "a.checkpoint"
    assert stopped.returncode == 143, stopped.stderr
    assert f"run the same command with --resume {ckpt} to continue" in stopped.stderr
    assert "Traceback" not in stopped.stderr and not (tmp_path / "a").exists()
    assert seqnets([*args, "--quiet", "--out", str(tmp_path / "a"), "--resume",
                    str(ckpt)]) == 0
    assert not ckpt.exists()  # removed once the model is saved
    assert seqnets([*args, "--quiet", "--out", str(tmp_path / "b")]) == 0
    assert same_tensors(tmp_path / "a", tmp_path / "b")
    a, b = Forecaster.load(tmp_path / "a"), Forecaster.load(tmp_path / "b")
    pd.testing.assert_frame_equal(a.predict(), b.predict())


@pytest.mark.slow  # three processes of a few seconds each; the forecast case runs always
@pytest.mark.parametrize("ensemble", [1, 2])  # 2: stopped in the second member's training
def test_classify_train_stopped_then_resumed_saves_the_uninterrupted_model(ensemble,
                                                                           tmp_path):
    sn.data.write_synthetic_sketches(tmp_path, n_per_class=8, classes=["circle", "zigzag"],
                                     seed=0)
    args = ["classify", "train", "--data", str(tmp_path / "npz"), "--units", "8",
            "--epochs", "8", "--batch-size", "4", "--seed", "1", "--ensemble", str(ensemble)]
    stopped = stop_at_epoch([*args, "--out", str(tmp_path / "a")], epoch=2, fit=ensemble)
    assert stopped.returncode == 143, stopped.stderr
    ckpt = tmp_path / "a.checkpoint"
    assert seqnets([*args, "--quiet", "--out", str(tmp_path / "a"), "--resume",
                    str(ckpt)]) == 0
    assert seqnets([*args, "--quiet", "--out", str(tmp_path / "b")]) == 0
    assert same_tensors(tmp_path / "a", tmp_path / "b")


def test_a_left_over_checkpoint_is_named_and_a_missing_one_refused(tmp_path, capsys):
    data = forecast_data(tmp_path)
    args = ["train", "--data", data, "--window", "8", "--horizon", "2", "--epochs", "1",
            "--units", "4", "--quiet", "--out", str(tmp_path / "m")]
    (tmp_path / "m.checkpoint").mkdir()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"holds the checkpoints of an interrupted run: continue it with --resume " \
           f"{tmp_path / 'm.checkpoint'}, or pass --force to start over" in err
    assert main([*args, "--resume", str(tmp_path / "nope")]) == 2
    assert "no interrupted run to resume" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert not (tmp_path / "m.checkpoint").exists()


@pytest.mark.parametrize("command", [["train"], ["classify", "train"],
                                     ["chorales", "train"]])
def test_every_training_command_takes_resume(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    assert "--resume DIR" in capsys.readouterr().out
