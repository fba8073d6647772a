"""Data-parallel ``fit`` under torchrun (issue 16, item 1): two gloo processes on CPU, each
with its half of every batch, end on the weights one process reaches with whole batches."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file

import seqnets as sn
from seqnets.layers import GRU, BatchNormalization, Conv1D, Dense, Flatten, SimpleRNN
from seqnets.training.distributed import Group

MODELS = '''
def models():
    return {
        "recurrent": sn.Sequential([SimpleRNN(8, return_sequences=True), GRU(6), Dense(3)],
                                   input_size=2, seed=0),
        "convolutional": sn.Sequential([Conv1D(6, 3, strides=2, activation="relu"),
                                        Conv1D(4, 2, padding="causal"), Flatten(), Dense(3)],
                                       input_shape=(10, 2), seed=0),
        # batch statistics of the whole batch on every rank (synchronised batch norm)
        "batch_norm": sn.Sequential([Conv1D(6, 3, activation="relu"),
                                     BatchNormalization(momentum=0.5), GRU(5),
                                     BatchNormalization(), Dense(3)],
                                    input_shape=(10, 2), seed=0),
    }


def data():
    g = np.random.default_rng(0)
    x = g.normal(size=(149, 10, 2)).astype(np.float32)  # 5 steps, the last one 11 + 10 rows
    y = np.stack([x[:, -1, 0], x[:, :, 1].mean(1), x[:, 0, 0] * x[:, 1, 1]], 1)
    return x, y.astype(np.float32)
'''

SCRIPT = '''
import json, sys
import numpy as np
import torch.distributed as dist
from safetensors.torch import save_file
import seqnets as sn
from seqnets.layers import GRU, BatchNormalization, Conv1D, Dense, Flatten, SimpleRNN
''' + MODELS + '''
out = sys.argv[1]
for name, model in models().items():
    history = sn.fit(model, data(), data(), epochs=1, batch_size=32, seed=3, quiet=True,
                     metrics=["mae"])
    rank = dist.get_rank()
    with open(f"{out}/{name}-{rank}.json", "w") as f:
        json.dump({k: v for k, v in history.history.items() if k != "seconds"}, f)
    if rank == 0:
        save_file(model.state_dict(), f"{out}/{name}.safetensors")
'''

namespace: dict = {"sn": sn, "np": np, "GRU": GRU, "Conv1D": Conv1D, "Dense": Dense,
                   "Flatten": Flatten, "SimpleRNN": SimpleRNN,
                   "BatchNormalization": BatchNormalization}
exec(MODELS, namespace)  # the same models and data in this process


def test_two_gloo_ranks_with_half_batches_match_one_process(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", str(script), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, model in namespace["models"]().items():
        history = sn.fit(model, namespace["data"](), namespace["data"](), epochs=1,
                         batch_size=32, seed=3, quiet=True, metrics=["mae"])
        ranks = load_file(tmp_path / f"{name}.safetensors")
        for key, value in model.state_dict().items():
            assert torch.allclose(ranks[key], value, rtol=0, atol=1e-6), (name, key)
        logs = [json.loads((tmp_path / f"{name}-{r}.json").read_text()) for r in (0, 1)]
        assert logs[0] == logs[1]  # every rank reports the same numbers
        for key, values in logs[0].items():
            assert values == pytest.approx(history[key], rel=1e-5), (name, key)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # two launches of a few seconds each
def test_two_nodes_by_rendezvous_match_one_node_with_two_ranks(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc-per-node", "2", str(script), str(tmp_path / "one")],
                   check=True, capture_output=True, timeout=300)
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
                               "--nproc-per-node", "1", "--node-rank", str(rank),
                               "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint,
                               "--rdzv-id", "seqnets-test", str(script),
                               str(tmp_path / "two")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for rank in (0, 1)]
    for node in nodes:
        _, err = node.communicate(timeout=300)
        assert node.returncode == 0, err[-3000:]
    for name in namespace["models"]():
        one = load_file(tmp_path / "one" / f"{name}.safetensors")
        two = load_file(tmp_path / "two" / f"{name}.safetensors")
        assert all(torch.equal(one[k], two[k]) for k in one), name


@given(rows=st.integers(0, 200), world=st.integers(1, 9))
def test_the_ranks_parts_cover_a_batch_once_in_order(rows, world):
    parts = [Group(rank=r, world=world, local_world=world).part(rows) for r in range(world)]
    assert [p.start for p in parts] == [0, *[p.stop for p in parts[:-1]]]
    assert parts[-1].stop == rows
    sizes = [p.stop - p.start for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_a_single_process_is_not_distributed(monkeypatch):
    from seqnets.training.distributed import from_environment

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert from_environment(torch.device("cpu")) is None
    monkeypatch.setenv("WORLD_SIZE", "2")  # no MASTER_ADDR: not launched by torchrun
    assert from_environment(torch.device("cpu")) is None


# a torchrun script's start: its rank 1 dies by SIGKILL at step 13 of the first attempt
KILLER = '''
import os, signal, sys
import numpy as np
from safetensors.torch import save_file
import torch.distributed as dist
import seqnets as sn
from seqnets.layers import GRU, Dense
from seqnets.training import Callback

class KillRankOne(Callback):  # the first attempt only: rank 1 dies in epoch 3 (of 5 steps)
    first = True

    def on_batch_end(self, trainer, loss):
        attempt = os.environ["TORCHELASTIC_RESTART_COUNT"]
        if self.first and dist.get_rank() == 0:
            print(f"attempt {attempt} starts at step {trainer.step}", flush=True)
        self.first = False
        if (sys.argv[2] == "kill" and attempt == "0" and dist.get_rank() == 1
                and trainer.step == 13):
            os.kill(os.getpid(), signal.SIGKILL)

'''

FAULTY = KILLER + '''
g = np.random.default_rng(0)
x = g.normal(size=(160, 12, 2)).astype(np.float32)
y = x[:, -3:, 0].copy()
model = sn.Sequential([GRU(8), Dense(3)], input_size=2, seed=0)
sn.fit(model, (x, y), epochs=4, batch_size=32, seed=3, quiet=True, callbacks=[KillRankOne()],
       checkpoint=sys.argv[1] + "/ckpt")
if dist.get_rank() == 0:
    save_file(model.state_dict(), sys.argv[1] + "/weights.safetensors")
'''


def killed_and_straight(tmp_path, script_text: str) -> tuple[dict, dict]:
    """The weights a KILLER script saves when its rank 1 is killed in the first attempt of
    ``torchrun --max-restarts 1`` (checked to resume from epoch 2's checkpoint, at step 11),
    and when it runs straight."""
    script = tmp_path / "train.py"
    script.write_text(script_text)
    for name in ("kill", "straight"):
        (tmp_path / name).mkdir()
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                               "--nproc-per-node", "2", "--max-restarts", "1", str(script),
                               str(tmp_path / name), name],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        if name == "kill":  # the second attempt resumed from epoch 2's checkpoint
            assert "attempt 0 starts at step 1" in done.stdout
            assert "attempt 1 starts at step 11" in done.stdout, done.stdout
    return (load_file(tmp_path / "kill" / "weights.safetensors"),
            load_file(tmp_path / "straight" / "weights.safetensors"))


@pytest.mark.slow  # three group starts of a few seconds each
def test_a_rank_killed_mid_epoch_restarts_and_resumes_to_the_same_weights(tmp_path):
    killed, straight = killed_and_straight(tmp_path, FAULTY)
    assert all(torch.equal(killed[k], straight[k]) for k in killed)


@pytest.mark.slow  # a torchrun launch of the CLI: ten seconds or so
def test_seqnets_train_under_torchrun_saves_once_and_reports_once(tmp_path):
    import pandas as pd

    t = np.arange(200)
    pd.DataFrame({"ds": pd.date_range("2001-01-01", periods=len(t), freq="D"),
                  "y": 10 + np.sin(2 * np.pi * t / 7)}).to_csv(tmp_path / "d.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc-per-node", "2", "-m", "seqnets.cli", "train", "--data",
                           str(tmp_path / "d.csv"), "--window", "14", "--horizon", "3",
                           "--epochs", "3", "--units", "8", "--model", "gru", "--quiet",
                           "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Saved: ") == 1  # rank 0 reports, rank 1 is silent
    assert not (tmp_path / "m.checkpoint").exists()
    forecast = sn.Forecaster.load(tmp_path / "m").predict()
    assert len(forecast) == 3 and np.isfinite(forecast["mean"]).all()


STOPPED = '''
import sys
import numpy as np
import torch.distributed as dist
import seqnets as sn
from seqnets.layers import GRU, Dense
from seqnets.training import Callback

class Ready(Callback):
    def on_batch_end(self, trainer, loss):
        if trainer.step == 3 and dist.get_rank() == 0:
            print("training", flush=True)

g = np.random.default_rng(0)
x = g.normal(size=(4096, 32, 2)).astype(np.float32)
model = sn.Sequential([GRU(16), Dense(2)], input_size=2, seed=0)
sn.fit(model, (x, x[:, -2:, 0].copy()), epochs=3, batch_size=16, seed=1, quiet=True,
       callbacks=[Ready()], checkpoint=sys.argv[1])
'''


@pytest.mark.slow  # a torchrun launch stopped by SIGTERM
def test_sigterm_to_torchrun_stops_every_rank_at_the_same_step(tmp_path):
    import signal

    script = tmp_path / "train.py"
    script.write_text(STOPPED)
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc-per-node", "2", str(script), str(tmp_path / "ck")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "training\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    stops = [line.split("TrainingInterrupted: ")[1] for line in err.splitlines()
             if "TrainingInterrupted: " in line]
    assert len(stops) == 2 and stops[0] == stops[1], err[-3000:]  # the same step on both
    state = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())["state"]
    assert f"after step {state['position']['batch']} of 256" in stops[0]
