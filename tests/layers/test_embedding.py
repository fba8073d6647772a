"""Embedding (Keras's) and PhaseEmbedding: lookups against the weight table by hand."""

from __future__ import annotations

import pytest
import torch

import seqnets as sn
from seqnets.errors import DataError, ShapeError
from seqnets.layers import Embedding, PhaseEmbedding, deserialize, serialize


def test_embedding_looks_up_rows_and_uses_keras_init():
    layer = Embedding(47, 5, input_size=1)
    w = layer.weight.detach()
    assert w.shape == (47, 5)
    assert float(w.abs().max()) <= 0.05 and float(w.std()) > 0.02  # uniform(-0.05, 0.05)
    ids = torch.tensor([[0, 3, 46], [5, 5, 1]])
    out = layer(ids)
    assert out.shape == (2, 3, 5)
    for b in range(2):
        for t in range(3):
            assert torch.equal(out[b, t], w[ids[b, t]])
    # float ids (as the training loop passes them) and [B, T, 1] give the same
    assert torch.equal(layer(ids.float()), out)
    assert torch.equal(layer(ids[..., None].float()), out)


def test_embedding_refuses_bad_ids():
    layer = Embedding(10, 3, input_size=1)
    with pytest.raises(DataError, match=r"0\.\.9, got 1\.\.10"):
        layer(torch.tensor([[1, 10]]))
    with pytest.raises(DataError, match="whole numbers"):
        layer(torch.tensor([[1.5, 2.0]]))
    with pytest.raises(ShapeError, match="token ids"):
        layer(torch.zeros(2, 3, 4))


def test_embedding_in_sequential_is_seeded_and_serialises():
    a = sn.Sequential([Embedding(12, 4)], input_size=1, seed=3)
    b = sn.Sequential([Embedding(12, 4)], input_size=1, seed=3)
    assert torch.equal(a[0].weight, b[0].weight)
    again = deserialize(serialize(a[0]))
    assert (again.input_dim, again.output_dim) == (12, 4)


def test_phase_embedding_appends_the_vector_of_each_steps_phase():
    layer = PhaseEmbedding(4, 2)
    layer.build((None, 3))
    x = torch.randn(2, 9, 3)
    out = layer(x)
    assert out.shape == (2, 9, 5)
    assert torch.equal(out[..., :3], x)
    for t in range(9):
        assert torch.equal(out[1, t, 3:], layer.weight[t % 4])
    shifted = layer(x, offset=1)
    assert torch.equal(shifted[0, 0, 3:], layer.weight[1])
