"""Checkpoints of ``fit_sharded`` (issue 16, item 4): an interrupted sharded run resumes to
the weights of a run that was never stopped, alone and under torchrun after a rank is
killed; other data or other settings are refused."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch

import seqnets as sn
from seqnets.data.parquet_shards import read_parquet_shard
from seqnets.errors import ConfigError, TrainingInterrupted
from seqnets.layers import Dense, Dropout, Flatten
from seqnets.training import runs
from seqnets.training.sharded import _order, fit_sharded
from test_distributed import KILLER, killed_and_straight
from test_parquet_shards import write_dataset
from test_resume import SignalAt


def model():
    return sn.Sequential([Flatten(), Dense(12, activation="relu"), Dropout(0.3), Dense(1)],
                         input_shape=(5, 1), seed=2)


def pairs(n=70, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 5, 1)).astype(np.float32)
    return x, (x[:, -1] * 2 - x[:, 0]).astype(np.float32)


SETTINGS = {"epochs": 3, "batch_size": 16, "metrics": ["mae"], "quiet": True}


def weights_equal(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                 b.state_dict().values(), strict=True))


@pytest.mark.parametrize("seed", [5, None])
@pytest.mark.parametrize("step", [7, 10])  # mid-epoch (of 5 steps), and an epoch's end
def test_an_interrupted_run_resumes_to_the_uninterrupted_weights(seed, step, tmp_path):
    torch.manual_seed(0)  # an unseeded run draws its order seed from the global RNG
    straight = model()
    history = fit_sharded(straight, pairs(), pairs(20, 1), seed=seed, **SETTINGS)
    torch.manual_seed(0)
    stopped = model()
    with pytest.raises(TrainingInterrupted) as err:
        fit_sharded(stopped, pairs(), pairs(20, 1), seed=seed, checkpoint=tmp_path / "c",
                    callbacks=[SignalAt(step)], **SETTINGS)
    assert "resume=" in str(err.value)
    torch.manual_seed(123)  # the resumed run must not depend on the global RNG
    resumed = model()
    again = fit_sharded(resumed, pairs(), pairs(20, 1), seed=seed, resume=tmp_path / "c",
                        callbacks=[SignalAt(-1)], **SETTINGS)
    assert weights_equal(resumed, straight)
    keys = [k for k in history.history if k != "seconds"]
    assert {k: again.history[k] for k in keys} == {k: history.history[k] for k in keys}


def test_a_window_set_resumes_too(tmp_path):
    write_dataset(tmp_path / "d", series=12)
    ws = read_parquet_shard(tmp_path / "d", sort=True).window_set(5)
    straight, stopped, resumed = model(), model(), model()
    fit_sharded(straight, ws, seed=1, **SETTINGS)
    with pytest.raises(TrainingInterrupted):
        fit_sharded(stopped, ws, seed=1, checkpoint=tmp_path / "c",
                    callbacks=[SignalAt(4, signal.SIGINT)], **SETTINGS)
    fit_sharded(resumed, ws, seed=1, resume=tmp_path / "c", callbacks=[SignalAt(-1)],
                **SETTINGS)
    assert weights_equal(resumed, straight)


def test_a_checkpoint_every_epoch_lets_more_epochs_follow(tmp_path):
    two, five = model(), model()
    fit_sharded(two, pairs(), seed=3, checkpoint=tmp_path / "c", **{**SETTINGS, "epochs": 2})
    fit_sharded(two, pairs(), seed=3, resume=tmp_path / "c", **{**SETTINGS, "epochs": 5})
    fit_sharded(five, pairs(), seed=3, **{**SETTINGS, "epochs": 5})
    assert weights_equal(two, five)


def test_resuming_with_other_data_or_settings_is_refused(tmp_path):
    fit_sharded(model(), pairs(), seed=3, checkpoint=tmp_path / "c", **SETTINGS)
    with pytest.raises(ConfigError, match="other training data"):
        fit_sharded(model(), pairs(seed=9), seed=3, resume=tmp_path / "c", **SETTINGS)
    with pytest.raises(ConfigError, match="other training data"):
        fit_sharded(model(), pairs(71), seed=3, resume=tmp_path / "c", **SETTINGS)
    with pytest.raises(ConfigError, match="batch_size"):
        fit_sharded(model(), pairs(), seed=3, resume=tmp_path / "c",
                    **{**SETTINGS, "batch_size": 8})


def test_inside_a_checkpointed_run_each_call_gets_its_folder(tmp_path):
    with runs.checkpointed(tmp_path / "run"):
        fit_sharded(model(), pairs(), seed=3, **SETTINGS)
        fit_sharded(model(), pairs(), seed=4, **SETTINGS)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["fit-000", "fit-001"]
    done = model()
    with runs.checkpointed(tmp_path / "run", resume=True):  # finished: the trained weights
        fit_sharded(done, pairs(), seed=3, **SETTINGS)
    trained = model()
    fit_sharded(trained, pairs(), seed=3, **SETTINGS)
    assert weights_equal(done, trained)


def test_each_rank_and_epoch_draw_their_own_order():
    orders = {(r, e): _order(50, 7, r, e).tolist() for r in (0, 1) for e in (0, 1)}
    assert len({tuple(o) for o in orders.values()}) == 4
    assert all(sorted(o) == list(range(50)) for o in orders.values())
    assert _order(50, 7, 1, 1).tolist() == orders[(1, 1)]


FAULTY = KILLER + '''
from seqnets.training.sharded import fit_sharded

rank = int(os.environ["RANK"])
g = np.random.default_rng(rank)  # each rank its own rows, and not as many
x = g.normal(size=(100 if rank == 0 else 60, 12, 2)).astype(np.float32)
y = x[:, -3:, 0].copy()
model = sn.Sequential([GRU(8), Dense(3)], input_size=2, seed=0)
fit_sharded(model, (x, y), epochs=4, batch_size=32, seed=3, quiet=True,
            callbacks=[KillRankOne()], checkpoint=sys.argv[1] + "/ckpt")
if dist.get_rank() == 0:
    save_file(model.state_dict(), sys.argv[1] + "/weights.safetensors")
'''


@pytest.mark.slow  # three group starts of a few seconds each
def test_a_rank_killed_mid_epoch_restarts_and_resumes_to_the_same_weights(tmp_path):
    killed, straight = killed_and_straight(tmp_path, FAULTY)
    assert all(torch.equal(killed[k], straight[k]) for k in killed)
