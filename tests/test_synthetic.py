"""The chapter's synthetic series and its three tasks (spec §1), against a NumPy copy of
the spec's formula written here, not taken from the code."""

from __future__ import annotations

import numpy as np
import pytest

from seqnets.data import chapter_splits, generate_time_series, seq2seq_targets
from seqnets.errors import ConfigError


def reference_series(batch: int, n_steps: int, seed: int) -> np.ndarray:
    """Spec §1, literally: one [4, batch, 1] uniform draw, then the noise [batch, n_steps]."""
    np.random.seed(seed)  # noqa: NPY002 - the book's legacy global generator, on purpose
    freq1, freq2, off1, off2 = np.random.rand(4, batch, 1)  # noqa: NPY002
    t = np.linspace(0, 1, n_steps)
    x = (0.5 * np.sin((t - off1) * (10 * freq1 + 10))
         + 0.2 * np.sin((t - off2) * (20 * freq2 + 20))
         + 0.1 * (np.random.rand(batch, n_steps) - 0.5))  # noqa: NPY002
    return x[..., None].astype(np.float32)


@pytest.mark.parametrize(("batch", "n_steps", "seed"), [(1, 2, 0), (7, 51, 42), (32, 60, 123)])
def test_generate_time_series_is_the_spec_formula_exactly(batch, n_steps, seed):
    state = np.random.get_state()  # noqa: NPY002 - keep the global generator as we found it
    try:
        expected = reference_series(batch, n_steps, seed)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    got = generate_time_series(batch, n_steps, seed)
    assert got.dtype == np.float32
    assert got.shape == (batch, n_steps, 1)
    assert np.array_equal(got, expected)


def test_generate_time_series_does_not_touch_the_global_numpy_generator():
    state = np.random.get_state()  # noqa: NPY002
    generate_time_series(5, 10, seed=3)
    after = np.random.get_state()  # noqa: NPY002
    assert np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_generate_time_series_seeds():
    a = generate_time_series(4, 20, seed=1)
    assert np.array_equal(a, generate_time_series(4, 20, seed=1))
    assert not np.array_equal(a, generate_time_series(4, 20, seed=2))
    # a RandomState continues its stream, as np.random does in the book
    rs = np.random.RandomState(5)
    first, second = generate_time_series(3, 10, rs), generate_time_series(3, 10, rs)
    assert not np.array_equal(first, second)
    rs = np.random.RandomState(5)
    assert np.array_equal(first, generate_time_series(3, 10, rs))
    # the values are bounded by the formula: |x| <= 0.5 + 0.2 + 0.05
    assert np.abs(generate_time_series(200, 50, seed=0)).max() <= 0.75


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0, "n_steps": 5}, "batch_size"),
        ({"batch_size": -3, "n_steps": 5}, "batch_size"),
        ({"batch_size": 2.5, "n_steps": 5}, "batch_size"),
        ({"batch_size": True, "n_steps": 5}, "batch_size"),
        ({"batch_size": 2, "n_steps": 1}, "n_steps"),
        ({"batch_size": 2, "n_steps": "50"}, "n_steps"),
        ({"batch_size": 2, "n_steps": 5, "seed": "abc"}, "seed"),
        ({"batch_size": 2, "n_steps": 5, "seed": 1.5}, "seed"),
        ({"batch_size": 2, "n_steps": 5, "seed": -1}, "seed"),
    ],
)
def test_generate_time_series_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        generate_time_series(**kwargs)


def test_seq2seq_targets_definition():
    series = generate_time_series(3, 60, seed=0)
    y = seq2seq_targets(series)
    assert y.shape == (3, 50, 10) and y.dtype == np.float32
    for t in range(50):
        for k in range(1, 11):
            assert np.array_equal(y[:, t, k - 1], series[:, t + k, 0])
    with pytest.raises(ConfigError, match="too short"):
        seq2seq_targets(series[:, :59])


@pytest.mark.parametrize("seed", [0, 42])
def test_chapter_splits_tasks(seed):
    n = 100
    nv = chapter_splits("next_value", seed=seed, n_series=n)
    series51 = generate_time_series(n, 51, seed)
    x_all = np.concatenate([nv.train[0], nv.valid[0], nv.test[0]])
    y_all = np.concatenate([nv.train[1], nv.valid[1], nv.test[1]])
    assert nv.task == "next_value"
    assert nv.train[0].shape == (70, 50, 1) and nv.train[1].shape == (70, 1)
    assert nv.valid[0].shape == (20, 50, 1) and nv.valid[1].shape == (20, 1)
    assert nv.test[0].shape == (10, 50, 1) and nv.test[1].shape == (10, 1)
    assert np.array_equal(x_all, series51[:, :50])
    assert np.array_equal(y_all, series51[:, 50])

    n10 = chapter_splits("next_10", seed=seed, n_series=n)
    series60 = generate_time_series(n, 60, seed)
    x_all = np.concatenate([n10.train[0], n10.valid[0], n10.test[0]])
    y_all = np.concatenate([n10.train[1], n10.valid[1], n10.test[1]])
    assert n10.train[1].shape == (70, 10) and n10.test[1].shape == (10, 10)
    assert np.array_equal(x_all, series60[:, :50])
    assert np.array_equal(y_all, series60[:, 50:60, 0])

    s2s = chapter_splits("seq2seq", seed=seed, n_series=n)
    x_all = np.concatenate([s2s.train[0], s2s.valid[0], s2s.test[0]])
    y_all = np.concatenate([s2s.train[1], s2s.valid[1], s2s.test[1]])
    assert s2s.train[1].shape == (70, 50, 10) and s2s.valid[1].shape == (20, 50, 10)
    assert np.array_equal(x_all, series60[:, :50])
    for t in (0, 17, 49):
        for k in (1, 5, 10):
            assert np.array_equal(y_all[:, t, k - 1], series60[:, t + k, 0])
    # the seq2seq targets at the last step are the next_10 targets
    assert np.array_equal(y_all[:, -1], np.concatenate([n10.train[1], n10.valid[1],
                                                        n10.test[1]]))
    for split in (nv, n10, s2s):
        for x, y in (split.train, split.valid, split.test):
            assert x.dtype == np.float32 and y.dtype == np.float32


def test_chapter_splits_default_sizes():
    data = chapter_splits("next_value")  # 10,000 series, seed 42
    assert len(data.train[0]) == 7000 and len(data.valid[0]) == 2000
    assert len(data.test[0]) == 1000
    assert len(data.train[1]) == 7000 and len(data.test[1]) == 1000
    # the book's split: train = first 7000 series, test = last 1000
    series = generate_time_series(10_000, 51, 42)
    assert np.array_equal(data.train[0], series[:7000, :50])
    assert np.array_equal(data.test[1], series[9000:, 50])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "next_5"}, "task"),
        ({"task": "seq2seq", "n_series": 5}, "n_series"),
        ({"task": "seq2seq", "n_series": "100"}, "n_series"),
        ({"task": "seq2seq", "n_series": 50.5}, "n_series"),
        ({"task": "seq2seq", "n_series": 20, "seed": "x"}, "seed"),
    ],
)
def test_chapter_splits_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        chapter_splits(**kwargs)


def test_the_peer_benchmark_generates_the_same_series():
    # benchmarks/peers.py runs in the peers' own environment without seqnets, so it carries a
    # copy of the generator: it must stay equal to ours or the comparison is off
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "peers.py"
    spec = importlib.util.spec_from_file_location("peers_benchmark", path)
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    np.testing.assert_array_equal(peers.generate_time_series(64, 60, 42),
                                  generate_time_series(64, 60, seed=42))
