"""Composing: the incremental stepper equals the full model, greedy generation equals a
full recomputation note by note, sampling is seeded, notes stay in their voices' ranges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqnets as sn
from seqnets.data.chorales import load_chorales, to_classes
from seqnets.errors import ConfigError, DataError
from seqnets.layers import LSTM, Conv1D, Dense, Embedding, PhaseEmbedding, WaveNet
from seqnets.music.generate import allowed_classes, generate
from seqnets.music.stepper import Stepper

RANGES = np.array([[60, 81], [52, 74], [46, 69], [36, 66]])


@pytest.fixture(scope="module")
def seeds():
    data = load_chorales()
    return [data.test[2][:8], data.test[3][:8]]


def _randomise_batch_norm(model):
    g = torch.Generator().manual_seed(5)
    for m in model.modules():
        if isinstance(m, sn.layers.BatchNormalization):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model


def _small_models():
    yield "cnn_lstm", _randomise_batch_norm(sn.zoo.build("chorale_cnn_lstm", seed=1, units=16))
    yield "beat", _randomise_batch_norm(sn.zoo.build("chorale_beat_lstm", seed=1, units=16))
    yield "wavenet", sn.Sequential(
        [Embedding(47, 6), PhaseEmbedding(4, 2),
         WaveNet(blocks=1, layers_per_block=3, channels=6, outputs=47)], input_size=1, seed=2)
    yield "mixed", sn.Sequential(
        [Embedding(47, 4), Conv1D(8, 3, padding="causal", dilation_rate=3, activation="tanh"),
         sn.layers.GRU(8, return_sequences=True), Dense(47)], input_size=1, seed=3)


@pytest.mark.parametrize(("name", "model"), list(_small_models()))
def test_stepper_equals_the_full_model_at_every_position(name, model):
    model.eval()
    x = torch.randint(0, 47, (3, 37), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(x.float())
        stepper = Stepper(model, 3)
        steps = torch.stack([stepper.step(x[:, j]) for j in range(37)], dim=1)
    torch.testing.assert_close(steps, full, rtol=1e-5, atol=1e-5)


def _greedy_by_recomputation(model, seed_chords, chords, ranges):
    """The textbook's way: the whole sequence through the model for every note."""
    allowed = allowed_classes(ranges)
    seq = torch.from_numpy(to_classes(seed_chords).reshape(1, -1))
    with torch.no_grad():
        for j in range(4 * chords):
            logits = model(seq.float())[:, -1].masked_fill(~allowed[j % 4], float("-inf"))
            seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], dim=1)
    return seq[0].numpy()


@pytest.mark.parametrize(("name", "model"), list(_small_models())[:3])
def test_greedy_generation_equals_full_recomputation(name, model, seeds):
    model.eval()
    out = generate(model, seeds, chords=6, temperature=0, voice_ranges=RANGES)
    assert out.shape == (2, 14, 4)
    for b in range(2):
        assert np.array_equal(out[b, :8], seeds[b])
        expected = _greedy_by_recomputation(model, seeds[b], 6, RANGES)
        assert np.array_equal(to_classes(out[b]).reshape(-1), expected)


def test_sampling_is_seeded_and_keeps_to_the_voice_ranges(seeds):
    model = sn.zoo.build("chorale_cnn_lstm", seed=1, units=16)
    a = generate(model, seeds, chords=12, temperature=1.5, seed=7, voice_ranges=RANGES)
    b = generate(model, seeds, chords=12, temperature=1.5, seed=7, voice_ranges=RANGES)
    c = generate(model, seeds, chords=12, temperature=1.5, seed=8, voice_ranges=RANGES)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    new = a[:, 8:]
    for v, (lo, hi) in enumerate(RANGES):
        notes = new[..., v]
        assert np.all((notes == 0) | ((notes >= lo) & (notes <= hi)))
    # an untrained model at a high temperature uses many classes: the mask did the work
    assert len(np.unique(new)) > 10
    # top_k=1 is greedy whatever the temperature
    assert np.array_equal(generate(model, seeds, 5, temperature=2.0, top_k=1, seed=3,
                                   voice_ranges=RANGES),
                          generate(model, seeds, 5, temperature=0, voice_ranges=RANGES))


def test_a_batch_equals_each_chorale_alone(seeds):
    model = _randomise_batch_norm(sn.zoo.build("chorale_beat_lstm", seed=4, units=16))
    both = generate(model, seeds, chords=4, temperature=0)
    for b in range(2):
        assert np.array_equal(both[b], generate(model, [seeds[b]], 4, temperature=0)[0])


def test_generate_refuses_bad_arguments(seeds):
    model = sn.zoo.build("chorale_cnn_lstm", seed=1, units=8)
    with pytest.raises(DataError, match="same number of chords"):
        generate(model, [seeds[0], seeds[1][:5]], chords=2)
    with pytest.raises(ConfigError, match="temperature"):
        generate(model, seeds, chords=2, temperature=-1)
    with pytest.raises(ConfigError, match="chords"):
        generate(model, seeds, chords=0)
    with pytest.raises(ConfigError, match="needs return_sequences=True"):
        generate(sn.Sequential([Embedding(47, 3), LSTM(4)], input_size=1), seeds, 2)
    with pytest.raises(ConfigError, match="Conv1D .* cannot be run step by step|causal"):
        generate(sn.Sequential([Embedding(47, 3), Conv1D(4, 2, padding="same")],
                               input_size=1), seeds, 2)
