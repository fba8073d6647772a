"""Conv1D: causality, Keras/TensorFlow output lengths and padding, a NumPy reference."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck
from torch.func import functional_call

import seqnets
from seqnets.errors import ConfigError, ShapeError
from seqnets.layers import Conv1D, Dense, TimeDistributed, deserialize, serialize

HYPOTHESIS = settings(max_examples=25, deadline=None)


def np_conv1d(x, weight, bias, strides, dilation, padding):
    """Reference 1-D convolution over [B, T, C] with a [filters, C, k] kernel (PyTorch layout).

    Padding as Keras/TensorFlow: "causal" pads (k-1)*d on the left; "same" pads so that the
    output has ceil(T/strides) steps, the odd extra step on the right.
    """
    b, t, c = x.shape
    filters, _, k = weight.shape
    span = dilation * (k - 1) + 1
    if padding == "valid":
        left = right = 0
    elif padding == "causal":
        left, right = span - 1, 0
    else:
        out = math.ceil(t / strides)
        total = max((out - 1) * strides + span - t, 0)
        left, right = total // 2, total - total // 2
    xp = np.pad(x, ((0, 0), (left, right), (0, 0)))
    n_out = (xp.shape[1] - span) // strides + 1
    y = np.zeros((b, n_out, filters))
    for j in range(n_out):
        for kk in range(k):
            y[:, j, :] += xp[:, j * strides + kk * dilation, :] @ weight[:, :, kk].T
    return y + (0.0 if bias is None else bias)


def randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


# --------------------------------------------------------------------------------------
# causality
# --------------------------------------------------------------------------------------
@HYPOTHESIS
@given(kernel=st.integers(1, 4), dilation=st.integers(1, 4), strides=st.integers(1, 3),
       length=st.integers(1, 24), channels=st.integers(1, 3), data=st.data())
def test_causal_output_ignores_the_future(kernel, dilation, strides, length, channels, data):
    t = data.draw(st.integers(0, length - 1), label="t")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    torch.manual_seed(seed)
    conv = Conv1D(3, kernel, strides=strides, dilation_rate=dilation, padding="causal",
                  input_size=channels).double()
    randomise(conv, seed)
    x = torch.randn(2, length, channels, dtype=torch.float64)
    changed = x.clone()
    changed[:, t + 1:] = torch.randn_like(changed[:, t + 1:]) * 10
    with torch.no_grad():
        y, y2 = conv(x), conv(changed)
    assert y.shape == (2, math.ceil(length / strides), 3)
    seen = t // strides + 1  # output j reads inputs up to j * strides
    torch.testing.assert_close(y[:, :seen], y2[:, :seen], atol=0, rtol=0)
    # and the output at step j does read input j*strides (the layer is not trivially causal)
    if t % strides == 0:
        bumped = x.clone()
        bumped[:, t] += 1.0
        with torch.no_grad():
            assert not torch.allclose(conv(bumped)[:, t // strides], y[:, t // strides])


def test_causal_receptive_field_of_a_wavenet_stack():
    torch.manual_seed(0)
    layers = [Conv1D(4, 2, padding="causal", dilation_rate=d) for d in (1, 2, 4, 8)]
    model = seqnets.Sequential(layers, input_size=1).double()
    randomise(model, 1)
    x = torch.randn(1, 40, 1, dtype=torch.float64, requires_grad=True)
    model(x)[0, 30].sum().backward()
    depends = (x.grad[0, :, 0] != 0).nonzero().flatten().tolist()
    # receptive field 1 + (1+2+4+8) = 16 steps, ending at step 30: nothing from the future
    assert depends == list(range(15, 31))


# --------------------------------------------------------------------------------------
# lengths
# --------------------------------------------------------------------------------------
@HYPOTHESIS
@given(kernel=st.integers(1, 5), dilation=st.integers(1, 3), strides=st.integers(1, 4),
       length=st.integers(1, 30), padding=st.sampled_from(["same", "causal"]))
def test_same_and_causal_length_is_ceil_t_over_strides(kernel, dilation, strides, length,
                                                       padding):
    conv = Conv1D(2, kernel, strides=strides, dilation_rate=dilation, padding=padding,
                  input_size=1)
    with torch.no_grad():
        y = conv(torch.randn(1, length, 1))
    assert y.shape[1] == -(-length // strides)
    assert conv.compute_output_shape((length, 1)) == (y.shape[1], 2)


@HYPOTHESIS
@given(kernel=st.integers(1, 5), dilation=st.integers(1, 3), strides=st.integers(1, 4),
       extra=st.integers(0, 20))
def test_valid_length_formula(kernel, dilation, strides, extra):
    span = dilation * (kernel - 1) + 1
    length = span + extra
    conv = Conv1D(2, kernel, strides=strides, dilation_rate=dilation, input_size=1)
    with torch.no_grad():
        y = conv(torch.randn(1, length, 1))
    assert y.shape[1] == (length - dilation * (kernel - 1) - 1) // strides + 1
    assert conv.compute_output_shape((length, 1)) == (y.shape[1], 2)
    assert conv.compute_output_shape((None, 1)) == (None, 2)


def test_conv_gru_length_from_the_chapter():
    # Conv1D(20, kernel 4, strides 2, valid) on 50 steps: (50 - 4) // 2 + 1 = 24 = len(Y[:, 3::2])
    conv = Conv1D(20, 4, strides=2, padding="valid", input_size=1)
    assert conv(torch.randn(2, 50, 1)).shape == (2, 24, 20)
    assert len(range(50)[3::2]) == 24


# --------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding, kernel, strides, dilation, length", [
    ("causal", 3, 2, 2, 11), ("causal", 2, 1, 4, 9), ("same", 3, 2, 2, 11),
    ("same", 4, 1, 1, 8), ("same", 2, 3, 1, 10), ("valid", 4, 2, 1, 13),
    ("valid", 3, 1, 3, 12),
])
def test_matches_numpy_reference(padding, kernel, strides, dilation, length):
    torch.manual_seed(2)
    conv = Conv1D(5, kernel, strides=strides, dilation_rate=dilation, padding=padding,
                  input_size=3).double()
    randomise(conv, 3)
    x = torch.randn(2, length, 3, dtype=torch.float64)
    with torch.no_grad():
        y = conv(x)
    ref = np_conv1d(x.numpy(), conv.weight.detach().numpy(), conv.bias.detach().numpy(),
                    strides, dilation, padding)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=0, atol=1e-10)


def test_same_padding_puts_the_extra_step_on_the_right_like_tensorflow():
    # kernel [1, 10] (even size), stride 1: TF pads 0 on the left and 1 on the right, so
    # y[t] = x[t] + 10 x[t+1] and the last step sees only x[T-1].
    conv = Conv1D(1, 2, padding="same", use_bias=False, input_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, 10.0]]]))
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    torch.testing.assert_close(conv(x).flatten(), torch.tensor([21.0, 32.0, 43.0, 4.0]))
    causal = Conv1D(1, 2, padding="causal", use_bias=False, input_size=1)
    causal.load_state_dict(conv.state_dict())
    torch.testing.assert_close(causal(x).flatten(), torch.tensor([10.0, 21.0, 32.0, 43.0]))


def test_activation_is_applied():
    conv = Conv1D(4, 2, padding="causal", activation="relu", input_size=2)
    linear = Conv1D(4, 2, padding="causal", input_size=2)
    linear.load_state_dict(conv.state_dict())
    x = torch.randn(3, 7, 2)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), torch.relu(linear(x)))


def test_kernel_one_conv_equals_time_distributed_dense():
    conv = Conv1D(6, 1, input_size=4)
    td = TimeDistributed(Dense(6, input_size=4))
    with torch.no_grad():
        td.layer.weight.copy_(conv.weight[:, :, 0])
        td.layer.bias.copy_(conv.bias)
    x = torch.randn(2, 9, 4)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), td(x))


# --------------------------------------------------------------------------------------
# gradients, initialiser, configs
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding, kernel, strides, dilation, activation, bias", [
    ("causal", 3, 2, 2, None, True), ("same", 3, 2, 1, None, True),
    ("same", 2, 1, 2, None, True), ("valid", 3, 1, 2, None, True),
    ("causal", 2, 1, 1, "relu", True), ("causal", 2, 1, 8, "relu", False),  # a tap all padding
    ("same", 9, 1, 1, "tanh", True),                                         # F.conv1d path
])
def test_gradcheck_inputs_and_parameters(padding, kernel, strides, dilation, activation, bias):
    conv = Conv1D(3, kernel, strides=strides, dilation_rate=dilation, padding=padding,
                  activation=activation, use_bias=bias, input_size=2).double()
    randomise(conv, 4)
    names = [n for n, _ in conv.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in conv.named_parameters())
    x = torch.randn(2, 6, 2, dtype=torch.float64, requires_grad=True)

    def f(x, *ps):
        return functional_call(conv, dict(zip(names, ps, strict=True)), (x,))

    assert gradcheck(f, (x, *params), eps=1e-6, atol=1e-6)


def test_kernel_initialiser_uses_keras_fans():
    torch.manual_seed(5)
    k, channels, filters = 5, 8, 64
    conv = Conv1D(filters, k, input_size=channels)
    assert conv.weight.shape == (filters, channels, k)  # PyTorch layout
    limit = math.sqrt(6.0 / (k * channels + k * filters))  # Keras kernel [k, in, filters]
    w = conv.weight.detach()
    assert w.abs().max() <= limit
    assert w.abs().max() > 0.97 * limit
    assert abs(w.std().item() - limit / math.sqrt(3)) < 0.05 * limit
    assert torch.count_nonzero(conv.bias) == 0
    # Keras parameter count: k * in * filters + filters
    assert sum(p.numel() for p in conv.parameters()) == k * channels * filters + filters


def test_config_round_trip():
    conv = Conv1D(4, (3,), strides=2, padding="causal", dilation_rate=2, activation="relu",
                  use_bias=False, name="c", input_size=2)
    spec = serialize(conv)
    clone = deserialize(json.loads(json.dumps(spec)))
    assert serialize(clone) == spec
    assert spec["config"]["kernel_size"] == 3
    x = torch.randn(2, 9, 2)
    clone(x)
    clone.load_state_dict(conv.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(clone(x), conv(x), atol=0, rtol=0)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: Conv1D(4, 2, padding="full"), r"padding must be one of .*'causal'.*got 'full'"),
    (lambda: Conv1D(0, 2), "filters must be a positive integer, got 0"),
    (lambda: Conv1D(4, 0), "kernel_size must be a positive integer, got 0"),
    (lambda: Conv1D(4, 2, strides=-1), "strides must be a positive integer"),
    (lambda: Conv1D(4, (2, 2)), "kernel_size must be one integer for Conv1D"),
    (lambda: Conv1D(4, 2, dilation_rate=0), "dilation_rate must be a positive integer"),
    (lambda: Conv1D(4, 2, activation="rellu"), "'rellu' is not a known activation"),
    (lambda: Conv1D(5, 2, groups=2), "filters=5 must be divisible by groups=2"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_valid_padding_with_too_short_input():
    conv = Conv1D(4, 3, dilation_rate=2, input_size=1)  # spans 5 steps
    with pytest.raises(ShapeError, match="padding='valid' needs at least 5 steps, got 4"):
        conv(torch.randn(2, 4, 1))
    with pytest.raises(ShapeError, match="needs at least 5 steps, got 4"):
        conv.compute_output_shape((4, 1))
    with pytest.raises(ShapeError, match=r"conv1d.*needs at least 4 steps, got 3"):
        seqnets.Sequential([Conv1D(2, 4)], input_shape=(3, 1))


def test_wrong_input_rank_and_feature_count():
    conv = Conv1D(4, 2, input_size=3)
    with pytest.raises(ShapeError, match=r"Conv1D expects \[batch, time, features\]"):
        conv(torch.randn(2, 3))
    with pytest.raises(ShapeError, match="built for 3 input features, got 2"):
        conv(torch.randn(2, 5, 2))
    with pytest.raises(ShapeError, match="expects 3-D input"):
        Conv1D(4, 2)(torch.randn(5, 3))


@pytest.mark.parametrize("kernel_size, dilation, strides, padding", [
    (2, 1, 1, "causal"), (2, 8, 1, "causal"), (3, 2, 2, "causal"), (4, 1, 2, "valid"),
    (5, 3, 1, "same"), (3, 1, 3, "same"), (1, 1, 1, "valid"), (2, 30, 1, "causal"),
    (3, 20, 2, "same")])
def test_taps_product_equals_pytorch_conv1d(kernel_size, dilation, strides, padding):
    import torch.nn.functional as F

    torch.manual_seed(0)
    conv = Conv1D(6, kernel_size, strides=strides, padding=padding, dilation_rate=dilation,
                  input_size=4)
    x = torch.randn(3, 23, 4)
    left, right = conv._pads(x.shape[1])
    reference = F.conv1d(F.pad(x.transpose(1, 2), (left, right)), conv.weight, conv.bias,
                         stride=strides, dilation=dilation).transpose(1, 2)
    torch.testing.assert_close(conv(x), reference, atol=1e-5, rtol=1e-5)


def test_taps_run_on_cpu_and_other_devices_take_conv1d():
    """The time-major taps are for CPU; on a GPU cuDNN's conv1d measured faster."""
    from seqnets.layers.conv import fusable
    from seqnets.layers.ops.dispatch import conv_runs_taps

    conv = Conv1D(4, 2, padding="causal", input_size=3)
    assert conv_runs_taps(conv, torch.device("cpu")) and fusable(conv)
    assert not conv_runs_taps(conv, torch.device("meta"))
    conv.to("meta")
    assert not fusable(conv)
