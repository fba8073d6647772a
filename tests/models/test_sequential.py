"""Sequential: Keras parameter counts of the chapter's models, summary, names, configs."""

from __future__ import annotations

import json

import pytest
import torch

import seqnets
from seqnets import Sequential
from seqnets.errors import ConfigError, ShapeError
from seqnets.layers import (
    GRU,
    LSTM,
    RNN,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Dense,
    Dropout,
    Flatten,
    LayerNormalization,
    LNSimpleRNNCell,
    SimpleRNN,
    TimeDistributed,
    deserialize,
    serialize,
)

RS = {"return_sequences": True}


def wavenet():
    layers = [Conv1D(20, 2, padding="causal", activation="relu", dilation_rate=d)
              for d in (1, 2, 4, 8) * 2]
    return Sequential([*layers, Conv1D(10, 1)], input_size=1)


# The chapter's models (spec §2), with their expected Keras parameter counts derived by hand:
#   SimpleRNN(u) on in features: in*u + u*u + u
#   LSTM(u): 4*(in*u + u*u + u);  GRU(u), Keras reset_after=True: 3*(in*u + u*u + 2u)
#   LN cell: SimpleRNN's + 2u (LayerNorm scale and offset)
#   Dense(u) on in: in*u + u;  Conv1D(f, k) on in channels: k*in*f + f
MODELS = {
    # 1*1 + 1*1 + 1 = 3
    "simple_rnn": (lambda: Sequential([SimpleRNN(1)], input_size=1), 3),
    # Flatten(50*1) -> Dense(1): 50 + 1 = 51
    "linear": (lambda: Sequential([Flatten(), Dense(1)], input_shape=(50, 1)), 51),
    # (20 + 400 + 20) + (400 + 400 + 20) + (20 + 1 + 1) = 440 + 820 + 22 = 1282
    "deep_rnn": (lambda: Sequential([SimpleRNN(20, **RS), SimpleRNN(20, **RS), SimpleRNN(1)],
                                    input_size=1), 1282),
    # 440 + 820 + (20 + 1) = 1281
    "deep_rnn_dense": (lambda: Sequential([SimpleRNN(20, **RS), SimpleRNN(20), Dense(1)],
                                          input_size=1), 1281),
    # 50*10 + 10 = 510
    "linear_10": (lambda: Sequential([Flatten(), Dense(10)], input_shape=(50, 1)), 510),
    # 440 + 820 + (200 + 10) = 1470
    "seq2vec_10": (lambda: Sequential([SimpleRNN(20, **RS), SimpleRNN(20), Dense(10)],
                                      input_size=1), 1470),
    # 440 + 820 + 210 = 1470
    "seq2seq_rnn": (lambda: Sequential([SimpleRNN(20, **RS), SimpleRNN(20, **RS),
                                        TimeDistributed(Dense(10))], input_size=1), 1470),
    # 1470 + 2*40 (two LN cells) = 1550
    "ln_rnn": (lambda: Sequential([RNN(LNSimpleRNNCell(20), **RS), RNN(LNSimpleRNNCell(20), **RS),
                                   TimeDistributed(Dense(10))], input_size=1), 1550),
    # 4*(20 + 400 + 20) + 4*(400 + 400 + 20) + 210 = 1760 + 3280 + 210 = 5250
    "lstm": (lambda: Sequential([LSTM(20, **RS), LSTM(20, **RS), TimeDistributed(Dense(10))],
                                input_size=1), 5250),
    # 3*(20 + 400 + 40) + 3*(400 + 400 + 40) + 210 = 1380 + 2520 + 210 = 4110
    "gru": (lambda: Sequential([GRU(20, **RS), GRU(20, **RS), TimeDistributed(Dense(10))],
                               input_size=1), 4110),
    # Conv1D(20, 4) on 1 channel: 4*1*20 + 20 = 100; two GRUs on 20: 2*2520; 210
    # 100 + 5040 + 210 = 5350
    "conv_gru": (lambda: Sequential([Conv1D(20, 4, strides=2, padding="valid"), GRU(20, **RS),
                                     GRU(20, **RS), TimeDistributed(Dense(10))],
                                    input_size=1), 5350),
    # first 2*1*20 + 20 = 60; seven more 2*20*20 + 20 = 820; Conv1D(10, 1): 20*10 + 10 = 210
    # 60 + 7*820 + 210 = 6010
    "wavenet": (wavenet, 6010),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_parameter_counts(name):
    make, expected = MODELS[name]
    model = make()
    assert model.count_params() == expected
    trainable, frozen = seqnets.models.count_parameters(model)
    assert (trainable, frozen) == (expected, 0)


@pytest.mark.parametrize("name, x_shape, y_shape", [
    ("simple_rnn", (3, 50, 1), (3, 1)),
    ("linear", (3, 50, 1), (3, 1)),
    ("deep_rnn_dense", (3, 50, 1), (3, 1)),
    ("seq2vec_10", (3, 50, 1), (3, 10)),
    ("seq2seq_rnn", (3, 50, 1), (3, 50, 10)),
    ("ln_rnn", (3, 50, 1), (3, 50, 10)),
    ("conv_gru", (3, 50, 1), (3, 24, 10)),  # matches Y[:, 3::2]
    ("wavenet", (3, 50, 1), (3, 50, 10)),
])
def test_model_output_shapes(name, x_shape, y_shape):
    model = MODELS[name][0]()
    with torch.no_grad():
        y = model(torch.randn(*x_shape))
    assert y.shape == y_shape
    inferred = model.output_shapes[-1]  # time may be None when only input_size was given
    assert len(inferred) == len(y_shape) - 1
    assert all(d is None or d == e for d, e in zip(inferred, y_shape[1:], strict=True))
    assert inferred[-1] == y_shape[-1]


# --------------------------------------------------------------------------------------
# summary and names
# --------------------------------------------------------------------------------------
def test_summary_deep_rnn():
    model = MODELS["deep_rnn"][0]()
    printed = []
    text = model.summary(print_fn=printed.append)
    assert printed == [text]
    for name in ("simple_rnn (SimpleRNN)", "simple_rnn_1 (SimpleRNN)", "simple_rnn_2 (SimpleRNN)"):
        assert name in text
    assert "(None, None, 20)" in text and "(None, 1)" in text
    assert "Total params: 1,282" in text
    assert "Trainable params: 1,282" in text
    assert "Non-trainable params: 0" in text
    for count in ("440", "820", "22"):
        assert count in text


def test_summary_counts_batch_norm_moving_stats_as_non_trainable():
    model = Sequential([SimpleRNN(20, **RS), BatchNormalization(), SimpleRNN(20), Dense(1)],
                       input_size=1)
    text = model.summary(print_fn=None)
    # 440 + (40 trainable + 40 moving stats) + 820 + 21
    assert "batch_normalization (BatchNormalization)" in text
    assert "Total params: 1,361" in text
    assert "Trainable params: 1,321" in text
    assert "Non-trainable params: 40" in text
    assert model.count_params() == 1361


def test_summary_before_build_is_a_clear_error():
    with pytest.raises(ShapeError, match="not built yet"):
        Sequential([SimpleRNN(3)]).summary(print_fn=None)


def test_keras_style_layer_names():
    model = Sequential([
        SimpleRNN(4, **RS), SimpleRNN(4, **RS), Conv1D(4, 2, padding="causal"),
        LSTM(4, **RS), GRU(4, **RS), RNN(LNSimpleRNNCell(4), **RS),
        Bidirectional(LSTM(2, **RS)), BatchNormalization(), LayerNormalization(), Dropout(0.1),
        TimeDistributed(Dense(3)), Dense(2), Dense(1),
    ], input_size=1)
    assert [layer.name for layer in model.layers] == [
        "simple_rnn", "simple_rnn_1", "conv1d", "lstm", "gru", "rnn", "bidirectional",
        "batch_normalization", "layer_normalization", "dropout", "time_distributed", "dense",
        "dense_1",
    ]
    assert model.name == "sequential"


def test_explicit_names_are_kept_and_not_duplicated():
    model = Sequential([SimpleRNN(2, name="simple_rnn_1", **RS), SimpleRNN(2, **RS),
                        SimpleRNN(2, **RS), Dense(1, name="head")], input_size=1)
    assert [layer.name for layer in model.layers] == [
        "simple_rnn_1", "simple_rnn", "simple_rnn_2", "head"]


# --------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------
ROUND_TRIP = {
    **{name: make for name, (make, _) in MODELS.items()},
    "bidirectional_bn_dropout": lambda: Sequential([
        Bidirectional(GRU(3, **RS), merge_mode="sum"), BatchNormalization(), Dropout(0.2),
        LSTM(3, implementation="loop"), Dense(2, activation="relu")], input_size=2, name="mixed"),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_config_round_trip(name):
    torch.manual_seed(1)
    model = ROUND_TRIP[name]()
    config = model.config()
    text = json.dumps(config)  # plain JSON
    clone = Sequential.from_config(json.loads(text))
    assert clone.config() == config
    assert [type(a) for a in clone.layers] == [type(a) for a in model.layers]
    assert clone.count_params() == model.count_params()
    assert clone.output_shapes == model.output_shapes
    clone.load_state_dict(model.state_dict())
    model.eval()
    clone.eval()
    x = torch.randn(2, 50, model.input_shape[-1])
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), atol=0, rtol=0)
    # the generic entry points agree, and "config" alone is accepted too
    assert serialize(deserialize(config)) == config
    assert Sequential.from_config(config["config"]).config() == config


def test_lazily_built_model_round_trips():
    model = Sequential([SimpleRNN(3, **RS), Dense(1)])
    x = torch.randn(2, 7, 4)
    y = model(x)
    clone = Sequential.from_config(json.loads(json.dumps(model.config())))
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(clone(x), y.detach(), atol=0, rtol=0)


def test_from_config_of_another_class_is_refused():
    with pytest.raises(ConfigError, match="not a Sequential config: 'Dense'"):
        Sequential.from_config(serialize(Dense(1)))


def test_seed_makes_weights_reproducible_and_leaves_global_rng_alone():
    def make(seed):
        return Sequential([GRU(4, **RS), Dense(1)], input_size=2, seed=seed)

    state = torch.random.get_rng_state()
    a, b, c = make(3), make(3), make(4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(p, q), n
    assert not torch.equal(a.layers[0].cell.weight_ih, c.layers[0].cell.weight_ih)


def test_a_seed_gives_the_same_weights_whatever_the_thread_count():
    """The orthogonal initialiser's QR rounds differently on two threads (seen: 3e-7 in a
    128-unit LSTM), which is enough for training to take another path."""
    weights = []
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            model = Sequential([LSTM(128, return_sequences=True), GRU(64), Dense(1)],
                               input_size=3, seed=0)
            weights.append(model.state_dict())
    finally:
        torch.set_num_threads(previous)
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: Sequential([]), "Sequential needs at least one layer"),
    (lambda: Sequential([Dense(1)], input_size=0), "input_size must be a positive integer, got 0"),
    (lambda: Sequential([Dense(1)], input_size=-2), "input_size must be a positive integer"),
    (lambda: Sequential([Dense(1)], input_size=True), "input_size must be a positive integer"),
    (lambda: Sequential([Dense(1)], input_size=1, input_shape=(5, 1)), "not both"),
    (lambda: Sequential([Dense(1), "relu"]), "layer 1 is a str, not an nn.Module"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_flatten_with_unknown_time_length():
    with pytest.raises(ShapeError, match=r"'flatten'.*Flatten needs every dimension known"):
        Sequential([Flatten(), Dense(1)], input_size=1)


def test_wrong_feature_count_after_build():
    model = MODELS["deep_rnn"][0]()
    with pytest.raises(ShapeError, match="built for 1 input features, got 3"):
        model(torch.randn(2, 10, 3))
