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
from seqnets.layers import GRU, Conv1D, Dense, Flatten, SimpleRNN
from seqnets.training.distributed import Group

MODELS = '''
def models():
    return {
        "recurrent": sn.Sequential([SimpleRNN(8, return_sequences=True), GRU(6), Dense(3)],
                                   input_size=2, seed=0),
        "convolutional": sn.Sequential([Conv1D(6, 3, strides=2, activation="relu"),
                                        Conv1D(4, 2, padding="causal"), Flatten(), Dense(3)],
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
from seqnets.layers import GRU, Conv1D, Dense, Flatten, SimpleRNN
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
                   "Flatten": Flatten, "SimpleRNN": SimpleRNN}
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
