"""The chapter's models by name: every one builds and runs; Keras's parameter counts;
WaveNet's causality and receptive field."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqnets as sn
from seqnets.errors import ConfigError
from seqnets.models import count_parameters

X = torch.randn(4, 50, 1, generator=torch.Generator().manual_seed(0))

TASK_SHAPES = {"next_value": (4, 1), "next_10": (4, 10), "seq2seq": (4, 50, 10),
               "direct": (4, 10), "next_note": (4, 50, 47)}
NOTES = torch.randint(0, 47, (4, 50), generator=torch.Generator().manual_seed(0)).float()


@pytest.mark.parametrize("name", sn.zoo.names())
def test_every_model_builds_and_runs(name):
    model = sn.zoo.build(name, seed=0)
    assert isinstance(model, sn.Sequential) and model.name == name
    task = sn.zoo.info(name).task
    assert task in TASK_SHAPES
    expected = (4, 24, 10) if name == "conv_gru" else TASK_SHAPES[task]
    x = NOTES if task == "next_note" else X  # note classes in, logits out
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert tuple(out.shape) == expected
    assert out.dtype == torch.float32 and bool(torch.isfinite(out).all())
    # the shape the model reports matches the shape it produces
    assert (4, *model.output_shapes[-1]) == expected or model.output_shapes[-1][0] is None
    # seeded: the same seed gives the same model
    again = sn.zoo.build(name, seed=0)
    again.eval()
    with torch.no_grad():
        assert torch.equal(again(x), out)


def test_names_follow_the_chapter():
    names = sn.zoo.names()
    assert len(names) == len(set(names))
    chapter = ["linear", "simple_rnn", "deep_rnn", "deep_rnn_dense", "linear_10", "seq2vec_10",
               "seq2seq_rnn", "ln_rnn", "lstm", "gru", "conv_gru", "wavenet"]
    assert set(chapter) <= set(names)
    assert [n for n in names if n in chapter] == chapter  # in the chapter's order


# Keras's formulas (input size m, units n):
#   Dense: m*n + n;  SimpleRNN: n*(n + m + 1);  LSTM: 4*n*(n + m + 1);
#   GRU (reset_after=True, Keras's default): 3*n*(n + m + 2);  Conv1D: k*m*f + f.
PARAMS = {
    "simple_rnn": 3,            # SimpleRNN(1), m=1: 1*(1+1+1)
    "linear": 51,               # Dense(1) on 50 inputs: 50 + 1
    "deep_rnn": 1282,           # 20*(20+1+1)=440 + 20*(20+20+1)=820 + 1*(1+20+1)=22
    "deep_rnn_dense": 1281,     # 440 + 820 + Dense(20->1)=21
    "linear_10": 510,           # 50*10 + 10
    "seq2vec_10": 1470,         # 440 + 820 + Dense(20->10)=210
    "seq2seq_rnn": 1470,        # 440 + 820 + TimeDistributed(Dense(10))=210
    "lstm": 5250,               # 4*20*22=1760 + 4*20*41=3280 + 210
    "gru": 4110,                # 3*20*23=1380 + 3*20*42=2520 + 210
    "mlp": 81418,               # 50*256+256 + 256*256+256 + 256*10+10 (not in the chapter)
    "conv_gru": 5350,           # Conv1D(20,k4,m=1)=4*1*20+20=100 + GRU 3*20*(20+20+2)=2520
                                # + 2520 + 210
    "wavenet": 6010,            # Conv1D(20,k2,m=1)=60 + 7*(2*20*20+20)=5740 + Conv1D(10,k1)=210
    # rows the chapter describes without a number, by the same formulas:
    "ln_rnn": 1550,             # (440 + LN 40) + (820 + 40) + 210 (SimpleRNNCell with bias)
    "seq2seq_rnn_dropout": 1470,
    "lstm_dropout": 5250,
    "gru_dropout": 4110,
}


@pytest.mark.parametrize(("name", "count"), sorted(PARAMS.items()))
def test_parameter_counts_match_keras(name, count):
    model = sn.zoo.build(name)
    trainable, frozen = count_parameters(model)
    assert (trainable, frozen) == (count, 0)
    assert model.count_params() == count
    assert f"Total params: {count:,}" in model.summary(print_fn=None)


def test_chorale_cnn_lstm_has_the_textbooks_parameter_count():
    # Embedding 47*5 + Conv1D k*m*f+f: 352 + 3,120 + 6,208 + 12,384 + BN 4*(32+48+64+96)
    # + LSTM 4*256*(256+96+1) + Dense 256*47+47 (Keras's summary of the textbook's model)
    model = sn.zoo.build("chorale_cnn_lstm")
    assert count_parameters(model) == (396_330, 480)
    assert "Total params: 396,810" in model.summary(print_fn=None)
    beat = sn.zoo.build("chorale_beat_lstm")  # Embedding 47*16, phase 16*8: conv1 k*24*32+32
    assert count_parameters(beat)[0] == 396_330 - 235 - 352 + 47 * 16 + 16 * 8 + 2 * 24 * 32 + 32


def test_bn_rnn_counts_moving_statistics_as_non_trainable():
    model = sn.zoo.build("bn_rnn")
    # 440 + BN(gamma, beta)=40 + 820 + 40 + 210 trainable; moving mean/var 2*2*20
    assert count_parameters(model) == (1550, 80)


def test_build_options():
    assert count_parameters(sn.zoo.build("seq2seq_rnn", units=5))[0] == (
        5 * (5 + 1 + 1) + 5 * (5 + 5 + 1) + 5 * 10 + 10)
    assert count_parameters(sn.zoo.build("linear", window=20))[0] == 21
    out = sn.zoo.build("encoder_decoder", horizon=7)(X)
    assert out.shape == (4, 7)
    model = sn.zoo.build("gru", input_size=3)
    assert model(torch.randn(2, 9, 3)).shape == (2, 9, 10)


def test_an_option_a_model_does_not_take_is_refused():
    assert sn.zoo.option_names("gru") == ("outputs", "units")
    assert sn.zoo.option_names("linear") == ()
    with pytest.raises(ConfigError, match=r"zoo model 'gru' has no option 'unitz'; its options "
                                          r"are: outputs, units\. Fix: check the spelling"):
        sn.zoo.build("gru", unitz=64)
    with pytest.raises(ConfigError, match="'linear' has no option 'units'.*options are: none"):
        sn.zoo.build("linear", units=3)
    # the Forecaster passes outputs / horizon only to the models that take them
    for name, strategy in (("wavenet", "seq2seq"), ("encoder_decoder", "direct")):
        fc = sn.Forecaster(name, window=8, horizon=2, strategy=strategy, epochs=1,
                           mc_samples=2, quiet=True)
        assert len(fc.fit(np.sin(np.arange(40.0))).predict(intervals=())) == 2
    with pytest.raises(ConfigError, match="has no option 'unitz'"):
        sn.Forecaster("gru", window=8, horizon=2, epochs=1, model_options={"unitz": 4},
                      quiet=True).fit(np.sin(np.arange(40.0)))


def test_unknown_name_lists_the_names():
    with pytest.raises(ConfigError, match=r"unknown model 'transformer'.*'linear'.*'wavenet'"):
        sn.zoo.build("transformer")
    with pytest.raises(ConfigError, match="unknown model"):
        sn.zoo.info("rnn")


# ------------------------------------------------------------------------------------------
# WaveNet: causality and receptive field
# ------------------------------------------------------------------------------------------
def _small_wavenet():
    model = sn.zoo.build("wavenet_full", seed=0, blocks=2, layers_per_block=3, channels=4)
    return model, model.layers[0]


def test_wavenet_full_receptive_field_formula():
    _, wavenet = _small_wavenet()
    assert wavenet.dilations == [1, 2, 4, 1, 2, 4]
    # input conv (kernel 2) sees 2 steps; each dilated layer adds (k - 1) * d
    assert wavenet.receptive_field == 2 + 7 + 7 == 16
    paper = sn.layers.WaveNet(blocks=1, layers_per_block=10)
    assert paper.receptive_field == 1 + 1024  # 1,024 per block, plus the input conv's step


def _dependency(model, t, length=40, trials=3):
    """Input steps that output step ``t`` depends on (union over a few random inputs)."""
    seen = torch.zeros(length, dtype=torch.bool)
    g = torch.Generator().manual_seed(1)
    for _ in range(trials):
        x = torch.randn(2, length, 1, generator=g, dtype=torch.float32).requires_grad_(True)
        model(x)[:, t].sum().backward()
        seen |= (x.grad.abs().sum(dim=(0, 2)) > 0)
    return seen.nonzero().flatten().tolist()


@pytest.mark.parametrize("t", [0, 5, 15, 30, 39])
def test_wavenet_full_measured_receptive_field(t):
    model, wavenet = _small_wavenet()
    rf = wavenet.receptive_field
    deps = _dependency(model, t)
    assert deps == list(range(max(0, t - rf + 1), t + 1))


@pytest.mark.parametrize("name", ["wavenet_full", "wavenet"])
def test_wavenet_is_causal(name):
    options = {"blocks": 1, "layers_per_block": 3, "channels": 4} if name == "wavenet_full" else {}
    model = sn.zoo.build(name, seed=0, **options)
    model.eval()
    x = torch.randn(3, 40, 1, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        base = model(x)
        for t in (0, 10, 25, 39):
            changed = x.clone()
            changed[:, t + 1:] = torch.randn(3, 39 - t, 1) * 10
            out = model(changed)
            assert torch.equal(out[:, :t + 1], base[:, :t + 1])
            if t < 39:
                assert not torch.equal(out[:, t + 1:], base[:, t + 1:])


def test_chapter_wavenet_receptive_field_is_31():
    # kernel 2, dilations 1,2,4,8 twice: 1 + 2 * (1 + 2 + 4 + 8) = 31 steps
    model = sn.zoo.build("wavenet", seed=0)
    deps = _dependency(model, 45, length=50, trials=4)
    assert deps == list(range(45 - 30, 46))
