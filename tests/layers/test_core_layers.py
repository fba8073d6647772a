"""Dense, TimeDistributed, Flatten, RepeatVector, normalisation, dropout and MC dropout."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import seqnets
from seqnets.errors import ConfigError, DataError, ShapeError
from seqnets.layers import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    LayerNormalization,
    MCDropout,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
    deserialize,
    mc_dropout,
    serialize,
)


def randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


# --------------------------------------------------------------------------------------
# Dense and friends
# --------------------------------------------------------------------------------------
def test_dense_matches_numpy_on_vectors_and_sequences():
    dense = Dense(3, activation="tanh", input_size=4).double()
    randomise(dense, 1)
    w, b = dense.weight.detach().numpy(), dense.bias.detach().numpy()
    assert w.shape == (3, 4)  # PyTorch layout [units, in]
    x = torch.randn(5, 4, dtype=torch.float64)
    np.testing.assert_allclose(dense(x).detach().numpy(), np.tanh(x.numpy() @ w.T + b),
                               atol=1e-12)
    xs = torch.randn(2, 6, 4, dtype=torch.float64)
    np.testing.assert_allclose(dense(xs).detach().numpy(), np.tanh(xs.numpy() @ w.T + b),
                               atol=1e-12)
    assert dense.compute_output_shape((6, 4)) == (6, 3)


def test_dense_glorot_uniform_with_keras_fans():
    torch.manual_seed(2)
    n_in, units = 300, 200
    dense = Dense(units, input_size=n_in)
    limit = math.sqrt(6.0 / (n_in + units))
    w = dense.weight.detach()
    assert w.abs().max() <= limit
    assert w.abs().max() > 0.99 * limit
    assert abs(w.std().item() - limit / math.sqrt(3)) < 0.02 * limit
    assert abs(w.mean().item()) < 0.02 * limit
    assert torch.count_nonzero(dense.bias) == 0
    assert sum(p.numel() for p in dense.parameters()) == n_in * units + units


def test_dense_without_bias():
    dense = Dense(3, use_bias=False, input_size=2)
    assert dense.bias is None
    assert sum(p.numel() for p in dense.parameters()) == 6


def test_time_distributed_applies_the_layer_at_every_step():
    td = TimeDistributed(Dense(3, activation="relu"))
    x = torch.randn(4, 7, 5)
    y = td(x)
    assert y.shape == (4, 7, 3)
    for t in range(7):
        torch.testing.assert_close(y[:, t], td.layer(x[:, t]))
    assert td.compute_output_shape((7, 5)) == (7, 3)
    assert td.compute_output_shape((None, 5)) == (None, 3)


def test_flatten_repeat_vector_activation():
    x = torch.randn(3, 5, 2)
    assert Flatten()(x).shape == (3, 10)
    torch.testing.assert_close(Flatten()(x)[:, 2:4], x[:, 1])  # row-major, like Keras
    assert Flatten().compute_output_shape((5, 2)) == (10,)
    v = torch.randn(3, 4)
    r = RepeatVector(6)(v)
    assert r.shape == (3, 6, 4)
    for t in range(6):
        torch.testing.assert_close(r[:, t], v)
    assert RepeatVector(6).compute_output_shape((4,)) == (6, 4)
    torch.testing.assert_close(Activation("softsign")(v), v / (1 + v.abs()))
    torch.testing.assert_close(Activation("hard_sigmoid")(v),
                               torch.clamp((v + 3) / 6, 0, 1))


def test_layer_normalization_matches_numpy_with_keras_epsilon():
    ln = LayerNormalization()
    ln(torch.randn(1, 6))
    randomise(ln, 3)
    x = torch.randn(4, 6) * 0.05  # small variance: epsilon=1e-3 matters
    xn = x.double().numpy()
    mu = xn.mean(-1, keepdims=True)
    var = xn.var(-1, keepdims=True)
    ref = (xn - mu) / np.sqrt(var + 1e-3) * ln.weight.detach().numpy() + ln.bias.detach().numpy()
    np.testing.assert_allclose(ln(x).detach().numpy(), ref, atol=1e-5)


# --------------------------------------------------------------------------------------
# BatchNormalization
# --------------------------------------------------------------------------------------
def test_batch_normalization_keras_momentum_and_eval_mode():
    bn = BatchNormalization()
    x = torch.randn(8, 5, 3) * 2 + 1
    bn.train()
    y = bn(x)
    flat = x.reshape(-1, 3)
    # training: batch statistics over batch and time, epsilon 1e-3
    ref = (flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + 1e-3)
    torch.testing.assert_close(y.reshape(-1, 3), ref, atol=1e-5, rtol=1e-5)
    # Keras momentum 0.99: moving = 0.99 * moving + 0.01 * batch
    torch.testing.assert_close(bn.running_mean, 0.01 * flat.mean(0))
    # eval: the moving statistics are used
    bn.eval()
    expected = (x - bn.running_mean) / torch.sqrt(bn.running_var + 1e-3)
    torch.testing.assert_close(bn(x), expected)


def test_batch_normalization_moving_stats_are_non_trainable_params():
    model = seqnets.Sequential([SimpleRNN(20, return_sequences=True), BatchNormalization()],
                               input_size=1)
    trainable, frozen = seqnets.models.count_parameters(model.layers[1])
    assert (trainable, frozen) == (40, 40)  # gamma, beta | moving mean, moving variance


# --------------------------------------------------------------------------------------
# dropout and Monte-Carlo dropout
# --------------------------------------------------------------------------------------
def test_dropout_layer_training_and_eval():
    torch.manual_seed(4)
    drop = Dropout(0.25)
    x = torch.ones(1000, 8)
    drop.train()
    y = drop(x)
    values = y.unique()
    assert len(values) == 2 and values[0] == 0  # inverted dropout: 0 or 1 / (1 - rate)
    torch.testing.assert_close(values[1], torch.tensor(1 / 0.75))
    assert 0.2 < (y == 0).float().mean().item() < 0.3
    drop.eval()
    assert torch.equal(drop(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_mc_dropout_layer_is_active_in_eval_mode():
    torch.manual_seed(5)
    drop = MCDropout(0.5).eval()
    x = torch.ones(50, 20)
    a, b = drop(x), drop(x)
    assert (a == 0).any() and not torch.equal(a, b)


def _mc_model():
    return seqnets.Sequential([
        SimpleRNN(8, return_sequences=True, dropout=0.3, recurrent_dropout=0.3),
        BatchNormalization(),
        SimpleRNN(8, dropout=0.3),
        Dropout(0.3),
        Dense(1),
    ], input_size=2, seed=0)


def test_mc_dropout_context_keeps_dropout_active_and_restores():
    torch.manual_seed(6)
    model = _mc_model().eval()
    x = torch.randn(4, 6, 2)
    with torch.no_grad():
        base = model(x)
        torch.testing.assert_close(model(x), base, atol=0, rtol=0)  # eval: deterministic
        with mc_dropout(model) as m:
            assert m is model
            assert not model.training  # eval mode is kept...
            samples = torch.stack([model(x) for _ in range(5)])
        assert not torch.allclose(samples[0], samples[1])  # ...but dropout is on
        torch.testing.assert_close(model(x), base, atol=0, rtol=0)  # and off again after
    assert all(not getattr(mod, "mc_dropout", False) for mod in model.modules())


def test_mc_dropout_restores_on_error_and_keeps_mcdropout_on():
    model = seqnets.Sequential([Dropout(0.5), MCDropout(0.5), Dense(1)], input_size=3).eval()
    with pytest.raises(RuntimeError, match="boom"):
        with mc_dropout(model):
            assert model.layers[0].mc_dropout
            raise RuntimeError("boom")
    assert model.layers[0].mc_dropout is False
    assert model.layers[1].mc_dropout is True


def test_batch_norm_statistics_frozen_under_mc_dropout():
    torch.manual_seed(7)
    model = _mc_model()
    model.train()
    model(torch.randn(16, 6, 2) + 3)  # move the statistics away from their defaults
    model.eval()
    bn = model.layers[1]
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    with torch.no_grad(), mc_dropout(model):
        for _ in range(3):
            model(torch.randn(16, 6, 2) * 5 - 2)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    # BN itself is deterministic there: it normalises with the frozen statistics
    bn_only = seqnets.Sequential([BatchNormalization()], input_size=3)
    bn_only.layers[0].running_mean.fill_(1.0)
    bn_only.eval()
    x = torch.randn(5, 4, 3)
    with mc_dropout(bn_only):
        torch.testing.assert_close(bn_only(x), (x - 1.0) / math.sqrt(1 + 1e-3))


# --------------------------------------------------------------------------------------
# configs and errors
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, shape", [
    (lambda: Dense(3, activation="relu", use_bias=False, name="d"), (4,)),
    (lambda: Activation("elu"), (4,)),
    (lambda: TimeDistributed(Dense(2)), (5, 4)),
    (lambda: Flatten(), (5, 4)),
    (lambda: RepeatVector(3), (4,)),
    (lambda: Dropout(0.2), (4,)),
    (lambda: MCDropout(0.2), (4,)),
    (lambda: LayerNormalization(epsilon=1e-5, center=False), (5, 4)),
    (lambda: BatchNormalization(momentum=0.9, scale=False), (5, 4)),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_config_round_trip(make, shape):
    torch.manual_seed(8)
    layer = make()
    x = torch.randn(3, *shape)
    layer(x)
    spec = serialize(layer)
    clone = deserialize(json.loads(json.dumps(spec)))
    assert type(clone) is type(layer)
    assert serialize(clone) == spec
    clone(x)
    clone.load_state_dict(layer.state_dict())
    layer.eval()
    clone.eval()
    if isinstance(layer, MCDropout):
        assert clone.mc_dropout
        return
    torch.testing.assert_close(clone(x), layer(x), atol=0, rtol=0)


@pytest.mark.parametrize("make, match", [
    (lambda: Dense(0), "units must be a positive integer, got 0"),
    (lambda: Dense(-1), "units must be a positive integer, got -1"),
    (lambda: Dense(3, activation="reluu"), "'reluu' is not a known activation"),
    (lambda: Dense(3, activation=torch.relu), "is not a known activation"),
    (lambda: Activation("nope"), "'nope' is not a known activation"),
    (lambda: Dropout(1.5), r"rate must be a number in \[0, 1\), got 1.5"),
    (lambda: MCDropout(-0.1), "rate must be a number"),
    (lambda: RepeatVector(0), "n must be a positive integer"),
    (lambda: TimeDistributed("dense"), "TimeDistributed wraps a layer, got str"),
    (lambda: BatchNormalization(momentum=1.5), "momentum must be in"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_shape_errors():
    with pytest.raises(ShapeError, match=r"TimeDistributed expects \[batch, time, ...\]"):
        TimeDistributed(Dense(2, input_size=3))(torch.randn(4, 3))
    with pytest.raises(ShapeError, match="Flatten needs every dimension known"):
        Flatten().compute_output_shape((None, 3))
    with pytest.raises(ShapeError, match="RepeatVector expects 2-D input"):
        RepeatVector(2).compute_output_shape((3, 4))


def test_a_wrong_feature_count_is_a_shape_error_with_the_fix():
    dense = seqnets.Sequential([Dense(3)], input_size=4)
    with pytest.raises(ShapeError, match=r"Dense was built for 4 input features, got 3 \(input "
                                         r"shape \(2, 5, 3\)\)\. Fix: give inputs with 4"):
        dense(torch.randn(2, 5, 3))
    with pytest.raises(ShapeError, match="Dense was built for 2 input features, got 3"):
        TimeDistributed(Dense(2, input_size=2))(torch.randn(2, 5, 3))


def test_an_input_of_another_dtype_than_the_weights_is_refused_with_the_fix():
    model = seqnets.zoo.build("gru", units=3, seed=0)
    x = torch.randn(2, 5, 1, dtype=torch.float64)
    with pytest.raises(DataError, match=r"Sequential 'gru' got float64 input, but its weights "
                                        r"are float32\. Fix: convert the input with x\.float\(\) "
                                        r"\(or the model with model\.double\(\)"):
        model(x)
    with pytest.raises(DataError, match=r"got int64 input.*x\.float\(\)$"):
        model(torch.ones(2, 5, 1, dtype=torch.int64))
    with pytest.raises(DataError, match="Dense got float16 input"):
        Dense(2)(torch.randn(2, 3).half())  # an unbuilt layer builds, then checks
    assert model(x.float()).dtype == torch.float32
    assert model.double()(x).dtype == torch.float64  # a float64 model takes float64
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast mixes dtypes on purpose
        assert Dense(2, input_size=3)(torch.randn(2, 3).bfloat16()).shape == (2, 2)
    # token ids of any dtype go to an Embedding first, and to wrappers around models with one
    notes = seqnets.zoo.build("chorale_cnn_lstm", units=4, seed=0)
    ids = torch.randint(0, 47, (2, 8))
    assert notes(ids).shape == notes(ids.float()).shape == (2, 8, 47)
