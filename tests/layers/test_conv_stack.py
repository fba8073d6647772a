"""Fused runs of Conv1D layers (Sequential → conv_taps._ConvStack) against PyTorch's conv1d."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck

import seqnets
from seqnets.errors import ShapeError
from seqnets.layers import GRU, Conv1D, Dense
from seqnets.layers.conv import fusable, run_fused
from seqnets.layers.ops import native

HYPOTHESIS = settings(max_examples=30, deadline=None)
PADDINGS = ("causal", "same", "valid")


@pytest.fixture(autouse=True, scope="module", params=["native", "python"])
def loops(request):
    """Every test here runs twice: with the native (C++) loops and with the Python ones."""
    if request.param == "native":
        if native.library() is None:
            pytest.skip("the native loops cannot be built on this machine")
        yield request.param
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "library", lambda: None)
        yield request.param


def reference(convs, x):
    """The run through F.conv1d, one layer at a time (PyTorch's own convolution)."""
    for conv in convs:
        left, right = conv._pads(x.shape[1])
        h = F.pad(x.transpose(1, 2), (left, right))
        h = F.conv1d(h, conv.weight, conv.bias, stride=conv.strides,
                     dilation=conv.dilation_rate).transpose(1, 2)
        x = torch.relu(h) if conv.activation == "relu" else h
    return x


def make_run(specs, channels, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    convs = []
    for filters, kernel, dilation, strides, padding, relu, bias in specs:
        convs.append(Conv1D(filters, kernel, strides=strides, dilation_rate=dilation,
                            padding=padding, activation="relu" if relu else None,
                            use_bias=bias, input_size=channels).to(dtype))
        channels = filters
    with torch.no_grad():  # biases away from zero so that a lost bias shows
        for conv in convs:
            if conv.bias is not None:
                conv.bias.uniform_(-0.5, 0.5)
    return convs


layer_spec = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5),
                       st.integers(1, 3), st.sampled_from(PADDINGS), st.booleans(),
                       st.booleans())


@HYPOTHESIS
@given(specs=st.lists(layer_spec, min_size=2, max_size=4), batch=st.integers(1, 3),
       length=st.integers(1, 30), channels=st.integers(1, 3), seed=st.integers(0, 99))
def test_fused_run_equals_conv1d_values_and_gradients(specs, batch, length, channels, seed):
    convs = make_run(specs, channels, seed)
    try:
        expected_shape = seqnets.Sequential(convs, input_shape=(length, channels)) \
            .output_shapes[-1]
    except ShapeError:
        return  # too short for a "valid" layer: refused, tested below
    x = torch.randn(batch, length, channels, dtype=torch.float64, requires_grad=True)
    y = run_fused(convs, x)
    assert y.shape == (batch, *expected_shape)
    x_ref = x.detach().clone().requires_grad_(True)
    y_ref = reference(convs, x_ref)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y)
    params = [p for c in convs for p in c.parameters()]
    grads = torch.autograd.grad(y, [x, *params], g)
    grads_ref = torch.autograd.grad(y_ref, [x_ref, *params], g, allow_unused=True)
    for got, want in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("specs", [
    [(3, 2, 1, 1, "causal", True, True), (2, 2, 2, 1, "causal", True, False),
     (2, 1, 1, 1, "valid", False, True)],
    [(3, 3, 2, 2, "same", False, True), (2, 2, 3, 1, "causal", True, True)],
    [(2, 2, 8, 1, "causal", True, True), (2, 4, 1, 2, "valid", False, True)],  # a tap all padding
])
def test_gradcheck(specs):
    convs = make_run(specs, channels=2, seed=3)
    params = [p for c in convs for p in (c.weight, c.bias) if p is not None]
    x = torch.randn(2, 7, 2, dtype=torch.float64, requires_grad=True)
    weights = [p.detach().clone().requires_grad_(True) for p in params]
    assert gradcheck(lambda x, *ws: _functional_run(convs, x, ws), (x, *weights),
                     eps=1e-6, atol=1e-6)


def _functional_run(convs, x, ws):
    from seqnets.layers.ops.conv import conv_stack

    it = iter(ws)
    weights, biases = [], []
    for c in convs:
        weights.append(next(it))
        biases.append(next(it) if c.bias is not None else None)
    return conv_stack(x, tuple(c.geometry for c in convs),
                      tuple(c.activation == "relu" for c in convs), weights, biases)


def test_sequential_fuses_and_gives_the_layer_by_layer_result():
    torch.manual_seed(0)
    model = seqnets.Sequential([Conv1D(4, 2, padding="causal", activation="relu",
                                       dilation_rate=d) for d in (1, 2, 4)]
                               + [Conv1D(3, 1)], input_size=2)
    assert all(fusable(layer) for layer in model.layers)
    x = torch.randn(5, 11, 2)
    fused = model(x)
    one_by_one = x
    for layer in model.layers:
        one_by_one = layer(one_by_one)
    torch.testing.assert_close(fused, one_by_one, rtol=0, atol=0)


def test_a_hook_turns_fusion_off_for_its_layer():
    torch.manual_seed(0)
    model = seqnets.Sequential([Conv1D(3, 2, padding="causal", activation="relu")
                                for _ in range(3)], input_size=2)
    seen = []
    model.layers[1].register_forward_hook(lambda module, args, out: seen.append(out.shape))
    assert not fusable(model.layers[1])
    model(torch.randn(2, 6, 2))
    assert seen == [(2, 6, 3)]


def test_other_activations_and_subclasses_are_not_fused():
    class MyConv(Conv1D):
        pass

    assert not fusable(Conv1D(3, 2, activation="tanh", input_size=2))
    assert not fusable(MyConv(3, 2, input_size=2))
    assert not fusable(Conv1D(4, 2, groups=2, input_size=2))
    assert not fusable(Conv1D(3, 9, input_size=2))
    assert not fusable(Conv1D(3, 2))  # not built
    assert not fusable(Dense(3))


def test_frozen_layer_and_input_without_gradient():
    convs = make_run([(3, 2, 1, 1, "causal", True, True), (2, 2, 2, 1, "causal", True, True)],
                     channels=2, dtype=torch.float32)
    convs[0].weight.requires_grad_(False)
    x = torch.randn(2, 9, 2)
    run_fused(convs, x).sum().backward()
    assert convs[0].weight.grad is None
    assert convs[0].bias.grad is not None and convs[1].weight.grad is not None
    expected = torch.autograd.grad(reference(convs, x).sum(), [convs[1].weight])[0]
    torch.testing.assert_close(convs[1].weight.grad, expected, rtol=1e-5, atol=1e-6)


def test_output_feeds_a_recurrent_layer_and_reshapes():
    torch.manual_seed(0)
    model = seqnets.Sequential([Conv1D(4, 2, padding="causal", activation="relu"),
                                Conv1D(4, 2, padding="causal", dilation_rate=2), GRU(3)],
                               input_size=1)
    x = torch.randn(6, 12, 1)
    out = model(x)
    assert out.shape == (6, 3)
    convs_out = run_fused(list(model.layers)[:2], x)
    assert convs_out.reshape(6, -1).shape == (6, 48)  # strided memory: reshape, not view


def test_mismatched_sizes_and_short_input_are_refused_clearly():
    a = Conv1D(3, 2, padding="causal", input_size=2)
    b = Conv1D(2, 2, padding="causal", input_size=4)  # expects 4 features, gets 3
    with pytest.raises(ShapeError, match="built for 4 input features, got 3"):
        run_fused([a, b], torch.randn(2, 5, 2))
    c = Conv1D(3, 3, dilation_rate=2, input_size=3)    # "valid", spans 5 steps
    with pytest.raises(ShapeError, match="needs at least 5 steps, got 4"):
        run_fused([Conv1D(3, 2, padding="causal", input_size=2), c], torch.randn(2, 4, 2))
    with pytest.raises(ShapeError, match="built for 2 input features, got 1"):
        run_fused([a, Conv1D(3, 1, input_size=3)], torch.randn(2, 5, 1))


def test_a_global_module_hook_sees_every_convolution():
    model = seqnets.Sequential([Conv1D(3, 2, padding="causal", activation="relu")
                                for _ in range(3)], input_size=2)
    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: seen.append(type(module).__name__))
    try:
        model(torch.randn(2, 6, 2))
    finally:
        handle.remove()
    assert seen.count("Conv1D") == 3
    assert fusable(model.layers[0])  # fused again once the hook is gone
