"""fit / evaluate / predict on padded batches with lengths: ``(X, Y, lengths)``.

References by hand: one SGD step on a padded batch (garbage in the padding) moves the weights
exactly as the mean of each sequence's loss computed alone; evaluate and predict equal each
sequence alone; bucketing is a permutation whose batches hold similar lengths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import seqnets as sn
from seqnets.errors import DataError, ShapeError
from seqnets.layers import GRU, BatchNormalization, Conv1D, Dense
from seqnets.training import pad_sequences
from seqnets.training.batches import bucket_order

LENGTHS = (6, 3, 9, 4, 7)


def data(garbage=25.0):
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randn(n, 2, generator=g) for n in LENGTHS]
    x, lengths = pad_sequences(seqs, maxlen=12, value=garbage)
    y = torch.tensor([0, 1, 2, 1, 0])
    return seqs, x, y, lengths


def model(seed=1):
    return sn.Sequential([Conv1D(4, 2, padding="causal", activation="relu"), GRU(5),
                          Dense(3)], input_size=2, seed=seed)


def test_one_step_on_a_padded_batch_equals_the_mean_of_each_sequence_alone():
    seqs, x, y, lengths = data()
    trained = model()
    sn.fit(trained, (x, y, lengths), epochs=1, batch_size=len(x), optimizer="sgd", lr=0.1,
           loss="crossentropy", shuffle=False, quiet=True)
    ref = model()
    loss = sum(F.cross_entropy(ref(s[None]), y[i:i + 1]) for i, s in enumerate(seqs)) / len(seqs)
    loss.backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.1 * p.grad
    for a, b in zip(trained.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_evaluate_and_predict_equal_each_sequence_alone():
    seqs, x, y, lengths = data()
    m = model().eval()
    with torch.no_grad():
        alone = torch.cat([m(s[None]) for s in seqs])
    torch.testing.assert_close(sn.predict(m, x, batch_size=2, lengths=lengths), alone,
                               atol=1e-6, rtol=0)
    scores = sn.evaluate(m, (x, y, lengths), loss="crossentropy", metrics=["accuracy"],
                         batch_size=2)
    assert scores["loss"] == pytest.approx(float(F.cross_entropy(alone, y)), abs=1e-6)
    assert scores["accuracy"] == pytest.approx(float((alone.argmax(1) == y).float().mean()))
    out = sn.predict(m, x.numpy(), lengths=lengths.numpy())  # NumPy in, NumPy out
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, alone.numpy(), atol=1e-6)


def test_fit_with_validation_and_bucketing_is_reproducible():
    _, x, y, lengths = data()
    runs = []
    for _ in range(2):
        m = sn.Sequential([Conv1D(4, 3, padding="same"), BatchNormalization(), GRU(5),
                           Dense(3)], input_size=2, seed=3)
        hist = sn.fit(m, (x, y, lengths), valid=(x, y, lengths), epochs=3, batch_size=2,
                      bucket=True, loss="crossentropy", metrics=["accuracy"], seed=5, quiet=True)
        runs.append((hist.history["val_loss"], [p.detach().clone() for p in m.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        assert torch.equal(a, b)


def test_bucket_order_is_a_permutation_of_similar_lengths_per_batch():
    lengths = torch.tensor(np.random.default_rng(0).integers(1, 100, 200))
    order = bucket_order(lengths, 8, torch.Generator().manual_seed(0), pool=25)  # one pool
    assert sorted(order.tolist()) == list(range(200))
    spans = [int(lengths[b].max() - lengths[b].min()) for b in torch.split(order, 8)]
    shuffled = torch.randperm(200, generator=torch.Generator().manual_seed(1))
    random_spans = [int(lengths[b].max() - lengths[b].min()) for b in torch.split(shuffled, 8)]
    assert np.mean(spans) < np.mean(random_spans) / 5
    again = bucket_order(lengths, 8, torch.Generator().manual_seed(0), pool=25)
    assert torch.equal(order, again)


@pytest.mark.parametrize("lengths, error, words", [
    (torch.tensor([1.0, 2, 3, 4, 5]), DataError, "integers"),
    (torch.tensor([1, 2, 3]), ShapeError, "shape [5]"),
    (torch.tensor([[1, 2, 3, 4, 5]]), ShapeError, "shape [5]"),
    (torch.tensor([1, 2, 0, 4, 5]), DataError, "sequence 2 has length 0"),
    (torch.tensor([1, 2, 3, 13, 5]), DataError, "sequence 3 has length 13"),
])
def test_bad_lengths_are_refused(lengths, error, words):
    _, x, y, _ = data()
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        sn.fit(model(), (x, y, lengths), epochs=1, loss="crossentropy", quiet=True)
    with pytest.raises(error):
        sn.predict(model(), x, lengths=lengths)


def test_lengths_need_sequences_and_a_triple():
    with pytest.raises(ShapeError, match="lengths need sequences"):
        sn.evaluate(sn.Sequential([Dense(2)], input_size=3),
                    (torch.zeros(4, 3), torch.zeros(4, 2), torch.ones(4, dtype=torch.long)))
    _, x, y, lengths = data()
    with pytest.raises(DataError, match=r"\(X, Y\) or \(X, Y, lengths\)"):
        sn.fit(model(), (x, y, lengths, lengths), quiet=True)
